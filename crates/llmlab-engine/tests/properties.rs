//! Properties of money, time buckets, aggregation and budgets, checked on generated inputs.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use llmlab_engine::aggregate::{
    CostRecord, Slot, Totals, by_bucket, by_provider, by_tag, fill_gaps, fold_slots, summarize,
    top_models,
};
use llmlab_engine::budget::{BudgetSpec, BudgetStatus, Threshold, crossed_levels, evaluate};
use llmlab_engine::period::{
    Granularity, Period, Zone, bucket_start, next_bucket_start, period_window, slot_secs_for,
};
use llmlab_engine::{Tokens, Usd};
use proptest::prelude::*;

/// Zones with whole-hour, half-hour and 45-minute offsets, DST in both hemispheres, a
/// 30-minute DST shift and midnight switches.
const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Sao_Paulo",
    "Pacific/Chatham",
    "Asia/Beirut",
];

const GRANULARITIES: [Granularity; 4] = [
    Granularity::Hour,
    Granularity::Day,
    Granularity::Week,
    Granularity::Month,
];

/// 2000-01-01 to 2040-01-01, where LLM calls happen.
const RECENT: std::ops::Range<i64> = 946_684_800..2_208_988_800;

fn zone() -> impl Strategy<Value = Zone> {
    prop::sample::select(ZONES).prop_map(|name| Zone::parse(name).unwrap())
}

fn granularity() -> impl Strategy<Value = Granularity> {
    prop::sample::select(&GRANULARITIES[..])
}

