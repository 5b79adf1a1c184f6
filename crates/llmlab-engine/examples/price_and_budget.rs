//! Prices three calls from the built-in catalog, turns each into the record aggregation
//! counts, adds them up by team, and evaluates a monthly budget against the total.
//!
//! `cargo run -p llmlab-engine --example price_and_budget` (CI runs it; it exits non-zero
//! if a figure is not the one worked out by hand below).

use chrono::{TimeZone, Utc};
use llmlab_engine::aggregate::by_tag;
use llmlab_engine::budget::{BudgetSpec, BudgetStatus, Threshold, evaluate};
use llmlab_engine::period::{Period, Zone};
use llmlab_engine::providers::Catalog;
use llmlab_engine::{EngineError, Tokens, Usage, UsageFields, Usd, price};

fn main() -> Result<(), EngineError> {
    let catalog = Catalog::builtin();
    let at = Utc.with_ymd_and_hms(2025, 10, 10, 12, 0, 0).unwrap();
    let calls = [
        // 200 × $2.50/M + 1,000 cached × $1.25/M + 350 × $10/M = $0.00525
        (
            "openai",
            "gpt-4o-2024-08-06",
            Tokens {
                input: 1_200,
                cached_input: 1_000,
                output: 350,
                ..Tokens::default()
            },
            "search",
        ),
        // 15,000 × $3/M + 5,000 written to the cache × $3.75/M + 800 × $15/M = $0.07575
        (
            "anthropic",
            "claude-sonnet-4-5",
            Tokens {
                input: 20_000,
                cache_write: 5_000,
                output: 800,
                ..Tokens::default()
            },
            "support",
        ),
        // 50,000 × $0.15/M + 2,000 × $0.60/M = $0.0087
        (
            "openai",
            "gpt-4o-mini",
            Tokens {
                input: 50_000,
                output: 2_000,
                ..Tokens::default()
            },
            "search",
        ),
    ];
    let mut records = Vec::new();
    for (provider, model, tokens, team) in calls {
        let usage = Usage::parse(UsageFields::new(tokens))?;
        let call = price(catalog, provider, model, &usage, at)?;
        println!(
            "{provider}/{model}: ${} at the {} price",
            call.cost.total,
            call.effective_from()
        );
        let mut record = call.record(&usage, at);
        record.tags.push(("team".into(), team.into()));
        records.push(record);
    }

    let teams = by_tag(&records, "team");
    for team in &teams {
        println!(
            "team {}: ${} in {} calls",
            team.key, team.totals.cost, team.totals.calls
        );
    }
    let total: Usd = records.iter().map(|r| r.cost).sum();
    assert_eq!(total, Usd::parse("0.0897")?, "the three calls");
    assert_eq!(
        teams.iter().map(|t| t.totals.cost).sum::<Usd>(),
        total,
        "the teams add up"
    );

    // A monthly budget of 10 cents, warning at 80 %: 89.7 % used.
    let spec = BudgetSpec::new(
        Usd::from_cents(10).expect("ten cents"),
        Period::Monthly,
        Zone::parse("Europe/Berlin")?,
        Threshold::parse(80)?,
    )?;
    let budget = evaluate(&spec, total, at);
    println!(
        "budget: ${} of ${} ({} %), {}; ${} left",
        budget.spent,
        spec.amount,
        budget.percent_used,
        budget.status.as_str(),
        budget.remaining
    );
    assert_eq!(budget.status, BudgetStatus::Warning);
    assert_eq!(budget.remaining, Usd::parse("0.0103")?);
    Ok(())
}
