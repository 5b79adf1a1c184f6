//! Benchmarks of the engine's hot paths: pricing one event, and aggregating a million
//! cost records in memory (the reference path services linking the crate use).

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use llmlab_engine::aggregate::{CostRecord, by_bucket, by_provider, summarize};
use llmlab_engine::period::{Granularity, Zone, bucket_start, slot_secs_between};
use llmlab_engine::providers::Catalog;
use llmlab_engine::{Tokens, Usage, UsageFields, Usd, price};

fn price_one_event(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let usage = Usage::parse(UsageFields::new(Tokens {
        input: 1_200,
        output: 350,
        cached_input: 1_000,
        ..Tokens::default()
    }))
    .unwrap();
    let at: DateTime<Utc> = "2025-03-01T12:00:00Z".parse().unwrap();
    let mut group = c.benchmark_group("price_one_event");
    // A dated snapshot: resolution strips the date suffix before the look-up.
    group.bench_function("alias gpt-4o-2024-08-06", |b| {
        b.iter(|| {
            price(
                black_box(catalog),
                black_box("openai"),
                black_box("gpt-4o-2024-08-06"),
                black_box(&usage),
                black_box(at),
            )
            .unwrap()
            .cost
            .total
        })
    });
    group.bench_function("canonical gpt-4o-mini", |b| {
        b.iter(|| {
            price(
                black_box(catalog),
                black_box("openai"),
                black_box("gpt-4o-mini"),
                black_box(&usage),
                black_box(at),
            )
            .unwrap()
            .cost
            .total
        })
    });
    group.finish();
}

/// One million records over 90 days: 4 providers, 12 models, 4 teams, deterministic.
fn million_records() -> Vec<CostRecord> {
    const MODELS: [(&str, &str); 12] = [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("openai", "o1"),
        ("openai", "gpt-3.5-turbo"),
        ("anthropic", "claude-3-5-sonnet"),
        ("anthropic", "claude-3-haiku"),
        ("anthropic", "claude-3-opus"),
        ("google", "gemini-1.5-pro"),
        ("google", "gemini-1.5-flash"),
        ("mistral", "mistral-large"),
        ("mistral", "mistral-small"),
        ("mistral", "codestral"),
    ];
    const TEAMS: [&str; 4] = ["growth", "search", "support", "research"];
    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let span = 90 * 86_400_i64;
    let n = 1_000_000_i64;
    // A linear congruential generator keeps the data reproducible without a dependency.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    (0..n)
        .map(|i| {
            let (provider, model) = MODELS[(next() % 12) as usize];
            let input = next() % 20_000;
            let output = next() % 2_000;
            let tokens = Tokens {
                input: input as i64,
                output: output as i64,
                cached_input: (input / 4) as i64,
                ..Tokens::default()
            };
            let cost = Usd::from_nanos((input * 2_500 + output * 10_000) as i64);
            let ts = start + TimeDelta::seconds(i * span / n);
            CostRecord::new(ts, provider, model, cost, tokens)
                .with_tag("team", TEAMS[(next() % 4) as usize])
        })
        .collect()
}

fn aggregate_1m_records(c: &mut Criterion) {
    let records = million_records();
    let mut group = c.benchmark_group("aggregate_1m_records");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("summarize", |b| b.iter(|| summarize(black_box(&records))));
    group.bench_function("by_provider", |b| {
        b.iter(|| by_provider(black_box(&records)))
    });
    group.bench_function("by_bucket day UTC", |b| {
        b.iter(|| by_bucket(black_box(&records), Granularity::Day, Zone::UTC))
    });
    group.bench_function("summarize + by_provider + by_bucket", |b| {
        b.iter(|| {
            let r = black_box(&records);
            (
                summarize(r),
                by_provider(r),
                by_bucket(r, Granularity::Day, Zone::UTC),
            )
        })
    });
    group.finish();
}

fn time_zones(c: &mut Criterion) {
    let ny = Zone::parse("America/New_York").unwrap();
    let from: DateTime<Utc> = "1970-01-01T00:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2100-01-01T00:00:00Z".parse().unwrap();
    let ts: DateTime<Utc> = "2024-11-03T06:30:00Z".parse().unwrap();
    let mut group = c.benchmark_group("period");
    // What `slot_secs_for` costs the first time a zone is seen (then it is cached).
    group.bench_function("slot scan 1970-2100 New York", |b| {
        b.iter(|| slot_secs_between(black_box(ny), from, to))
    });
    group.bench_function("bucket_start hour New York", |b| {
        b.iter(|| bucket_start(black_box(ts), Granularity::Hour, ny))
    });
    group.finish();
}

criterion_group!(benches, price_one_event, aggregate_1m_records, time_zones);
criterion_main!(benches);
