//! Optimizations: changes in how a model is used, each priced from the workspace's own mix.
//!
//! Every tip reprices the mix exactly at the model's current price before and after the
//! change, per 30 days (see [`crate::mix`]); a tip is reported only when it saves at least
//! [`OptimizationConfig::min_monthly_savings`]. What cannot be known from the data is an
//! explicit, configurable assumption, and every assumption is in the tip's evidence.
//!
//! | kind | when | the change priced |
//! |---|---|---|
//! | `long_context_surcharge` | the price has a long-context tier and calls crossed it (needs [`ModelMix::long_prompts`] for that threshold) | those calls billed at the standard rates: the surcharge paid. Bringing prompts under the threshold also sends fewer tokens, so this is a floor. |
//! | `prompt_caching` | the model has a cache-read price, prompts average ≥ [`OptimizationConfig::min_avg_prompt_tokens`], less than [`OptimizationConfig::max_cached_share`] of prompt tokens are cache reads | [`OptimizationConfig::assumed_cacheable_share`] of the uncached prompt tokens become cache reads; where the model prices cache writes, one written token per [`OptimizationConfig::reads_per_cache_write`] read tokens moves from the input to the cache-write rate. Storage fees (Gemini's explicit caches) are not modelled. |
//! | `output_heavy` | output tokens exceed [`OptimizationConfig::min_output_ratio`] × input tokens and the output rate is ≥ [`OptimizationConfig::min_output_price_ratio`] × the input rate | output trimmed by [`OptimizationConfig::assumed_output_reduction`] (a `max_tokens` limit, concise or structured answers, a lower reasoning effort) |
//! | `batch_api` | the price has a batch discount and fewer than [`OptimizationConfig::max_batch_share`] of calls use it | [`OptimizationConfig::assumed_batchable_share`] of the non-batch calls (each bucket) sent through the batch API. Which calls can wait is not in the data; the share is an assumption. |
//!
//! # No double counting
//!
//! The tips of one model are priced **in sequence**, in the order of the table: each one's
//! saving is measured on the mix with the tips before it already applied (listed in
//! `evidence.applied_after`). The savings of one model's tips therefore add up exactly to
//! the saving of doing all of them — the batch discount, say, is taken of the cost left
//! after caching, not of the cost before it. Alone, each tip would save as much or more.
//! [`total_potential_monthly_savings`] relies on this.

mod steps;

use std::collections::BTreeMap;

use llmlab_engine::Usd;
use llmlab_engine::aggregate::Totals;
use llmlab_providers::{Catalog, PriceVersion};
use serde::Serialize;

use crate::error::{RecsError, check_share};
use crate::mix::{
    Bound, Cell, LongContextBasis, MixEvidence, ModelMix, PriceEvidence, cells, check_window,
    monthly, price_cells, share_of,
};
use crate::switch::{ModelSwitch, entry_for};

/// The assumptions and thresholds of the tips.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizationConfig {
    /// Smallest monthly saving worth a tip (default $0.01).
    pub min_monthly_savings: Usd,
    /// Caching: smallest average prompt, in tokens (default 1,024 — OpenAI caches
    /// prompts from 1,024 tokens, Anthropic from 1,024 or 2,048).
    pub min_avg_prompt_tokens: u64,
    /// Caching: suggested only while cache reads are below this share of prompt tokens
    /// (default 0.5).
    pub max_cached_share: f64,
    /// Caching: share of the uncached prompt tokens assumed to be served from cache
    /// (default 0.5).
    pub assumed_cacheable_share: f64,
    /// Caching: read tokens per written token, for models that price cache writes
    /// (default 4; 0 leaves writes out).
    pub reads_per_cache_write: u32,
    /// Batch: suggested only while fewer than this share of calls use the batch API
    /// (default 0.10).
    pub max_batch_share: f64,
    /// Batch: share of the non-batch calls assumed able to wait for the batch API
    /// (default 0.25).
    pub assumed_batchable_share: f64,
    /// Output-heavy: output tokens above this multiple of input tokens (default 1.0).
    pub min_output_ratio: f64,
    /// Output-heavy: output rate at least this multiple of the input rate (default 4.0).
    pub min_output_price_ratio: f64,
    /// Output-heavy: share of output tokens assumed trimmable (default 0.2).
    pub assumed_output_reduction: f64,
}

