//! Usage × rates → an exact [`Cost`] with a breakdown per token bucket.
//!
//! Arithmetic: a rate of `r` micro-dollars per million tokens is `r` pico-dollars per
//! token, so `tokens × r` is exact. A batch discount of `d`% multiplies by `(100 − d)`,
//! giving units of 10⁻¹⁴ USD, and a contract's discount of `b` basis points by
//! `(10,000 − b)`, giving 10⁻¹⁸ USD, still exact in `i128`. Units other than tokens are
//! priced in pico-dollars each (images, characters, searches, sessions) or per minute
//! (seconds of audio): every amount is kept in sixtieths of 10⁻¹⁸ USD so a second at a
//! per-minute price is exact too. The batch discount applies to tokens only (the batch
//! APIs discount tokens); a contract's to every bucket. The event total is rounded once,
//! half away from zero, to a nano-dollar. The breakdown is rounded cumulatively
//! (each part is `round(running sum) − round(previous running sum)`), so the parts always
//! add up to the total exactly and each is within a nano-dollar of its exact value.
//!
//! Buckets without a rate of their own: cache reads and 5-minute cache writes fall back
//! to the input rate (what providers without a caching discount charge). 1-hour cache
//! writes and audio tokens are refused instead (`InvalidUsage` naming the field): their
//! rates are multiples of the text rates, so a fallback would misstate the cost.
//!
//! Service tiers: `flex` and `priority` are priced at the version's tier rates and are
//! refused (`UnsupportedServiceTier`) where the version has none; `batch` applies the
//! batch discount to the standard rates (none when the provider has no batch discount).

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_providers::{Catalog, ModelEntry, PriceVersion, Rates, ServiceTier};
use serde::Serialize;

use crate::aggregate::CostRecord;
use crate::discount::{Discount, WHOLE};
use crate::error::EngineError;
use crate::money::{Usd, round_half_away};
use crate::units::unit_parts;
use crate::usage::Usage;

/// Exact amounts are counted in 1/60 of 10⁻¹⁸ USD: pico-dollars × batch percent ×
/// contract basis points, × 60 so that seconds of audio at a per-minute price are whole.
pub(crate) const PER_MINUTE: i128 = 60;

/// Those units per nano-dollar.
const UNITS_PER_NANO: i128 = 100_000 * WHOLE as i128 * PER_MINUTE;

/// The cost of each token bucket (a later release may add a bucket: start from
/// `default()` to build one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct Breakdown {
    /// Uncached prompt tokens.
    #[serde(rename = "input_usd")]
    pub input: Usd,
    /// Cache-read tokens.
    #[serde(rename = "cached_input_usd")]
    pub cached_input: Usd,
    /// Cache-write tokens (5-minute).
    #[serde(rename = "cache_write_usd")]
    pub cache_write: Usd,
    /// Output tokens billed at the text rate, reasoning included.
    #[serde(rename = "output_usd")]
    pub output: Usd,
    /// 1-hour cache-write tokens.
    #[serde(rename = "cache_write_1h_usd")]
    pub cache_write_1h: Usd,
    /// Uncached audio prompt tokens.
    #[serde(rename = "input_audio_usd")]
    pub input_audio: Usd,
    /// Audio output tokens.
    #[serde(rename = "output_audio_usd")]
    pub output_audio: Usd,
    /// Generated images.
    #[serde(rename = "images_usd")]
    pub images: Usd,
    /// Seconds of audio transcribed, at the per-minute price.
    #[serde(rename = "transcription_usd")]
    pub transcription: Usd,
    /// Characters of speech.
    #[serde(rename = "speech_usd")]
    pub speech: Usd,
    /// Web search calls.
    #[serde(rename = "web_search_usd")]
    pub web_search: Usd,
    /// Code sessions.
    #[serde(rename = "code_sessions_usd")]
    pub code_sessions: Usd,
}