fn instant(secs: std::ops::Range<i64>) -> impl Strategy<Value = DateTime<Utc>> {
    secs.prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn record() -> impl Strategy<Value = CostRecord> {
    (
        instant(1_704_067_200..1_711_929_600), // Q1 2024, a DST switch included
        prop::sample::select(&["openai", "anthropic", "google"][..]),
        prop::sample::select(&["a", "b", "c"][..]),
        0i64..5_000_000_000,
        (0i64..1_000_000, 0i64..100_000),
        prop::option::of(prop::sample::select(&["growth", "search", "ops"][..])),
    )
        .prop_map(|(ts, provider, model, nanos, (input, output), team)| {
            let tokens = Tokens {
                input,
                output,
                cached_input: input / 2,
                reasoning: output / 3,
                ..Tokens::default()
            };
            let record = CostRecord::new(ts, provider, model, Usd::from_nanos(nanos), tokens);
            match team {
                Some(team) => record.with_tag("team", team),
                None => record,
            }
        })
}

fn sum<'a>(parts: impl IntoIterator<Item = &'a Totals>) -> Totals {
    let mut t = Totals::default();
    for p in parts {
        t.add(p);
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn usd_display_parse_round_trip(nanos in any::<i64>()) {
        let usd = Usd::from_nanos(nanos);
        prop_assert_eq!(Usd::parse(&usd.to_string()), Ok(usd));
        let json = serde_json::to_string(&usd).unwrap();
        prop_assert_eq!(serde_json::from_str::<Usd>(&json).unwrap(), usd);
    }

    #[test]
    fn usd_mul_div_never_panics(nanos in any::<i64>(), num in any::<i64>(), den in any::<i64>()) {
        let got = Usd::from_nanos(nanos).mul_div(num, den);
        if den == 0 {
            prop_assert_eq!(got, None);
        } else if let Some(v) = got {
            // Within half a nano-dollar of the exact quotient.
            let exact = i128::from(nanos) * i128::from(num);
            let err = (i128::from(v.nanos()) * i128::from(den) - exact).abs();
            prop_assert!(2 * err <= i128::from(den).abs());
        }
    }

    #[test]
    fn parts_sum_to_the_summary(records in prop::collection::vec(record(), 0..200), z in zone(), g in granularity()) {
        let total = summarize(&records);
        let providers = by_provider(&records);
        prop_assert_eq!(sum(providers.iter().map(|p| &p.totals)), total);
        prop_assert!(providers.windows(2).all(|w| w[0].totals.cost >= w[1].totals.cost));
        let models = top_models(&records, usize::MAX);
        prop_assert_eq!(sum(models.iter().map(|m| &m.totals)), total);
        let buckets = by_bucket(&records, g, z);
        prop_assert_eq!(sum(buckets.iter().map(|b| &b.totals)), total);
        prop_assert!(buckets.windows(2).all(|w| w[0].start < w[1].start));
        let teams = by_tag(&records, "team");
        let untagged = summarize(records.iter().filter(|r| r.tag("team").is_none()));
        prop_assert_eq!(sum(teams.iter().map(|t| &t.totals).chain([&untagged])), total);
    }

    #[test]
    fn by_bucket_matches_record_by_record(records in prop::collection::vec(record(), 0..100), z in zone(), g in granularity()) {
        let mut expected: BTreeMap<DateTime<Utc>, Totals> = BTreeMap::new();
        for r in &records {
            expected.entry(bucket_start(r.ts, g, z)).or_default().add_record(r);
        }
        let got: BTreeMap<_, _> = by_bucket(&records, g, z).into_iter().map(|b| (b.start, b.totals)).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn folding_slots_keeps_totals_and_is_exact(records in prop::collection::vec(record(), 0..200), z in zone(), g in granularity()) {
        // Group records into slots the way the store's SQL does, then fold.
        let secs = slot_secs_for(z);
        let mut slots: BTreeMap<i64, Totals> = BTreeMap::new();
        for r in &records {
            slots.entry(r.ts.timestamp().div_euclid(secs) * secs).or_default().add_record(r);
        }
        let slots: Vec<Slot> = slots
            .into_iter()
            .map(|(s, totals)| Slot { start: DateTime::from_timestamp(s, 0).unwrap(), totals })
            .collect();
        let folded = fold_slots(slots.clone(), g, z);
        prop_assert_eq!(sum(folded.iter().map(|b| &b.totals)), sum(slots.iter().map(|s| &s.totals)));
        prop_assert_eq!(folded, by_bucket(&records, g, z));
    }

    #[test]
    fn filling_gaps_adds_only_empty_buckets(records in prop::collection::vec(record(), 0..50), z in zone(), g in granularity()) {
        let buckets = by_bucket(&records, g, z);
        let (start, end) = (records.iter().map(|r| r.ts).min(), records.iter().map(|r| r.ts).max());
        let (Some(start), Some(end)) = (start, end) else { return Ok(()) };
        let filled = fill_gaps(buckets.clone(), start, end, g, z);
        prop_assert_eq!(sum(filled.iter().map(|b| &b.totals)), sum(buckets.iter().map(|b| &b.totals)));
        prop_assert!(filled.windows(2).all(|w| next_bucket_start(w[0].start, g, z) == w[1].start));
        prop_assert!(buckets.iter().all(|b| filled.contains(b)));
    }

    #[test]
    fn buckets_contain_their_instants(ts in instant(RECENT), z in zone(), g in granularity()) {
        let start = bucket_start(ts, g, z);
        let next = next_bucket_start(start, g, z);
        prop_assert!(start <= ts && ts < next, "{ts} not in [{start}, {next})");
        prop_assert_eq!(bucket_start(start, g, z), start);
        prop_assert_eq!(bucket_start(next, g, z), next);
        prop_assert_eq!(bucket_start(next - TimeDelta::seconds(1), g, z), start);
        // Within one slot every instant is in the same bucket.
        let secs = slot_secs_for(z);
        let slot = DateTime::from_timestamp(ts.timestamp().div_euclid(secs) * secs, 0).unwrap();
        prop_assert_eq!(bucket_start(slot, g, z), start);
    }

    #[test]
    fn bucket_functions_never_panic(secs in any::<i64>(), z in zone(), g in granularity()) {
        let (min, max) = (DateTime::<Utc>::MIN_UTC.timestamp(), DateTime::<Utc>::MAX_UTC.timestamp());
        let ts = DateTime::from_timestamp(secs.clamp(min, max), 0).unwrap();
        let start = bucket_start(ts, g, z);
        let _ = next_bucket_start(start, g, z);
        let _ = period_window(Period::Monthly, ts, z);
    }

    #[test]
    fn budget_status_is_monotonic_and_alerts_are_consistent(
        amount in 1i64..1_000_000_000_000,
        pct in 1i64..=100,
        a in 0i64..2_000_000_000_000,
        b in 0i64..2_000_000_000_000,
        now in instant(RECENT),
        z in zone(),
    ) {
        let spec = BudgetSpec::new(Usd::from_nanos(amount), Period::Monthly, z, Threshold::parse(pct).unwrap()).unwrap();
        let (lo, hi) = (Usd::from_nanos(a.min(b)), Usd::from_nanos(a.max(b)));
        prop_assert!(spec.status(lo) <= spec.status(hi));
        let crossed = crossed_levels(&spec, lo, hi);
        if spec.status(lo) == spec.status(hi) {
            prop_assert!(crossed.is_empty());
        } else {
            prop_assert_eq!(crossed.last().copied(), Some(spec.status(hi)));
        }
        prop_assert!(crossed_levels(&spec, hi, lo).is_empty());
        let e = evaluate(&spec, hi, now);
        prop_assert_eq!(e.status == BudgetStatus::Exceeded, hi.nanos() >= amount);
        prop_assert!(e.forecast.unwrap() >= hi);
        prop_assert!(e.window.contains(now));
        prop_assert_eq!(e.remaining.nanos(), (amount - hi.nanos()).max(0));
    }
}