impl Default for OptimizationConfig {
    fn default() -> Self {
        OptimizationConfig {
            min_monthly_savings: Usd::from_nanos(10_000_000),
            min_avg_prompt_tokens: 1_024,
            max_cached_share: 0.5,
            assumed_cacheable_share: 0.5,
            reads_per_cache_write: 4,
            max_batch_share: 0.10,
            assumed_batchable_share: 0.25,
            min_output_ratio: 1.0,
            min_output_price_ratio: 4.0,
            assumed_output_reduction: 0.2,
        }
    }
}

impl OptimizationConfig {
    /// Rejects shares outside `0..=1` and ratios that are not finite non-negative numbers.
    pub fn validate(&self) -> Result<(), RecsError> {
        check_share("max_cached_share", self.max_cached_share)?;
        check_share("assumed_cacheable_share", self.assumed_cacheable_share)?;
        check_share("max_batch_share", self.max_batch_share)?;
        check_share("assumed_batchable_share", self.assumed_batchable_share)?;
        check_share("assumed_output_reduction", self.assumed_output_reduction)?;
        for (field, v) in [
            ("min_output_ratio", self.min_output_ratio),
            ("min_output_price_ratio", self.min_output_price_ratio),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(RecsError::config(field, "must be a non-negative number"));
            }
        }
        Ok(())
    }
}

/// What a tip is about; also the order in which one model's tips are priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OptimizationKind {
    /// Prompts above a long-context threshold pay higher rates for the whole request.
    LongContextSurcharge,
    /// Repeated prompt prefixes could be served from the prompt cache.
    PromptCaching,
    /// Output dominates the bill on a model whose output is expensive.
    OutputHeavy,
    /// Calls that can wait could use the discounted batch API.
    BatchApi,
}

/// One change in how a model is used, with what it would save.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Optimization {
    /// What the tip is about.
    pub kind: OptimizationKind,
    /// Provider of the model.
    pub provider: String,
    /// The model (catalog name).
    pub model: String,
    /// One line.
    pub title: String,
    /// What to do and what it saves, with the numbers.
    pub description: String,
    /// The saving per 30 days at the model's current price.
    #[serde(rename = "estimated_monthly_savings_usd")]
    pub estimated_monthly_savings: Usd,
    /// The data and assumptions the saving is computed from.
    pub evidence: Evidence,
}

/// What a tip was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The mix's window and sums, inline.
    #[serde(flatten)]
    pub mix: MixEvidence,
    /// The mix at the model's current price, per 30 days, before any tip.
    #[serde(rename = "current_monthly_cost_usd")]
    pub current_monthly_cost: Usd,
    /// Per 30 days with the tips in `applied_after` applied, before this one.
    #[serde(rename = "monthly_cost_before_usd")]
    pub monthly_cost_before: Usd,
    /// Per 30 days with this tip applied too.
    #[serde(rename = "monthly_cost_after_usd")]
    pub monthly_cost_after: Usd,
    /// The tips of this model already taken into account (see the module documentation).
    pub applied_after: Vec<OptimizationKind>,
    /// The price used.
    pub price: PriceEvidence,
    /// How long prompts were priced.
    pub long_context: LongContextBasis,
    /// What is specific to the kind.
    #[serde(flatten)]
    pub detail: Detail,
}