impl Breakdown {
    /// Every bucket's cost, in the order the fields are declared: they add up to the
    /// call's total.
    pub fn parts(&self) -> [Usd; 12] {
        [
            self.input,
            self.cached_input,
            self.cache_write,
            self.output,
            self.cache_write_1h,
            self.input_audio,
            self.output_audio,
            self.images,
            self.transcription,
            self.speech,
            self.web_search,
            self.code_sessions,
        ]
    }
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

/// Refuses `tokens` of `field` when `rate` is missing; the rate otherwise.
pub(crate) fn required(
    field: &'static str,
    tokens: u64,
    rate: Option<u64>,
) -> Result<u64, EngineError> {
    match rate {
        Some(r) => Ok(r),
        None if tokens == 0 => Ok(0),
        None => Err(EngineError::InvalidUsage {
            field,
            message: format!(
                "the price in effect has no rate for {field}; pricing them at another rate \
                 would misstate the cost (send the call's cost as cost_usd instead)"
            ),
        }),
    }
}

/// Prices `usage` at `rates`, with `batch_discount_pct` applied when the usage is a batch call.
///
/// ```
/// use llmlab_engine::providers::{PerMTok, Rates};
/// use llmlab_engine::{cost_at_rates, Tokens, Usage, UsageFields};
///
/// // A negotiated price: $2 in, $0.50 cached, $8 out per million tokens.
/// let mtok = |s: &str| PerMTok::parse(s).unwrap();
/// let rates = Rates::text(mtok("2"), mtok("8")).with_cached_input(mtok("0.5"));
/// let tokens = Tokens { input: 10_000, cached_input: 4_000, output: 1_000, ..Tokens::default() };
/// let usage = Usage::parse(UsageFields::new(tokens).with_batch(true)).unwrap();
/// let cost = cost_at_rates(&rates, Some(50), &usage).unwrap();
/// // (6,000 × $2 + 4,000 × $0.50 + 1,000 × $8) / 1M, halved for the batch API.
/// assert_eq!(cost.total.to_string(), "0.011");
/// assert_eq!(cost.breakdown.cached_input.to_string(), "0.001");
/// ```
///
/// Cache reads and 5-minute writes the rates don't price separately are billed at the
/// input rate (that is what providers without a caching discount charge); 1-hour cache
/// writes and audio tokens without a rate are refused. The service tier is not looked
/// at: `rates` are taken to be the tier's.
pub fn cost_at_rates(
    rates: &Rates,
    batch_discount_pct: Option<u8>,
    usage: &Usage,
) -> Result<Cost, EngineError> {
    discounted_cost(rates, batch_discount_pct, usage, Discount::NONE)
}

/// [`cost_at_rates`] with a contract's `contract` discount taken off every bucket
/// before the one rounding.
fn discounted_cost(
    rates: &Rates,
    batch_discount_pct: Option<u8>,
    usage: &Usage,
    contract: Discount,
) -> Result<Cost, EngineError> {
    let discount = if usage.batch() {
        batch_discount_pct.unwrap_or(0).min(100)
    } else {
        0
    };
    let kept = i128::from(WHOLE - contract.basis_points().min(WHOLE));
    // The batch discount is the batch API's, on tokens; a contract's is on the whole bill.
    let token_factor = i128::from(100 - discount) * kept * PER_MINUTE;
    let part = |tokens: u64, rate: u64| i128::from(tokens) * i128::from(rate) * token_factor;
    let input = rates.input.micros();
    let micros = |r: Option<llmlab_providers::PerMTok>| r.map(|r| r.micros());
    let mut exact = [0_i128; 12];
    exact[..7].copy_from_slice(&[
        part(usage.uncached_input_tokens(), input),
        part(
            usage.cached_input_tokens(),
            rates.cached_input.map_or(input, |r| r.micros()),
        ),
        part(
            usage.cache_write_tokens(),
            rates.cache_write.map_or(input, |r| r.micros()),
        ),
        part(usage.text_output_tokens(), rates.output.micros()),
        part(
            usage.cache_write_1h_tokens(),
            required(
                "cache_write_1h_tokens",
                usage.cache_write_1h_tokens(),
                micros(rates.cache_write_1h),
            )?,
        ),
        part(
            usage.input_audio_tokens(),
            required(
                "input_audio_tokens",
                usage.input_audio_tokens(),
                micros(rates.input_audio),
            )?,
        ),
        part(
            usage.output_audio_tokens(),
            required(
                "output_audio_tokens",
                usage.output_audio_tokens(),
                micros(rates.output_audio),
            )?,
        ),
    ]);
    for (slot, (count, picos, per)) in exact[7..].iter_mut().zip(unit_parts(&rates.units, usage)?) {
        // `per` is how many of the count one price buys: 60 seconds a minute, else 1.
        *slot = i128::from(count) * i128::from(picos) * 100 * kept * PER_MINUTE / per;
    }
    let mut rounded = [Usd::ZERO; 12];
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
            cache_write_1h: rounded[4],
            input_audio: rounded[5],
            output_audio: rounded[6],
            images: rounded[7],
            transcription: rounded[8],
            speech: rounded[9],
            web_search: rounded[10],
            code_sessions: rounded[11],
        },
        long_context: false,
        batch_discount_pct: discount,
    })
}

