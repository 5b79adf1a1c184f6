//! The input of model switching and optimizations: a model's token mix over a window, and
//! the exact repricing of that mix at any catalog price.
//!
//! # Pricing an aggregate exactly
//!
//! A mix is priced bucket by bucket with [`llmlab_engine::cost_at_rates`]: uncached input,
//! cache reads, cache writes and output of the non-batch calls at the standard rates, the
//! same of the batch calls with the batch discount. Prices with a long-context tier bill a
//! *whole request* at the higher rates when its prompt exceeds the threshold, which an
//! aggregate cannot tell from its sums; so a mix carries, per threshold, the sums of the
//! calls whose prompt exceeded it ([`ModelMix::long_prompts`]), and those calls are priced
//! at the tier's rates, the rest at the standard rates — exactly what the events cost.
//!
//! When the largest prompt crossed a tier's threshold but the mix has no sums for that
//! threshold, the split is unknown and the cost is bounded instead: a current cost is
//! priced entirely at the standard rates (a lower bound) and a projected cost entirely at
//! the long-context rates (an upper bound), so a saving is never overstated; the
//! evidence says which ([`LongContextBasis`]).
//!
//! One bucket sum above [`llmlab_engine::MAX_TOKENS`] (10¹² tokens in the window) is
//! beyond what the engine prices; such mixes are skipped.

use chrono::NaiveDate;
use llmlab_engine::aggregate::Totals;
use llmlab_engine::{Tokens, Usage, UsageFields, Usd, cost_at_rates};
use llmlab_providers::{Catalog, PerMTok, PriceVersion};
use serde::Serialize;

use crate::error::RecsError;

mod buckets;
pub(crate) use buckets::{Buckets, share_of};

/// Whether `part` (the sums of some of the calls `whole` sums) is within `whole`.
fn within(part: &Totals, whole: &Totals) -> bool {
    part.calls <= whole.calls && part.tokens.fits_in(&whole.tokens)
}

/// The sums of the calls whose prompt (`input_tokens`, cached included) exceeded
/// `threshold_tokens`: `SUM(CASE WHEN input_tokens > threshold THEN … END)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LongPrompts {
    /// The long-context threshold these sums are for (see [`long_context_thresholds`]).
    pub threshold_tokens: u64,
    /// Non-batch calls above the threshold.
    pub standard: Totals,
    /// Batch calls above the threshold.
    pub batch: Totals,
}

/// One model's usage over a window of days, as the store aggregates it:
/// `GROUP BY provider, resolved_model, batch` over the window's events.
///
/// Leave out fine-tuned calls (`ft:` models are priced at fine-tune rates, and a switch
/// suggestion for a fine-tune is not like for like).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ModelMix {
    /// Provider id (`openai`).
    pub provider: String,
    /// The catalog's canonical name the events resolved to (`gpt-4o`).
    pub model: String,
    /// Sums of the calls sent without the batch API; their cost is what they actually
    /// cost (the sum of the stored event costs).
    pub standard: Totals,
    /// Sums of the calls sent through the batch API, likewise.
    pub batch: Totals,
    /// The largest `input_tokens` of one call (`MAX(input_tokens)`): the context an
    /// alternative must hold, and whether any prompt crossed a long-context threshold.
    pub max_input_tokens: u64,
    /// Sums of the calls above each long-context threshold (see the module documentation);
    /// may be empty when no prompt crossed any threshold.
    pub long_prompts: Vec<LongPrompts>,
}

