//! A fortnight of calls priced by the engine, added up per day, a budget, and the spike
//! on the last day found by anomaly detection: the library crates end to end.
//!
//! `cargo run -p llmlab-recs --example spike` (CI runs it; it exits non-zero if the
//! spike is not found or a figure is not the one worked out below).

use chrono::{Duration, TimeZone, Utc};
use llmlab_engine::aggregate::by_bucket;
use llmlab_engine::budget::{BudgetSpec, BudgetStatus, Threshold, evaluate};
use llmlab_engine::period::{Granularity, Period, Zone};
use llmlab_engine::providers::Catalog;
use llmlab_engine::{Tokens, Usage, UsageFields, Usd, price};
use llmlab_recs::{AnomalyConfig, DailyCost, Severity, detect_anomalies};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let catalog = Catalog::builtin();
    // Each call: 100,000 × $0.15/M + 5,000 × $0.60/M = $0.018 on gpt-4o-mini.
    let tokens = Tokens {
        input: 100_000,
        output: 5_000,
        ..Tokens::default()
    };
    let usage = Usage::parse(UsageFields::new(tokens))?;
    let first = Utc.with_ymd_and_hms(2025, 3, 3, 0, 0, 0).unwrap();
    let mut records = Vec::new();
    // Two weeks of 500 and 600 calls a day by turns ($9.00, $10.80), then 1,100 ($19.80).
    for day in 0..15 {
        let calls = match day {
            14 => 1_100,
            d if d % 2 == 0 => 500,
            _ => 600,
        };
        for i in 0..calls {
            let at = first + Duration::days(day) + Duration::seconds(i * 60);
            records.push(price(catalog, "openai", "gpt-4o-mini", &usage, at)?.record(&usage, at));
        }
    }
    let days = by_bucket(&records, Granularity::Day, Zone::UTC);
    let series: Vec<DailyCost> = days
        .iter()
        .map(|d| DailyCost::new(d.start.date_naive(), d.totals.cost))
        .collect();
    assert_eq!(series.len(), 15);
    assert_eq!(series[14].cost, Usd::parse("19.8")?);

    // March's budget of $250, evaluated at the end of the fortnight's last day.
    let spent: Usd = series.iter().map(|d| d.cost).sum();
    let spec = BudgetSpec::new(
        Usd::from_dollars(250).expect("$250"),
        Period::Monthly,
        Zone::UTC,
        Threshold::parse(80)?,
    )?;
    let budget = evaluate(
        &spec,
        spent,
        first + Duration::days(15) - Duration::seconds(1),
    );
    println!(
        "March so far: ${spent} of ${} ({})",
        spec.amount,
        budget.status.as_str()
    );
    assert_eq!(spent, Usd::parse("158.4")?); // 7 × $9.00 + 7 × $10.80 + $19.80
    assert_eq!(budget.status, BudgetStatus::Ok);

    let anomalies = detect_anomalies(&series, &[], &AnomalyConfig::default())?;
    for a in &anomalies {
        println!(
            "{}: ${} against ${} expected, z = {}, {:?}",
            a.date, a.cost, a.mean, a.z_score, a.severity
        );
    }
    assert_eq!(anomalies.len(), 1, "the spike alone");
    assert_eq!(anomalies[0].date, series[14].date);
    assert!(matches!(
        anomalies[0].severity,
        Severity::Medium | Severity::High
    ));
    Ok(())
}