/// Prices `usage` at a catalog price version: the Flex or Priority rates for those
/// service tiers (refused when the version has none), else the long-context tier when the
/// prompt exceeds its threshold and the fine-tune rates for `ft:` models where published.
///
/// ```
/// use chrono::NaiveDate;
/// use llmlab_engine::providers::Catalog;
/// use llmlab_engine::{cost_at_version, ServiceTier, Tokens, Usage, UsageFields};
///
/// let gpt5 = Catalog::builtin().resolve("openai", "gpt-5").unwrap().entry;
/// let version = gpt5.price_at(NaiveDate::from_ymd_opt(2025, 12, 1).unwrap());
/// let tokens = Tokens { input: 1_000_000, output: 100_000, ..Tokens::default() };
/// let flex = Usage::parse(UsageFields::new(tokens).with_service_tier(ServiceTier::Flex)).unwrap();
/// let standard = Usage::parse(UsageFields::new(tokens)).unwrap();
/// let (flex, standard) = (
///     cost_at_version(version, &flex, false).unwrap().total,
///     cost_at_version(version, &standard, false).unwrap().total,
/// );
/// assert_eq!(standard.to_string(), "2.25"); // $1.25 in, $10 out per million
/// assert!(flex < standard);
/// ```
pub fn cost_at_version(
    version: &PriceVersion,
    usage: &Usage,
    fine_tuned: bool,
) -> Result<Cost, EngineError> {
    cost_under_contract(version, usage, fine_tuned, Discount::NONE)
}

/// [`cost_at_version`] with a negotiated `contract` discount off the version's rates,
/// applied to each bucket before the one rounding (so the total is within half a
/// nano-dollar of the exact discounted amount, and the breakdown still adds up to it).
///
/// ```
/// use chrono::NaiveDate;
/// use llmlab_engine::providers::Catalog;
/// use llmlab_engine::{cost_under_contract, Discount, Tokens, Usage, UsageFields};
///
/// let gpt4o = Catalog::builtin().resolve("openai", "gpt-4o").unwrap().entry;
/// let version = gpt4o.price_at(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap());
/// let tokens = Tokens { input: 1_000_000, output: 100_000, ..Tokens::default() };
/// let usage = Usage::parse(UsageFields::new(tokens)).unwrap();
/// let off = "12.5".parse::<Discount>().unwrap();
/// // $2.50 + $1.00 at list, 87.5 % of it under the contract.
/// let cost = cost_under_contract(version, &usage, false, off).unwrap();
/// assert_eq!(cost.total.to_string(), "3.0625");
/// ```
pub fn cost_under_contract(
    version: &PriceVersion,
    usage: &Usage,
    fine_tuned: bool,
    contract: Discount,
) -> Result<Cost, EngineError> {
    let tier_rates = match usage.service_tier() {
        ServiceTier::Standard | ServiceTier::Batch => None,
        // Flex and Priority have rates of their own; a tier this engine does not know
        // has none, and is refused like a tier the version does not offer.
        tier => {
            let rates = match tier {
                ServiceTier::Flex => version.flex.as_ref(),
                ServiceTier::Priority => version.priority.as_ref(),
                _ => None,
            };
            match rates {
                Some(r) if !fine_tuned => Some(r),
                _ => {
                    let mut offered = version.tiers();
                    if fine_tuned {
                        offered.retain(|t| matches!(t, ServiceTier::Standard | ServiceTier::Batch));
                    }
                    return Err(EngineError::UnsupportedServiceTier { tier, offered });
                }
            }
        }
    };
    let (rates, long_context) = match (tier_rates, &version.fine_tuned, fine_tuned) {
        (Some(tier), _, _) => (tier, false),
        (None, Some(ft), true) => (ft, false),
        _ => version.rates_for(usage.input_tokens()),
    };
    let mut cost = discounted_cost(rates, version.batch_discount_pct, usage, contract)?;
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

    /// The call, made at `at` with `usage` (what it was priced for), as the record
    /// aggregation and budgets count: the catalog's provider and model name, the cost,
    /// every token bucket, and no tags yet (set `tags` to allocate by them).
    ///
    /// ```
    /// use llmlab_engine::{aggregate, price, Tokens, Usage, UsageFields};
    /// use llmlab_providers::Catalog;
    ///
    /// let at = "2025-03-03T10:00:00Z".parse().unwrap();
    /// let tokens = Tokens { input: 1_000_000, cached_input: 400_000, output: 10_000, ..Tokens::default() };
    /// let usage = Usage::parse(UsageFields::new(tokens)).unwrap();
    /// let call = price(Catalog::builtin(), "openai", "gpt-4o-2024-08-06", &usage, at).unwrap();
    /// let mut record = call.record(&usage, at);
    /// record.tags.push(("team".into(), "search".into()));
    /// assert_eq!((record.provider.as_str(), record.model.as_str()), ("openai", "gpt-4o"));
    /// assert_eq!(record.tokens, tokens);
    ///
    /// let by_team = aggregate::by_tag([&record], "team");
    /// assert_eq!(by_team[0].totals.cost, call.cost.total);
    /// assert_eq!(by_team[0].totals.cost.to_string(), "2.1");
    /// ```
    pub fn record(&self, usage: &Usage, at: DateTime<Utc>) -> CostRecord {
        CostRecord {
            ts: at,
            provider: self.model.provider.clone(),
            model: self.model.name.clone(),
            cost: self.cost.total,
            tokens: usage.tokens(),
            tags: Vec::new(),
        }
    }
}