/// The kind-specific part of [`Evidence`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// For [`OptimizationKind::LongContextSurcharge`].
    LongContextSurcharge {
        /// The tier's threshold.
        threshold_tokens: u64,
        /// Calls above it.
        long_prompt_calls: u64,
        /// Their prompt tokens.
        long_prompt_input_tokens: u64,
        /// Their output tokens.
        long_prompt_output_tokens: u64,
    },
    /// For [`OptimizationKind::PromptCaching`].
    PromptCaching {
        /// `input_tokens / calls`.
        avg_prompt_tokens: u64,
        /// Cache reads as a percentage of prompt tokens, 2 decimals.
        cached_share_pct: f64,
        /// The assumption ([`OptimizationConfig::assumed_cacheable_share`]).
        assumed_cacheable_share: f64,
        /// The assumption ([`OptimizationConfig::reads_per_cache_write`]), when the model
        /// prices cache writes.
        reads_per_cache_write: Option<u32>,
        /// Prompt tokens of the window moved to the cache-read rate.
        assumed_cache_read_tokens: u64,
        /// Prompt tokens of the window moved to the cache-write rate.
        assumed_cache_write_tokens: u64,
    },
    /// For [`OptimizationKind::OutputHeavy`].
    OutputHeavy {
        /// `output_tokens / input_tokens`, 2 decimals.
        output_input_ratio: f64,
        /// Output rate / input rate, 2 decimals.
        output_price_ratio: f64,
        /// The assumption ([`OptimizationConfig::assumed_output_reduction`]).
        assumed_output_reduction: f64,
        /// Output tokens of the window trimmed.
        assumed_trimmed_output_tokens: u64,
    },
    /// For [`OptimizationKind::BatchApi`].
    BatchApi {
        /// Batch calls as a percentage of calls, 2 decimals.
        batch_share_pct: f64,
        /// The provider's batch discount.
        batch_discount_pct: u8,
        /// The assumption ([`OptimizationConfig::assumed_batchable_share`]).
        assumed_batchable_share: f64,
        /// Calls of the window moved to the batch API.
        assumed_batch_calls: u64,
    },
}

/// Finds the tips for each mix of a `window_days`-day window (see the
/// [module documentation](self)), largest saving first. Mixes of models the catalog does
/// not price, inconsistent mixes and mixes beyond what the engine prices are skipped.
pub fn find_optimizations(
    catalog: &Catalog,
    mixes: &[ModelMix],
    window_days: u32,
    config: &OptimizationConfig,
) -> Result<Vec<Optimization>, RecsError> {
    check_window(window_days)?;
    config.validate()?;
    let mut out = Vec::new();
    for mix in mixes {
        if mix.validate().is_err() {
            continue;
        }
        if let Some(entry) = entry_for(catalog, mix) {
            let ctx = Ctx {
                provider: &entry.provider,
                model: &entry.name,
                version: entry.current_price(),
                mix,
                window_days,
                config,
            };
            out.extend(ctx.tips());
        }
    }
    out.sort_by(|a, b| {
        b.estimated_monthly_savings
            .cmp(&a.estimated_monthly_savings)
            .then(a.kind.cmp(&b.kind))
    });
    Ok(out)
}

/// What the whole report could save per 30 days, counting each model once: for each model,
/// the larger of its best switch and the sum of its tips (a user switches *or* optimizes
/// the model in place; tips applied on top of a switch would be priced at the new model).
/// The tips of one model add up without overlap (see the module documentation).
pub fn total_potential_monthly_savings(
    switches: &[ModelSwitch],
    optimizations: &[Optimization],
) -> Usd {
    let mut per_model: BTreeMap<(&str, &str), (Usd, Usd)> = BTreeMap::new();
    for s in switches {
        let slot = per_model
            .entry((&s.provider, &s.current_model))
            .or_default();
        slot.0 = slot.0.max(s.monthly_savings);
    }
    for o in optimizations {
        let slot = per_model.entry((&o.provider, &o.model)).or_default();
        slot.1 = slot.1.saturating_add(o.estimated_monthly_savings);
    }
    per_model
        .values()
        .map(|(switch, tips)| (*switch).max(*tips).max(Usd::ZERO))
        .sum()
}

struct Ctx<'a> {
    provider: &'a str,
    model: &'a str,
    version: &'a PriceVersion,
    mix: &'a ModelMix,
    window_days: u32,
    config: &'a OptimizationConfig,
}

/// Proposes one tip from the current state of the mix, or `None` when it does not apply.
type Step<'a> = fn(&Ctx<'a>, &[Cell], &Totals) -> Option<Candidate>;

/// A tip before it is priced: the changed mix and what to say about it.
struct Candidate {
    kind: OptimizationKind,
    cells: Vec<Cell>,
    detail: Detail,
}

