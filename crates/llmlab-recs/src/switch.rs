//! Model switching: the workspace's own token mix repriced at each catalog alternative.
//!
//! For every [`ModelMix`] and every alternative the catalog lists for its model:
//!
//! - **Projected cost**: the mix's sums (uncached input, cache reads, cache writes, output;
//!   batch and non-batch calls apart; long prompts apart, see [`crate::mix`]) priced
//!   exactly at the alternative's *current* price.
//! - **Current cost**: the same sums priced at the current model's *current* price, not
//!   what the events cost when they were stored. Savings compare like with like, so a
//!   price change since the events (or a negotiated custom price) does not show up as a
//!   saving; what the user actually paid is in the evidence (`actual_cost_usd`) next to it.
//! - Both are normalised to a 30-day month: `x × 30 / window_days`, rounded half away from
//!   zero to a nano-dollar.
//! - **Fit**: an alternative whose context window is known must hold the largest prompt of
//!   the window; one whose window is unknown is suggested only while the largest prompt
//!   is at most [`SwitchConfig::unknown_context_limit`] tokens. Deprecated alternatives are
//!   not suggested.
//! - **Only savings**: alternatives that save at least [`SwitchConfig::min_monthly_savings`]
//!   (and more than zero). Same-tier newer models come first; lower-tier ones are marked
//!   by `relation` and a rationale starting with "lower capability: ".

use llmlab_engine::Usd;
use llmlab_providers::{Catalog, ModelEntry, Relation};
use serde::Serialize;

use crate::error::RecsError;
use crate::mix::{
    Bound, LongContextBasis, MixEvidence, ModelMix, PriceEvidence, cells, check_window, monthly,
    price_cells,
};

/// What a switch must satisfy to be suggested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchConfig {
    /// Largest prompt (tokens) for which an alternative with an unknown context window is
    /// still suggested (default 128,000).
    pub unknown_context_limit: u64,
    /// Suggestions kept per current model (default 3).
    pub max_per_model: usize,
    /// Smallest monthly saving worth suggesting (default $0.01; never below a nano-dollar).
    pub min_monthly_savings: Usd,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            unknown_context_limit: 128_000,
            max_per_model: 3,
            min_monthly_savings: Usd::from_nanos(10_000_000),
        }
    }
}

/// A cheaper model for the work the user already does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSwitch {
    /// Provider of the current model.
    pub provider: String,
    /// The model in use.
    pub current_model: String,
    /// Provider of the suggested model.
    pub suggested_provider: String,
    /// The suggested model.
    pub suggested_model: String,
    /// The mix at the current model's current price, per 30 days.
    #[serde(rename = "current_monthly_cost_usd")]
    pub current_monthly_cost: Usd,
    /// The mix at the suggested model's current price, per 30 days.
    #[serde(rename = "projected_monthly_cost_usd")]
    pub projected_monthly_cost: Usd,
    /// `current − projected`.
    #[serde(rename = "monthly_savings_usd")]
    pub monthly_savings: Usd,
    /// Savings as a percentage of the current cost, 2 decimals.
    pub savings_pct: f64,
    /// Same tier and newer, or lower tier.
    pub relation: Relation,
    /// Why the switch makes sense (from the catalog); lower-tier switches start with
    /// "lower capability: ".
    pub rationale: String,
    /// The numbers the projection rests on.
    pub evidence: SwitchEvidence,
}

/// What a switch suggestion was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwitchEvidence {
    /// The mix's window and sums, inline.
    #[serde(flatten)]
    pub mix: MixEvidence,
    /// What the window's calls actually cost.
    #[serde(rename = "actual_cost_usd")]
    pub actual_cost: Usd,
    /// `actual_cost` per 30 days.
    #[serde(rename = "actual_monthly_cost_usd")]
    pub actual_monthly_cost: Usd,
    /// The window's calls at the current model's current price.
    #[serde(rename = "current_cost_usd")]
    pub current_cost: Usd,
    /// The window's calls at the suggested model's current price.
    #[serde(rename = "projected_cost_usd")]
    pub projected_cost: Usd,
    /// The current model's current price.
    pub current_price: PriceEvidence,
    /// The suggested model's current price.
    pub suggested_price: PriceEvidence,
    /// The suggested model's context window, where known.
    pub suggested_context_window: Option<u64>,
    /// How long prompts were priced at the current price.
    pub current_long_context: LongContextBasis,
    /// How long prompts were priced at the suggested price.
    pub suggested_long_context: LongContextBasis,
}