impl ModelMix {
    /// An empty mix of `provider`/`model`.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> ModelMix {
        ModelMix {
            provider: provider.into(),
            model: model.into(),
            ..ModelMix::default()
        }
    }

    /// Keeps sums of the calls above each of `thresholds` (typically
    /// [`long_context_thresholds`]) from now on, for [`ModelMix::record`].
    pub fn tracking_long_prompts(mut self, thresholds: &[u64]) -> ModelMix {
        for &t in thresholds {
            if !self.long_prompts.iter().any(|l| l.threshold_tokens == t) {
                self.long_prompts.push(LongPrompts {
                    threshold_tokens: t,
                    ..LongPrompts::default()
                });
            }
        }
        self
    }

    /// Adds one call and what it cost: what the store's aggregation does in SQL, for
    /// services that hold their events in memory.
    pub fn record(&mut self, usage: &Usage, cost: Usd) {
        let call = Totals {
            cost,
            calls: 1,
            tokens: usage.tokens(),
        };
        let pick = |s: &mut Totals, b: &mut Totals| {
            if usage.batch() {
                b.add(&call)
            } else {
                s.add(&call)
            }
        };
        pick(&mut self.standard, &mut self.batch);
        for l in &mut self.long_prompts {
            if usage.input_tokens() > l.threshold_tokens {
                pick(&mut l.standard, &mut l.batch);
            }
        }
        self.max_input_tokens = self.max_input_tokens.max(usage.input_tokens());
    }

    /// Batch and non-batch sums together.
    pub fn totals(&self) -> Totals {
        let mut t = self.standard;
        t.add(&self.batch);
        t
    }

    /// What the calls actually cost.
    pub fn cost(&self) -> Usd {
        self.totals().cost
    }

    /// Checks the sums are consistent: cache reads and writes within the prompt tokens,
    /// reasoning within the output, long-prompt sums within the totals and one per
    /// threshold. Inconsistent mixes are skipped by the recommendation functions; this
    /// says why.
    pub fn validate(&self) -> Result<(), RecsError> {
        let invalid = |message: String| RecsError::InvalidMix {
            provider: self.provider.clone(),
            model: self.model.clone(),
            message,
        };
        for (name, t) in [("standard", &self.standard), ("batch", &self.batch)] {
            if !t.tokens.is_consistent() {
                return Err(invalid(format!(
                    "{name}: cached_input_tokens + cache_write_tokens must not exceed input_tokens, nor reasoning_tokens output_tokens"
                )));
            }
        }
        for (i, l) in self.long_prompts.iter().enumerate() {
            if self.long_prompts[..i]
                .iter()
                .any(|o| o.threshold_tokens == l.threshold_tokens)
            {
                return Err(invalid(format!(
                    "long_prompts: threshold {} appears twice",
                    l.threshold_tokens
                )));
            }
            if l.standard.calls.saturating_add(l.batch.calls) > 0
                && self.max_input_tokens <= l.threshold_tokens
            {
                return Err(invalid(format!(
                    "long_prompts: calls above {} tokens but max_input_tokens is {}",
                    l.threshold_tokens, self.max_input_tokens
                )));
            }
            if !l.standard.tokens.is_consistent()
                || !l.batch.tokens.is_consistent()
                || !within(&l.standard, &self.standard)
                || !within(&l.batch, &self.batch)
            {
                return Err(invalid(format!(
                    "long_prompts above {}: the sums must be consistent and within the totals",
                    l.threshold_tokens
                )));
            }
        }
        Ok(())
    }
}

/// The distinct long-context thresholds of the catalog's current prices, ascending: the
/// thresholds a store computes [`ModelMix::long_prompts`] for.
pub fn long_context_thresholds(catalog: &Catalog) -> Vec<u64> {
    let mut out: Vec<u64> = catalog
        .providers()
        .iter()
        .flat_map(|p| p.models())
        .filter_map(|m| m.current_price().long_context.map(|t| t.threshold_tokens))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// How calls above a long-context threshold were priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LongContextBasis {
    /// The price has no long-context tier, or no prompt of the window exceeded it.
    NotApplicable,
    /// The calls above the threshold were priced at the tier's rates from their own sums.
    Exact,
    /// The largest prompt exceeded the threshold but the mix has no sums for it: priced
    /// entirely at the standard rates, a lower bound.
    LowerBound,
    /// As above, priced entirely at the long-context rates, an upper bound.
    UpperBound,
}

/// Which bound to take when the long-context split is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// For what the user pays now: never overstate it.
    Lower,
    /// For what an alternative would cost: never understate it.
    Upper,
}

/// A part of a mix priced at one set of rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cell {
    pub tokens: Buckets,
    /// Sent through the batch API: the batch discount applies.
    pub batch: bool,
    /// Prompts above the long-context threshold: the tier's rates apply.
    pub long: bool,
}