impl Ctx<'_> {
    fn monthly_cost(&self, cells: &[Cell]) -> Option<Usd> {
        monthly(price_cells(self.version, cells)?, self.window_days)
    }

    fn tips(&self) -> Vec<Optimization> {
        let Some((mut state, basis)) = cells(self.mix, self.version, Bound::Lower) else {
            return Vec::new();
        };
        let Some(current) = self.monthly_cost(&state) else {
            return Vec::new();
        };
        let totals = self.mix.totals();
        let mut cost = current;
        let mut applied: Vec<OptimizationKind> = Vec::new();
        let mut out = Vec::new();
        let steps: [Step<'_>; 4] = [Self::long_context, Self::caching, Self::output, Self::batch];
        for step in steps {
            let Some(candidate) = step(self, &state, &totals) else {
                continue;
            };
            let Some(after) = self.monthly_cost(&candidate.cells) else {
                continue;
            };
            let Some(savings) = cost.checked_sub(after) else {
                continue;
            };
            if savings <= Usd::ZERO || savings < self.config.min_monthly_savings {
                continue;
            }
            out.push(Optimization {
                kind: candidate.kind,
                provider: self.provider.to_string(),
                model: self.model.to_string(),
                title: self.title(candidate.kind),
                description: self.describe(&candidate.detail, savings),
                estimated_monthly_savings: savings,
                evidence: Evidence {
                    mix: MixEvidence::of(self.mix, self.window_days),
                    current_monthly_cost: current,
                    monthly_cost_before: cost,
                    monthly_cost_after: after,
                    applied_after: applied.clone(),
                    price: PriceEvidence::of(self.version),
                    long_context: basis,
                    detail: candidate.detail,
                },
            });
            applied.push(candidate.kind);
            state = candidate.cells;
            cost = after;
        }
        out
    }
}

/// `n / d` rounded half away from zero (`d > 0`).
fn div_round(n: u64, d: u64) -> u64 {
    n / d + u64::from(2 * (n % d) >= d)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `part / whole` in percent, 2 decimals, exactly rounded.
fn ratio_pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    let bp = (u128::from(part) * 10_000 * 2 + u128::from(whole)) / (2 * u128::from(whole));
    bp as f64 / 100.0
}