/// Resolves `model` of `provider` in `catalog` and prices `usage` at the price in effect
/// at `at`.
///
/// ```
/// use llmlab_engine::{price, Tokens, Usage, UsageFields};
/// use llmlab_providers::Catalog;
/// let tokens = Tokens { input: 1_000_000, ..Tokens::default() };
/// let usage = Usage::parse(UsageFields::new(tokens)).unwrap();
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
    price_under_contract(catalog, provider, model, usage, at, Discount::NONE)
}

/// [`price`] with a negotiated `contract` discount off the catalog's rates (see
/// [`cost_under_contract`]).
pub fn price_under_contract<'a>(
    catalog: &'a Catalog,
    provider: &str,
    model: &str,
    usage: &Usage,
    at: DateTime<Utc>,
    contract: Discount,
) -> Result<PricedCall<'a>, EngineError> {
    let resolved = catalog.resolve(provider, model)?;
    // An embedding model has no output to bill: output tokens sent for one are a mistake
    // to report, not an amount to price at a rate the model does not have.
    if resolved.entry.tier == llmlab_providers::Tier::Embedding && usage.tokens().output > 0 {
        return Err(EngineError::InvalidUsage {
            field: "output_tokens",
            message: format!(
                "{} is an embedding model: it bills input tokens only, so output tokens \
                 must be 0",
                resolved.entry.name
            ),
        });
    }
    let version = resolved.entry.price_at(at.date_naive());
    let cost = cost_under_contract(version, usage, resolved.fine_tuned, contract)?;
    Ok(PricedCall {
        model: resolved.entry,
        version,
        fine_tuned: resolved.fine_tuned,
        cost,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{Tokens, UsageFields};
    use llmlab_providers::PerMTok;

    #[test]
    fn a_contract_discount_is_rounded_once_with_the_rest() {
        let rates = Rates::text(
            PerMTok::parse("2.5").unwrap(),
            PerMTok::parse("10").unwrap(),
        );
        let one = Tokens {
            input: 1,
            ..Tokens::default()
        };
        let usage = Usage::parse(UsageFields::new(one)).unwrap();
        let tiny = Rates::text(
            PerMTok::parse("0.0025").unwrap(),
            PerMTok::parse("0").unwrap(),
        );
        let off = Discount::parse("12.5").unwrap();
        // 1 token at $0.0025/MTok is 2.5 nano-dollars; 87.5 % of it is 2.1875, rounded
        // once to 2 (rounding the list cost first, to 3, would give 2.625 → 3).
        let cost = discounted_cost(&tiny, None, &usage, off).unwrap();
        assert_eq!(cost.total.nanos(), 2);
        assert_eq!(cost_at_rates(&tiny, None, &usage).unwrap().total.nanos(), 3);
        // Batch and contract multiply: 1M input + 1M output in a 50 % batch, 10 % off.
        let big = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            ..Tokens::default()
        };
        let batch = Usage::parse(UsageFields::new(big).with_batch(true)).unwrap();
        let off = Discount::parse("10").unwrap();
        let cost = discounted_cost(&rates, Some(50), &batch, off).unwrap();
        assert_eq!(cost.total.to_string(), "5.625"); // 12.50 × 0.5 × 0.9
        assert_eq!(cost.breakdown.input.to_string(), "1.125");
    }
}