/// The catalog entry a mix's model names: its canonical name, else what it resolves to
/// (fine-tunes excluded).
pub(crate) fn entry_for<'a>(catalog: &'a Catalog, mix: &ModelMix) -> Option<&'a ModelEntry> {
    catalog.model(&mix.provider, &mix.model).or_else(|| {
        catalog
            .resolve(&mix.provider, &mix.model)
            .ok()
            .filter(|r| !r.fine_tuned)
            .map(|r| r.entry)
    })
}

fn relation_rank(r: Relation) -> u8 {
    match r {
        Relation::SameTierNewer => 0,
        Relation::LowerTier => 1,
    }
}

/// Same tier first, then the larger saving, then by name (for a stable order).
fn suggestion_order(a: &ModelSwitch, b: &ModelSwitch) -> std::cmp::Ordering {
    relation_rank(a.relation)
        .cmp(&relation_rank(b.relation))
        .then(b.monthly_savings.cmp(&a.monthly_savings))
        .then_with(|| a.provider.cmp(&b.provider))
        .then_with(|| a.current_model.cmp(&b.current_model))
        .then_with(|| a.suggested_provider.cmp(&b.suggested_provider))
        .then_with(|| a.suggested_model.cmp(&b.suggested_model))
}

fn fits(context_window: Option<u64>, max_input: u64, unknown_limit: u64) -> bool {
    match context_window {
        Some(w) => w >= max_input,
        None => max_input <= unknown_limit,
    }
}

/// Suggests cheaper alternatives for each mix of a `window_days`-day window (see the
/// [module documentation](self)). Mixes of models the catalog does not price, empty or
/// inconsistent mixes ([`ModelMix::validate`]) and mixes beyond what the engine prices are
/// skipped. Same-tier suggestions first, then by monthly savings, largest first.
pub fn suggest_model_switches(
    catalog: &Catalog,
    mixes: &[ModelMix],
    window_days: u32,
    config: &SwitchConfig,
) -> Result<Vec<ModelSwitch>, RecsError> {
    check_window(window_days)?;
    let mut out = Vec::new();
    for mix in mixes {
        if mix.validate().is_err() {
            continue;
        }
        let Some(entry) = entry_for(catalog, mix) else {
            continue;
        };
        let mut found = suggestions_for(catalog, entry, mix, window_days, config);
        found.sort_by(suggestion_order);
        found.truncate(config.max_per_model);
        out.extend(found);
    }
    out.sort_by(suggestion_order);
    Ok(out)
}