/// `12.5` → `"12.5"`, `50.0` → `"50"`.
fn pct_text(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Dollars to the cent, for prose: `$1,234.57` is written `$1234.57`.
fn cents(x: Usd) -> String {
    let c = x.mul_div(1, 10_000_000).map_or(0, Usd::nanos);
    format!("${}.{:02}", c / 100, (c % 100).abs())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::switch::{SwitchConfig, suggest_model_switches};
    use crate::testing::{catalog, gem_mix, mix, totals, usd};
    use OptimizationKind::{BatchApi, LongContextSurcharge, OutputHeavy, PromptCaching};

    fn tips(mixes: &[ModelMix]) -> Vec<Optimization> {
        find_optimizations(&catalog(), mixes, 30, &OptimizationConfig::default()).unwrap()
    }

    fn kinds(found: &[Optimization]) -> Vec<(OptimizationKind, Usd)> {
        found
            .iter()
            .map(|o| (o.kind, o.estimated_monthly_savings))
            .collect()
    }

    /// `cachey` ($3 in, $15 out, $0.30 cache read, $3.75 cache write, 50 % batch):
    /// 1,000 calls, 4M prompt tokens none cached, 1M output, over 30 days.
    fn cachey() -> ModelMix {
        mix(
            "cachey",
            totals(1_000, 4_000_000, 0, 1_000_000),
            usd("27"),
            8_000,
        )
    }

    /// `big` ($10 in, $5 cached, $30 out), prompts of at most `max_input` tokens.
    fn big(standard: Totals, cost: &str, max_input: u64) -> ModelMix {
        mix("big", standard, usd(cost), max_input)
    }

    #[test]
    fn caching_then_batch_for_a_model_that_prices_cache_writes() {
        let found = tips(&[cachey()]);
        // Now: 4M × $3 + 1M × $15 = $27.
        // Caching: half the 4M uncached tokens are read from the cache (2M × $0.30 = $0.60),
        // one token written per 4 read (500k × $3.75 = $1.875), 1.5M stay uncached
        // ($4.50): $0.60 + $1.875 + $4.50 + $15 = $21.975 → saves $5.025.
        // Batch, after caching: a quarter of every bucket at half price saves
        // $21.975 × 0.25 × 0.5 = $2.746875.
        assert_eq!(
            kinds(&found),
            [(PromptCaching, usd("5.025")), (BatchApi, usd("2.746875"))]
        );
        let c = &found[0];
        assert_eq!(c.model, "cachey");
        assert_eq!(c.evidence.current_monthly_cost, usd("27"));
        assert_eq!(c.evidence.monthly_cost_after, usd("21.975"));
        assert_eq!(
            c.evidence.detail,
            Detail::PromptCaching {
                avg_prompt_tokens: 4_000,
                cached_share_pct: 0.0,
                assumed_cacheable_share: 0.5,
                reads_per_cache_write: Some(4),
                assumed_cache_read_tokens: 2_000_000,
                assumed_cache_write_tokens: 500_000,
            }
        );
        assert!(c.description.contains("$5.03 a month"), "{}", c.description);
        assert!(
            c.description.contains("$0.3/M instead of $3/M"),
            "{}",
            c.description
        );
        assert!(
            c.description
                .contains("(plus one token written at $3.75/M per 4 read)")
        );
        let b = &found[1];
        assert!(
            b.description
                .starts_with("No cachey calls use the batch API, which costs 50% less.")
        );
        assert_eq!(b.evidence.applied_after, [PromptCaching]);
        assert_eq!(b.evidence.monthly_cost_before, usd("21.975"));
        assert_eq!(b.evidence.monthly_cost_after, usd("19.228125"));
        assert_eq!(
            b.evidence.detail,
            Detail::BatchApi {
                batch_share_pct: 0.0,
                batch_discount_pct: 50,
                assumed_batchable_share: 0.25,
                assumed_batch_calls: 250,
            }
        );
        // The tips add up to doing both: $27 − $19.228125.
        let sum = found[0]
            .estimated_monthly_savings
            .saturating_add(found[1].estimated_monthly_savings);
        assert_eq!(sum, usd("7.771875"));
    }

    #[test]
    fn caching_without_a_write_price() {
        // big ($10 in, $5 cached, $30 out): 2M prompt tokens, 1M output, 1,000 calls.
        // Caching: 1M tokens at $5 instead of $10 → $5. Batch after it: $45 × 0.125 = $5.625.
        let uncached = big(totals(1_000, 2_000_000, 0, 1_000_000), "50", 2_000);
        assert_eq!(
            kinds(&tips(&[uncached])),
            [(BatchApi, usd("5.625")), (PromptCaching, usd("5")),]
        );
        // Half the prompt tokens already cached: no caching tip; batch on the full $45.
        let cached = big(totals(1_000, 2_000_000, 1_000_000, 1_000_000), "45", 2_000);
        assert_eq!(kinds(&tips(&[cached])), [(BatchApi, usd("5.625"))]);
        // Short prompts (average 1,000 tokens): no caching tip.
        let short = big(totals(2_000, 2_000_000, 0, 1_000_000), "50", 2_000);
        assert_eq!(kinds(&tips(&[short])), [(BatchApi, usd("6.25"))]);
    }

    #[test]
    fn output_heavy_then_batch() {
        // reasoner ($1.10 in, $4.40 out: 4×): 100 calls, 1M prompt, 3M output (2M reasoning).
        // Now $1.10 + $13.20 = $14.30. Output −20 %: 600k × $4.40 = $2.64 saved.
        // Batch after it: $11.66 × 0.125 = $1.4575.
        let mut m = mix(
            "reasoner",
            totals(100, 1_000_000, 0, 3_000_000),
            usd("14.3"),
            20_000,
        );
        m.standard.tokens.reasoning = 2_000_000;
        let found = tips(&[m.clone()]);
        assert_eq!(
            kinds(&found),
            [(OutputHeavy, usd("2.64")), (BatchApi, usd("1.4575")),]
        );
        assert_eq!(
            found[0].evidence.detail,
            Detail::OutputHeavy {
                output_input_ratio: 3.0,
                output_price_ratio: 4.0,
                assumed_output_reduction: 0.2,
                assumed_trimmed_output_tokens: 600_000,
            }
        );
        assert_eq!(found[0].evidence.mix.tokens.reasoning, 2_000_000);
        assert_eq!(found[1].evidence.applied_after, [OutputHeavy]);
        // Already 10 % batch: no batch tip.
        m.standard.calls = 90;
        m.batch = totals(10, 0, 0, 0);
        assert_eq!(kinds(&tips(&[m])), [(OutputHeavy, usd("2.64"))]);
        // big's output costs 3× its input: not output-heavy even at 5× output.
        let output_heavy = big(totals(1_000, 200_000, 0, 1_000_000), "32", 2_000);
        assert!(tips(&[output_heavy]).iter().all(|o| o.kind != OutputHeavy));
    }

    #[test]
    fn long_context_surcharge() {
        // gem: the 2 long calls cost $2.50 at the long rates and $1.25 at the standard
        // ones (600k × $1.25 + 100k × $5): the surcharge is $1.25 a month.
        let found = tips(&[gem_mix(true)]);
        assert_eq!(kinds(&found), [(LongContextSurcharge, usd("1.25"))]);
        let e = &found[0].evidence;
        assert_eq!(e.current_monthly_cost, usd("3.5"));
        assert_eq!(e.monthly_cost_after, usd("2.25"));
        assert_eq!(e.long_context, LongContextBasis::Exact);
        assert_eq!(
            e.detail,
            Detail::LongContextSurcharge {
                threshold_tokens: 128_000,
                long_prompt_calls: 2,
                long_prompt_input_tokens: 600_000,
                long_prompt_output_tokens: 100_000,
            }
        );
        // Without the sums for the threshold the surcharge is unknown: no tip.
        assert!(tips(&[gem_mix(false)]).is_empty());
    }

    #[test]
    fn total_counts_each_model_once() {
        let cat = catalog();
        // Largest prompt 10k: narrow (8k window) does not fit.
        let mixes = [
            big(totals(1_000, 2_000_000, 0, 1_000_000), "50", 10_000),
            cachey(),
        ];
        let switches = suggest_model_switches(&cat, &mixes, 30, &SwitchConfig::default()).unwrap();
        let found = tips(&mixes);
        // big: best switch $49.10 (small) beats its tips ($5 + $5.625);
        // cachey: no alternative, its tips $5.025 + $2.746875.
        assert_eq!(
            total_potential_monthly_savings(&switches, &found),
            usd("56.871875")
        );
        assert_eq!(
            total_potential_monthly_savings(&[], &found),
            usd("18.396875")
        );
        assert_eq!(total_potential_monthly_savings(&switches, &[]), usd("49.1"));
        assert_eq!(total_potential_monthly_savings(&[], &[]), Usd::ZERO);
    }

    #[test]
    fn assumptions_are_configurable_and_validated() {
        let cfg = OptimizationConfig {
            assumed_cacheable_share: 1.0,
            reads_per_cache_write: 0,
            assumed_batchable_share: 0.0,
            ..OptimizationConfig::default()
        };
        // All 4M uncached tokens read from the cache, no writes: 4M × ($3 − $0.30) = $10.80.
        let found = find_optimizations(&catalog(), &[cachey()], 30, &cfg).unwrap();
        assert_eq!(kinds(&found), [(PromptCaching, usd("10.8"))]);
        for (bad, field) in [
            (
                OptimizationConfig {
                    assumed_cacheable_share: 1.5,
                    ..cfg
                },
                "assumed_cacheable_share",
            ),
            (
                OptimizationConfig {
                    max_batch_share: f64::NAN,
                    ..cfg
                },
                "max_batch_share",
            ),
            (
                OptimizationConfig {
                    min_output_ratio: -1.0,
                    ..cfg
                },
                "min_output_ratio",
            ),
        ] {
            match find_optimizations(&catalog(), &[], 30, &bad) {
                Err(RecsError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(find_optimizations(&catalog(), &[], 0, &cfg).is_err());
    }

    #[test]
    fn small_helpers() {
        assert_eq!(div_round(5, 4), 1);
        assert_eq!(div_round(6, 4), 2);
        assert_eq!(div_round(2_000_000, 4), 500_000);
        assert_eq!(ratio_pct(1, 3), 33.33);
        assert_eq!(ratio_pct(2, 3), 66.67);
        assert_eq!(ratio_pct(0, 0), 0.0);
        assert_eq!(pct_text(50.0), "50");
        assert_eq!(pct_text(12.5), "12.5");
        assert_eq!(cents(Usd::from_nanos(5_025_000_000)), "$5.03");
        assert_eq!(cents(Usd::from_nanos(49_100_000_000)), "$49.10");
    }
}
