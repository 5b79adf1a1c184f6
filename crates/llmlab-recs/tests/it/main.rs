//! Integration tests: JSON shapes of the API, and the built-in catalog.

#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use llmlab_engine::Usd;
use llmlab_providers::{Catalog, PriceVersion, Relation};
use llmlab_recs::*;
use serde_json::Value;

mod backtest;

#[path = "../../src/testing/usage.rs"]
mod support;
use support::usage;

fn day(i: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 3).unwrap() + chrono::Days::new(i)
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[test]
fn anomaly_json_uses_the_api_names() {
    let mut series: Vec<DailyCost> = (0..14)
        .map(|i| {
            DailyCost::new(
                day(i),
                Usd::from_dollars(if i % 2 == 0 { 10 } else { 12 }).unwrap(),
            )
        })
        .collect();
    series.push(DailyCost::new(day(14), Usd::from_dollars(20).unwrap()));
    let breakdown = vec![
        DailyBreakdown::new(
            day(14),
            Dimension::model("openai", "gpt-4o"),
            Usd::from_dollars(9).unwrap(),
        ),
        DailyBreakdown::new(
            day(14),
            Dimension::tag("team", "growth"),
            Usd::from_dollars(9).unwrap(),
        ),
    ];
    let found = detect_anomalies(&series, &breakdown, &AnomalyConfig::default()).unwrap();
    let v = serde_json::to_value(&found).unwrap();
    let a = &v[0];
    assert_eq!(
        keys(a),
        [
            "baseline_days",
            "cost_usd",
            "date",
            "drivers",
            "excess_usd",
            "mean_usd",
            "method",
            "seasonal_z_score",
            "severity",
            "stddev_usd",
            "z_score"
        ]
    );
    assert_eq!(a["date"], "2025-03-17");
    assert_eq!(a["severity"], "medium");
    assert_eq!(a["method"], "z_score");
    assert_eq!(a["seasonal_z_score"], 6.36);
    let text = serde_json::to_string(&found).unwrap();
    assert!(
        text.contains(r#""cost_usd":"20","mean_usd":"11.230769231","stddev_usd":"1.230769231""#),
        "{text}"
    );
    assert!(text.contains(r#""z_score":4.38"#), "{text}");
    assert_eq!(
        keys(&a["drivers"][0]),
        [
            "baseline_usd",
            "cost_usd",
            "dimension",
            "excess_usd",
            "label",
            "model",
            "provider",
            "share_pct"
        ]
    );
    assert_eq!(a["drivers"][0]["dimension"], "model");
    assert_eq!(a["drivers"][0]["label"], "openai/gpt-4o");
    assert_eq!(a["drivers"][0]["share_pct"], 100.0);
    assert_eq!(
        keys(&a["drivers"][1]),
        [
            "baseline_usd",
            "cost_usd",
            "dimension",
            "excess_usd",
            "key",
            "label",
            "share_pct",
            "value"
        ]
    );
    assert_eq!(a["drivers"][1]["label"], "team:growth");
    let mut robust = AnomalyConfig::default();
    robust.method = Method::Robust;
    let mut odd = series.clone();
    odd[3].cost = Usd::from_dollars(11).unwrap();
    let v = serde_json::to_value(detect_anomalies(&odd, &[], &robust).unwrap()).unwrap();
    assert_eq!(v[0]["method"], "robust");
}

#[test]
fn switch_and_optimization_json_use_the_api_names() {
    let catalog = Catalog::builtin();
    let mut mix = ModelMix::new("openai", "gpt-4-turbo")
        .tracking_long_prompts(&long_context_thresholds(catalog));
    for _ in 0..1_000 {
        mix.record(&usage(2_000, 0, 1_000, false), Usd::parse("0.05").unwrap());
    }
    let switches =
        suggest_model_switches(catalog, &[mix.clone()], 30, &SwitchConfig::default()).unwrap();
    let v = serde_json::to_value(&switches).unwrap();
    for key in [
        "provider",
        "current_model",
        "suggested_provider",
        "suggested_model",
        "current_monthly_cost_usd",
        "projected_monthly_cost_usd",
        "monthly_savings_usd",
        "savings_pct",
        "rationale",
        "relation",
        "evidence",
    ] {
        assert!(v[0].get(key).is_some(), "{key} missing: {}", v[0]);
    }
    let e = &v[0]["evidence"];
    for key in [
        "window_days",
        "calls",
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "actual_cost_usd",
        "current_cost_usd",
        "projected_cost_usd",
        "current_price",
        "suggested_price",
    ] {
        assert!(e.get(key).is_some(), "{key} missing: {e}");
    }
    // Money is `Usd`'s exact decimal string.
    assert_eq!(e["current_price"]["input_per_mtok_usd"], "10");
    assert_eq!(e["current_price"]["output_per_mtok_usd"], "30");

    let tips = find_optimizations(catalog, &[mix], 30, &OptimizationConfig::default()).unwrap();
    assert!(!tips.is_empty());
    let v = serde_json::to_value(&tips).unwrap();
    for t in v.as_array().unwrap() {
        for key in [
            "kind",
            "title",
            "description",
            "estimated_monthly_savings_usd",
            "evidence",
            "provider",
            "model",
        ] {
            assert!(t.get(key).is_some(), "{key} missing: {t}");
        }
        assert!(t["evidence"].is_object());
        assert!(t["evidence"].get("window_days").is_some());
    }
}

#[test]
fn builtin_catalog_switches_from_gpt4() {
    let catalog = Catalog::builtin();
    let mut mix = ModelMix::new("openai", "gpt-4");
    for _ in 0..1_000 {
        mix.record(&usage(2_000, 0, 1_000, false), Usd::parse("0.12").unwrap());
    }
    let switches = suggest_model_switches(catalog, &[mix], 30, &SwitchConfig::default()).unwrap();
    assert!(
        switches.iter().any(|s| s.suggested_model == "gpt-4o"),
        "{switches:?}"
    );
    // gpt-4: 2M × $30 + 1M × $60 = $120 a month.
    assert!(
        switches
            .iter()
            .all(|s| s.current_monthly_cost == Usd::from_dollars(120).unwrap())
    );
    // Same tier first; lower-tier suggestions say so.
    let first_lower = switches
        .iter()
        .position(|s| s.relation == Relation::LowerTier);
    if let Some(i) = first_lower {
        assert!(
            switches[i..]
                .iter()
                .all(|s| s.relation == Relation::LowerTier)
        );
        assert!(
            switches[i..]
                .iter()
                .all(|s| s.rationale.starts_with("lower capability: "))
        );
    }
}

/// One call of `(input, cached, output, batch)` at `version`, worked out here rather than
/// by the engine: the long-context rates once the prompt (cached included) passes the
/// threshold; `r` micro-dollars per million tokens is `r` pico-dollars per token; cache
/// reads at the input rate when there is no cache rate; a batch call less the batch
/// discount (none when the version has none). Exact here: the counts are in thousands.
fn priced(version: &PriceVersion, &(input, cached, output, batch): &(u64, u64, u64, bool)) -> Usd {
    let rates = match &version.long_context {
        Some(tier) if input > tier.threshold_tokens => &tier.rates,
        _ => &version.rates,
    };
    let cache = rates.cached_input.unwrap_or(rates.input);
    let picos = u128::from(input - cached) * u128::from(rates.input.micros())
        + u128::from(cached) * u128::from(cache.micros())
        + u128::from(output) * u128::from(rates.output.micros());
    let discount = if batch {
        version.batch_discount_pct.unwrap_or(0)
    } else {
        0
    };
    let hundredths = picos * u128::from(100 - discount);
    assert_eq!(hundredths % 100_000, 0, "not a whole nano-dollar");
    Usd::from_nanos(i64::try_from(hundredths / 100_000).unwrap())
}

/// Repricing an aggregate equals pricing its events one by one (token counts in thousands,
/// so no event cost rounds): batch and non-batch, cache reads, long prompts.
#[test]
fn aggregate_repricing_equals_per_event_pricing_across_the_builtin_catalog() {
    let catalog = Catalog::builtin();
    let thresholds = long_context_thresholds(catalog);
    assert!(!thresholds.is_empty());
    let calls = [
        (2_000, 1_000, 1_000, false),
        (150_000, 0, 3_000, false),
        (250_000, 100_000, 2_000, false),
        (300_000, 0, 1_000, true),
        (5_000, 0, 8_000, true),
    ];
    let events = calls.map(|(i, c, o, b)| usage(i as i64, c as i64, o as i64, b));
    let config = SwitchConfig {
        min_monthly_savings: Usd::ZERO,
        ..SwitchConfig::default()
    };
    let (mut checked, mut long_context) = (0, 0);
    for provider in catalog.providers() {
        for entry in provider
            .models()
            .iter()
            .filter(|m| !m.alternatives.is_empty())
        {
            let mut mix =
                ModelMix::new(&provider.id, &entry.name).tracking_long_prompts(&thresholds);
            for u in &events {
                mix.record(u, Usd::ZERO);
            }
            let per_event = |version| -> Usd { calls.iter().map(|c| priced(version, c)).sum() };
            let found = suggest_model_switches(catalog, &[mix], 30, &config).unwrap();
            for s in &found {
                assert_eq!(
                    s.evidence.current_cost,
                    per_event(entry.current_price()),
                    "{}",
                    entry.name
                );
                let alt = catalog
                    .model(&s.suggested_provider, &s.suggested_model)
                    .unwrap();
                assert_eq!(
                    s.evidence.projected_cost,
                    per_event(alt.current_price()),
                    "{}",
                    alt.name
                );
                assert_ne!(
                    s.evidence.current_long_context,
                    LongContextBasis::LowerBound
                );
                assert!(s.savings_pct.is_finite());
                checked += 1;
                long_context += usize::from(
                    s.evidence.current_long_context == LongContextBasis::Exact
                        || s.evidence.suggested_long_context == LongContextBasis::Exact,
                );
            }
        }
    }
    assert!(checked > 10, "{checked}");
    assert!(long_context > 0);
}