/// Splits `mix` into the parts `version` prices differently.
pub(crate) fn cells(
    mix: &ModelMix,
    version: &PriceVersion,
    bound: Bound,
) -> Option<(Vec<Cell>, LongContextBasis)> {
    let standard = Buckets::of(&mix.standard)?;
    let batch = Buckets::of(&mix.batch)?;
    let cell = |tokens, batch, long| Cell {
        tokens,
        batch,
        long,
    };
    let plain = |long| vec![cell(standard, false, long), cell(batch, true, long)];
    let Some(tier) = &version.long_context else {
        return Some((plain(false), LongContextBasis::NotApplicable));
    };
    if mix.max_input_tokens <= tier.threshold_tokens {
        return Some((plain(false), LongContextBasis::NotApplicable));
    }
    match mix
        .long_prompts
        .iter()
        .find(|l| l.threshold_tokens == tier.threshold_tokens)
    {
        Some(l) => {
            let long_standard = Buckets::of(&l.standard)?;
            let long_batch = Buckets::of(&l.batch)?;
            Some((
                vec![
                    cell(standard.checked_sub(long_standard)?, false, false),
                    cell(batch.checked_sub(long_batch)?, true, false),
                    cell(long_standard, false, true),
                    cell(long_batch, true, true),
                ],
                LongContextBasis::Exact,
            ))
        }
        None => Some(match bound {
            Bound::Lower => (plain(false), LongContextBasis::LowerBound),
            Bound::Upper => (plain(true), LongContextBasis::UpperBound),
        }),
    }
}

/// The exact cost of `cells` at `version`; `None` when a bucket is beyond what the engine
/// prices.
pub(crate) fn price_cells(version: &PriceVersion, cells: &[Cell]) -> Option<Usd> {
    let mut total = Usd::ZERO;
    for c in cells.iter().filter(|c| !c.tokens.is_empty()) {
        let rates = match (&version.long_context, c.long) {
            (Some(tier), true) => &tier.rates,
            _ => &version.rates,
        };
        let usage = Usage::parse(
            UsageFields::new(Tokens {
                input: i64::try_from(c.tokens.input()).ok()?,
                output: i64::try_from(c.tokens.output).ok()?,
                cached_input: i64::try_from(c.tokens.cached).ok()?,
                cache_write: i64::try_from(c.tokens.write).ok()?,
                reasoning: 0,
                cache_write_1h: i64::try_from(c.tokens.write_1h).ok()?,
                input_audio: i64::try_from(c.tokens.audio_in).ok()?,
                output_audio: i64::try_from(c.tokens.audio_out).ok()?,
            })
            .with_batch(c.batch),
        )
        .ok()?;
        let cost = cost_at_rates(rates, version.batch_discount_pct, &usage).ok()?;
        total = total.checked_add(cost.total)?;
    }
    Some(total)
}

/// `x` over `window_days` days as a 30-day month.
pub(crate) fn monthly(x: Usd, window_days: u32) -> Option<Usd> {
    x.mul_div(30, i64::from(window_days))
}

pub(crate) fn check_window(window_days: u32) -> Result<(), RecsError> {
    if window_days == 0 {
        Err(RecsError::config("window_days", "must be at least 1"))
    } else {
        Ok(())
    }
}

/// A rate per million tokens as dollars (exact: one micro-dollar is 1,000 nano-dollars).
pub(crate) fn per_mtok(rate: PerMTok) -> Usd {
    Usd::from_nanos(
        i64::try_from(rate.micros())
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000),
    )
}

/// A long-context tier's threshold and main rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LongContextPrice {
    /// Prompt tokens above which the whole request is billed at these rates.
    pub threshold_tokens: u64,
    /// Input rate above the threshold, USD per million tokens.
    pub input_per_mtok_usd: Usd,
    /// Output rate above the threshold, USD per million tokens.
    pub output_per_mtok_usd: Usd,
}

/// The usage a piece of evidence rests on: a mix's window and sums.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixEvidence {
    /// Days of usage the mix covers.
    pub window_days: u32,
    /// Calls of the window (batch and non-batch together).
    pub calls: u64,
    /// Token sums of the window (batch and non-batch together), inline.
    #[serde(flatten)]
    pub tokens: Tokens,
    /// Calls sent through the batch API.
    pub batch_calls: u64,
    /// The largest prompt of the window.
    pub max_input_tokens: u64,
}

impl MixEvidence {
    /// The evidence of `mix` over `window_days` days.
    pub fn of(mix: &ModelMix, window_days: u32) -> MixEvidence {
        let totals = mix.totals();
        MixEvidence {
            window_days,
            calls: totals.calls,
            tokens: totals.tokens,
            batch_calls: mix.batch.calls,
            max_input_tokens: mix.max_input_tokens,
        }
    }
}