fn suggestions_for(
    catalog: &Catalog,
    entry: &ModelEntry,
    mix: &ModelMix,
    window_days: u32,
    config: &SwitchConfig,
) -> Vec<ModelSwitch> {
    let totals = mix.totals();
    let version = entry.current_price();
    let Some((current_cells, current_basis)) = cells(mix, version, Bound::Lower) else {
        return Vec::new();
    };
    let (Some(current_cost), Some(actual_monthly)) = (
        price_cells(version, &current_cells),
        monthly(totals.cost, window_days),
    ) else {
        return Vec::new();
    };
    let Some(current_monthly) = monthly(current_cost, window_days) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for alt in &entry.alternatives {
        let Some(alt_entry) = catalog.model(&alt.provider, &alt.model) else {
            continue;
        };
        if alt_entry.deprecated
            || (alt_entry.provider == entry.provider && alt_entry.name == entry.name)
            || !fits(
                alt_entry.context_window,
                mix.max_input_tokens,
                config.unknown_context_limit,
            )
        {
            continue;
        }
        let alt_version = alt_entry.current_price();
        let Some((alt_cells, alt_basis)) = cells(mix, alt_version, Bound::Upper) else {
            continue;
        };
        let Some(projected) = price_cells(alt_version, &alt_cells) else {
            continue;
        };
        let Some(projected_monthly) = monthly(projected, window_days) else {
            continue;
        };
        let Some(savings) = current_monthly.checked_sub(projected_monthly) else {
            continue;
        };
        if savings <= Usd::ZERO || savings < config.min_monthly_savings {
            continue;
        }
        let rationale = match alt.relation {
            Relation::SameTierNewer => alt.rationale.clone(),
            Relation::LowerTier => format!("lower capability: {}", alt.rationale),
        };
        out.push(ModelSwitch {
            provider: entry.provider.clone(),
            current_model: entry.name.clone(),
            suggested_provider: alt_entry.provider.clone(),
            suggested_model: alt_entry.name.clone(),
            current_monthly_cost: current_monthly,
            projected_monthly_cost: projected_monthly,
            monthly_savings: savings,
            savings_pct: llmlab_engine::aggregate::share_pct(savings, current_monthly),
            relation: alt.relation,
            rationale,
            evidence: SwitchEvidence {
                mix: MixEvidence::of(mix, window_days),
                actual_cost: totals.cost,
                actual_monthly_cost: actual_monthly,
                current_cost,
                projected_cost: projected,
                current_price: PriceEvidence::of(version),
                suggested_price: PriceEvidence::of(alt_version),
                suggested_context_window: alt_entry.context_window,
                current_long_context: current_basis,
                suggested_long_context: alt_basis,
            },
        });
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::mix::LongPrompts;
    use crate::testing::{catalog, gem_mix, mix, totals, usd};

    /// `big` ($10/$30 now, $20/$60 before 2025): 1,000 calls, 2M prompt and 1M output
    /// tokens, paid $100 at the old price.
    fn big(max_input: u64) -> ModelMix {
        mix(
            "big",
            totals(1_000, 2_000_000, 0, 1_000_000),
            usd("100"),
            max_input,
        )
    }

    /// The suggestions for `mixes` seen over `days`, with the default configuration.
    fn switches(mixes: &[ModelMix], days: u32) -> Vec<ModelSwitch> {
        suggest_model_switches(&catalog(), mixes, days, &SwitchConfig::default()).unwrap()
    }

    fn names(found: &[ModelSwitch]) -> Vec<&str> {
        found.iter().map(|s| s.suggested_model.as_str()).collect()
    }

    fn to_big_new(found: &[ModelSwitch]) -> &ModelSwitch {
        found
            .iter()
            .find(|s| s.suggested_model == "big-new")
            .unwrap()
    }

    #[test]
    fn savings_match_the_hand_computed_projection() {
        let found = switches(&[big(100_000)], 30);
        // Now:      2M × $10 + 1M × $30   = $50   (not the $100 paid at the old price)
        // big-new:  2M × $2.50 + 1M × $10 = $15   → saves $35, 70.00 %
        // mystery:  2M × $1 + 1M × $4     = $6    → saves $44, 88.00 % (unknown window, 100k ≤ 128k)
        // small:    2M × $0.15 + 1M × $0.60 = $0.90 → saves $49.10, 98.20 % (lower tier)
        // narrow (8k window), pricier ($90), retired (deprecated): not suggested.
        assert_eq!(names(&found), ["mystery", "big-new", "small"]);
        let b = &found[1];
        assert_eq!(b.provider, "test");
        assert_eq!(b.current_model, "big");
        assert_eq!(b.suggested_provider, "test");
        assert_eq!(b.current_monthly_cost, usd("50"));
        assert_eq!(b.projected_monthly_cost, usd("15"));
        assert_eq!(b.monthly_savings, usd("35"));
        assert_eq!(b.savings_pct, 70.0);
        assert_eq!(b.relation, Relation::SameTierNewer);
        assert_eq!(b.rationale, "big-new is the newer flagship");
        assert_eq!(b.evidence.actual_cost, usd("100"));
        assert_eq!(b.evidence.actual_monthly_cost, usd("100"));
        assert_eq!(b.evidence.current_cost, usd("50"));
        assert_eq!(b.evidence.projected_cost, usd("15"));
        assert_eq!(b.evidence.mix.tokens.input, 2_000_000);
        assert_eq!(b.evidence.current_price.input_per_mtok_usd, usd("10"));
        assert_eq!(b.evidence.suggested_price.output_per_mtok_usd, usd("10"));
        assert_eq!(b.evidence.suggested_context_window, Some(1_000_000));
        assert_eq!(
            b.evidence.current_long_context,
            LongContextBasis::NotApplicable
        );
        assert_eq!(
            (found[0].monthly_savings, found[0].savings_pct),
            (usd("44"), 88.0)
        );
        let s = &found[2];
        assert_eq!((s.monthly_savings, s.savings_pct), (usd("49.1"), 98.2));
        assert_eq!(s.relation, Relation::LowerTier);
        assert_eq!(s.rationale, "lower capability: small handles short answers");
    }

    #[test]
    fn suggestions_must_fit_the_largest_prompt() {
        // 150k > small's 128k window and > the 128k allowed for an unknown window.
        assert_eq!(names(&switches(&[big(150_000)], 30)), ["big-new"]);
        let lenient = SwitchConfig {
            unknown_context_limit: 200_000,
            ..SwitchConfig::default()
        };
        let found = suggest_model_switches(&catalog(), &[big(150_000)], 30, &lenient).unwrap();
        assert_eq!(names(&found), ["mystery", "big-new"]);
    }

    #[test]
    fn windows_are_normalised_to_30_days() {
        let found = switches(&[big(1_000)], 15);
        let b = to_big_new(&found);
        // $50 in 15 days → $100 a month; $15 → $30.
        assert_eq!(b.current_monthly_cost, usd("100"));
        assert_eq!(b.projected_monthly_cost, usd("30"));
        assert_eq!(b.monthly_savings, usd("70"));
        assert_eq!(b.savings_pct, 70.0);
        let found = switches(&[big(1_000)], 7);
        let b = to_big_new(&found);
        // $50 × 30 / 7 = 214.2857142857… → 214.285714286 (half away from zero).
        assert_eq!(b.current_monthly_cost, Usd::from_nanos(214_285_714_286));
        assert_eq!(b.projected_monthly_cost, Usd::from_nanos(64_285_714_286));
        assert_eq!(b.monthly_savings, usd("150"));
    }

    #[test]
    fn batch_and_cached_tokens_are_priced_in_their_own_buckets() {
        let mut m = big(1_000);
        m.standard = totals(500, 1_000_000, 0, 500_000);
        m.batch = totals(500, 1_000_000, 0, 500_000);
        // Now: $10 + $15 non-batch, ($10 + $15) × 50 % batch = $37.50.
        // big-new: $2.50 + $5 + ($2.50 + $5) × 50 % = $11.25 → $26.25, 70 %.
        let found = switches(&[m], 30);
        let b = to_big_new(&found);
        assert_eq!(b.current_monthly_cost, usd("37.5"));
        assert_eq!(b.projected_monthly_cost, usd("11.25"));
        assert_eq!(b.evidence.mix.batch_calls, 500);
        // 1M of the 2M prompt tokens from the cache: now $10 + $5 + $30 = $45;
        // big-new $2.50 + $1.25 + $10 = $13.75 → $31.25, 69.44 %.
        let cached = mix(
            "big",
            totals(1_000, 2_000_000, 1_000_000, 1_000_000),
            usd("45"),
            1_000,
        );
        let found = switches(&[cached], 30);
        let b = to_big_new(&found);
        assert_eq!(b.current_monthly_cost, usd("45"));
        assert_eq!(b.projected_monthly_cost, usd("13.75"));
        assert_eq!(b.savings_pct, 69.44);
    }

    #[test]
    fn long_prompts_are_priced_at_the_long_context_rates() {
        let found = switches(&[gem_mix(true)], 30);
        // gem: 400k × $1.25 + 100k × $5 below, 600k × $2.50 + 100k × $10 above = $3.50.
        // gem-flash: 400k × $0.075 + 100k × $0.30 + 600k × $0.15 + 100k × $0.60 = $0.21.
        assert_eq!(found.len(), 1);
        let g = &found[0];
        assert_eq!(g.current_monthly_cost, usd("3.5"));
        assert_eq!(g.projected_monthly_cost, usd("0.21"));
        assert_eq!(g.monthly_savings, usd("3.29"));
        assert_eq!(g.savings_pct, 94.0);
        assert_eq!(g.evidence.current_long_context, LongContextBasis::Exact);
        assert_eq!(g.evidence.suggested_long_context, LongContextBasis::Exact);
        // Without the long-prompt sums the split is unknown: now at least
        // 1M × $1.25 + 200k × $5 = $2.25, gem-flash at most 1M × $0.15 + 200k × $0.60 =
        // $0.27, so at least $1.98 saved.
        let found = switches(&[gem_mix(false)], 30);
        let g = &found[0];
        assert_eq!(g.current_monthly_cost, usd("2.25"));
        assert_eq!(g.projected_monthly_cost, usd("0.27"));
        assert_eq!(g.monthly_savings, usd("1.98"));
        assert_eq!(
            g.evidence.current_long_context,
            LongContextBasis::LowerBound
        );
        assert_eq!(
            g.evidence.suggested_long_context,
            LongContextBasis::UpperBound
        );
    }

    #[test]
    fn what_cannot_be_priced_is_skipped() {
        let cat = catalog();
        let cfg = SwitchConfig::default();
        let unknown = mix("nope", totals(1, 10, 0, 10), Usd::ZERO, 10);
        let mut inconsistent = big(1_000);
        inconsistent.standard.tokens.cached_input = 3_000_000;
        assert!(inconsistent.validate().is_err());
        let mut long_above_totals = gem_mix(true);
        long_above_totals.long_prompts[0] = LongPrompts {
            threshold_tokens: 128_000,
            standard: totals(20, 600_000, 0, 100_000),
            ..long_above_totals.long_prompts[0]
        };
        assert!(long_above_totals.validate().is_err());
        let huge = mix("big", totals(1, 2_000_000_000_000, 0, 0), Usd::ZERO, 1_000);
        let empty = mix("big", totals(0, 0, 0, 0), Usd::ZERO, 0);
        let found = suggest_model_switches(
            &cat,
            &[unknown, inconsistent, long_above_totals, huge, empty],
            30,
            &cfg,
        )
        .unwrap();
        assert!(found.is_empty(), "{found:?}");
        assert!(matches!(
            suggest_model_switches(&cat, &[], 0, &cfg),
            Err(RecsError::InvalidConfig {
                field: "window_days",
                ..
            })
        ));
    }

    #[test]
    fn tiny_savings_are_not_suggested_and_names_resolve() {
        let cat = catalog();
        // 100 prompt tokens ($0.001): the best saving, small's $0.000985, is below $0.01.
        let tiny = mix("BIG", totals(1, 100, 0, 0), Usd::ZERO, 100);
        assert!(switches(std::slice::from_ref(&tiny), 30).is_empty());
        let cfg = SwitchConfig {
            min_monthly_savings: Usd::ZERO,
            max_per_model: 1,
            ..SwitchConfig::default()
        };
        let found = suggest_model_switches(&cat, &[tiny], 30, &cfg).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].current_model, "big");
        // Same tier first: mystery and narrow both cost 100 × $1/M = $0.0001 and save
        // $0.0009; the tie goes by name.
        assert_eq!(found[0].suggested_model, "mystery");
        assert_eq!(found[0].monthly_savings, Usd::from_nanos(900_000));
    }
}
