//! Usage × rates → an exact [`Cost`] with a breakdown per token bucket.
//!
//! Arithmetic: a rate of `r` micro-dollars per million tokens is `r` pico-dollars per
//! token, so `tokens × r` is exact. A batch discount of `d`% multiplies by `(100 − d)`,
//! giving units of 10⁻¹⁴ USD, still exact in `i128`. The event total is rounded once,
//! half away from zero, to a nano-dollar. The breakdown is rounded cumulatively
//! (each part is `round(running sum) − round(previous running sum)`), so the parts always
//! add up to the total exactly and each is within a nano-dollar of its exact value.

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_providers::{Catalog, ModelEntry, PriceVersion, Rates};
use serde::Serialize;

use crate::error::EngineError;
use crate::money::{Usd, round_half_away};
use crate::usage::Usage;

/// 10⁻¹⁴ USD units per nano-dollar.
const UNITS_PER_NANO: i128 = 100_000;

/// The cost of each token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Breakdown {
    /// Uncached prompt tokens.
    #[serde(rename = "input_usd")]
    pub input: Usd,
    /// Cache-read tokens.
    #[serde(rename = "cached_input_usd")]
    pub cached_input: Usd,
    /// Cache-write tokens.
    #[serde(rename = "cache_write_usd")]
    pub cache_write: Usd,
    /// Output tokens, reasoning included.
    #[serde(rename = "output_usd")]
    pub output: Usd,
}

/// The priced cost of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// What the call cost; equals the sum of `breakdown`.
    pub total: Usd,
    /// Per-bucket costs.
    pub breakdown: Breakdown,
    /// The whole request was billed at the long-context tier.
    pub long_context: bool,
    /// The batch discount applied, in percent (0 when none).
    pub batch_discount_pct: u8,
}

/// Prices `usage` at `rates`, with `batch_discount_pct` applied when the usage is a batch call.
///
/// Cache reads and writes the rates don't price separately are billed at the input rate
/// (that is what providers without a caching discount charge).
pub fn cost_at_rates(
    rates: &Rates,
    batch_discount_pct: Option<u8>,
    usage: &Usage,
) -> Result<Cost, EngineError> {
    let discount = if usage.batch() {
        batch_discount_pct.unwrap_or(0).min(100)
    } else {
        0
    };
    let factor = i128::from(100 - discount);
    let part = |tokens: u64, rate: u64| i128::from(tokens) * i128::from(rate) * factor;
    let input = rates.input.micros();
    let exact = [
        part(usage.uncached_input_tokens(), input),
        part(
            usage.cached_input_tokens(),
            rates.cached_input.map_or(input, |r| r.micros()),
        ),
        part(
            usage.cache_write_tokens(),
            rates.cache_write.map_or(input, |r| r.micros()),
        ),
        part(usage.output_tokens(), rates.output.micros()),
    ];
    let mut rounded = [Usd::ZERO; 4];
    let mut running: i128 = 0;
    let mut previous: i128 = 0;
    for (slot, value) in rounded.iter_mut().zip(exact) {
        running += value;
        let now = round_half_away(running, UNITS_PER_NANO);
        let nanos = i64::try_from(now - previous).map_err(|_| EngineError::CostOverflow)?;
        *slot = Usd::from_nanos(nanos);
        previous = now;
    }
    let total = i64::try_from(previous).map_err(|_| EngineError::CostOverflow)?;
    Ok(Cost {
        total: Usd::from_nanos(total),
        breakdown: Breakdown {
            input: rounded[0],
            cached_input: rounded[1],
            cache_write: rounded[2],
            output: rounded[3],
        },
        long_context: false,
        batch_discount_pct: discount,
    })
}

/// Prices `usage` at a catalog price version: picks the long-context tier when the
/// prompt exceeds its threshold and the fine-tune rates for `ft:` models where published.
pub fn cost_at_version(
    version: &PriceVersion,
    usage: &Usage,
    fine_tuned: bool,
) -> Result<Cost, EngineError> {
    let (rates, long_context) = match (&version.fine_tuned, fine_tuned) {
        (Some(ft), true) => (ft, false),
        _ => version.rates_for(usage.input_tokens()),
    };
    let mut cost = cost_at_rates(rates, version.batch_discount_pct, usage)?;
    cost.long_context = long_context;
    Ok(cost)
}

/// A call priced from the catalog.
#[derive(Debug, Clone, Copy)]
pub struct PricedCall<'a> {
    /// The catalog entry the model resolved to.
    pub model: &'a ModelEntry,
    /// The price version in effect at the call's timestamp.
    pub version: &'a PriceVersion,
    /// The model was a fine-tune of `model`.
    pub fine_tuned: bool,
    /// The cost.
    pub cost: Cost,
}

impl PricedCall<'_> {
    /// The first day of the price version used — recorded with the event.
    pub fn effective_from(&self) -> NaiveDate {
        self.version.effective_from
    }
}

/// Resolves `model` of `provider` in `catalog` and prices `usage` at the price in effect
/// at `at`.
///
/// ```
/// use llmlab_engine::{price, Usage, UsageFields};
/// use llmlab_providers::Catalog;
/// let usage = Usage::parse(UsageFields { input_tokens: 1_000_000, output_tokens: 0, ..Default::default() }).unwrap();
/// let at = "2025-01-01T00:00:00Z".parse().unwrap();
/// let call = price(Catalog::builtin(), "openai", "gpt-4o-mini", &usage, at).unwrap();
/// assert_eq!(call.cost.total.to_string(), "0.15");
/// ```
pub fn price<'a>(
    catalog: &'a Catalog,
    provider: &str,
    model: &str,
    usage: &Usage,
    at: DateTime<Utc>,
) -> Result<PricedCall<'a>, EngineError> {
    let resolved = catalog.resolve(provider, model)?;
    let version = resolved.entry.price_at(at.date_naive());
    let cost = cost_at_version(version, usage, resolved.fine_tuned)?;
    Ok(PricedCall {
        model: resolved.entry,
        version,
        fine_tuned: resolved.fine_tuned,
        cost,
    })
}