/// The catalog price a computation used, USD per million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceEvidence {
    /// Uncached input.
    pub input_per_mtok_usd: Usd,
    /// Output, reasoning included.
    pub output_per_mtok_usd: Usd,
    /// Cache reads, when the model prices them.
    pub cached_input_per_mtok_usd: Option<Usd>,
    /// Cache writes, when the model prices them.
    pub cache_write_per_mtok_usd: Option<Usd>,
    /// Batch API discount, when the provider has one.
    pub batch_discount_pct: Option<u8>,
    /// Long-context tier, when there is one.
    pub long_context: Option<LongContextPrice>,
    /// First day of this price version.
    pub effective_from: NaiveDate,
    /// Where the price is published.
    pub source: String,
}

impl PriceEvidence {
    /// The evidence of one price version.
    pub fn of(version: &PriceVersion) -> PriceEvidence {
        let r = &version.rates;
        PriceEvidence {
            input_per_mtok_usd: per_mtok(r.input),
            output_per_mtok_usd: per_mtok(r.output),
            cached_input_per_mtok_usd: r.cached_input.map(per_mtok),
            cache_write_per_mtok_usd: r.cache_write.map(per_mtok),
            batch_discount_pct: version.batch_discount_pct,
            long_context: version.long_context.map(|t| LongContextPrice {
                threshold_tokens: t.threshold_tokens,
                input_per_mtok_usd: per_mtok(t.rates.input),
                output_per_mtok_usd: per_mtok(t.rates.output),
            }),
            effective_from: version.effective_from,
            source: version.source.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{catalog, gem_mix, totals, usage};

    #[test]
    fn record_builds_what_the_store_aggregates() {
        assert_eq!(long_context_thresholds(&catalog()), [128_000]);
        let mut m = ModelMix::new("test", "gem").tracking_long_prompts(&[128_000, 128_000]);
        assert_eq!(m.long_prompts.len(), 1);
        m.record(&usage(1_000, 200, 50, false), Usd::from_nanos(3));
        m.record(&usage(200_000, 0, 10, false), Usd::from_nanos(5));
        m.record(&usage(130_000, 0, 20, true), Usd::from_nanos(7));
        assert_eq!(
            m.standard,
            Totals {
                cost: Usd::from_nanos(8),
                calls: 2,
                tokens: Tokens {
                    input: 201_000,
                    cached_input: 200,
                    output: 60,
                    ..Tokens::default()
                },
            }
        );
        let cost = |t: Totals, nanos| Totals {
            cost: Usd::from_nanos(nanos),
            ..t
        };
        assert_eq!(m.batch, cost(totals(1, 130_000, 0, 20), 7));
        assert_eq!(
            m.long_prompts[0].standard,
            cost(totals(1, 200_000, 0, 10), 5)
        );
        assert_eq!(m.long_prompts[0].batch, cost(totals(1, 130_000, 0, 20), 7));
        assert_eq!(m.cost(), Usd::from_nanos(15));
        assert_eq!(m.max_input_tokens, 200_000);
        assert_eq!(m.totals().calls, 3);
        assert_eq!(m.validate(), Ok(()));
    }

    #[test]
    fn inconsistent_mixes_are_named() {
        let mut m = gem_mix(true);
        m.max_input_tokens = 100_000;
        assert!(matches!(m.validate(), Err(RecsError::InvalidMix { .. })));
        let mut m = gem_mix(true);
        m.long_prompts.push(m.long_prompts[0]);
        assert!(m.validate().is_err());
        let mut m = gem_mix(false);
        m.standard.tokens.reasoning = m.standard.tokens.output + 1;
        assert!(m.validate().is_err());
    }

    #[test]
    fn prices_per_million_tokens_are_exact_dollars() {
        let v = catalog()
            .model("test", "gem-flash")
            .unwrap()
            .current_price()
            .clone();
        let e = PriceEvidence::of(&v);
        assert_eq!(e.input_per_mtok_usd, Usd::from_nanos(75_000_000));
        assert_eq!(
            e.long_context.map(|t| t.output_per_mtok_usd),
            Some(Usd::from_nanos(600_000_000))
        );
        assert_eq!(share_of(3, 0.5), 2);
        assert_eq!(share_of(3, 1.0), 3);
        assert_eq!(share_of(0, 0.5), 0);
    }
}
