use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use chrono::NaiveDate;
use llmlab_store::{
    EventCursor, EventFilter, EventRow, InsertOutcome, NewEvent, Store, TokenCounts, UnitCounts,
    both_backends,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{HOUR, T0, event, tags, user};

fn count(store: &Store, user_id: llmlab_store::WorkspaceId) -> i64 {
    store
        .totals(user_id, &EventFilter::default())
        .unwrap()
        .calls
}

both_backends!(single_insert_is_idempotent, |_db, store| {
    let u = user(&store, "u@x.test");
    let base = event(T0, "openai", "gpt-4o-2024-08-06", 123_456);
    let mut first = NewEvent {
        tokens: TokenCounts {
            cached_input_tokens: 40,
            cache_write_tokens: 7,
            reasoning_tokens: 5,
            ..base.tokens
        },
        event_id: Some("req-1".into()),
        batch: true,
        price_effective_from: NaiveDate::from_ymd_opt(2024, 8, 6),
        latency_ms: Some(840),
        tags: tags(&[("team", "growth"), ("feature", "search")]),
        ..base
    };
    first.resolved_model = "gpt-4o".into();
    let (row, outcome) = store.insert_event(u, &first).unwrap();
    assert_eq!(outcome, InsertOutcome::Inserted(row.id));
    assert_eq!(
        store.event(u, row.id).unwrap(),
        Some(row.clone()),
        "returned row = stored row"
    );
    assert_eq!(row.tags(), first.tags);
    assert_eq!(row.resolved_model, "gpt-4o");

    let repeat = NewEvent {
        cost_nanos: 999,
        tags: tags(&[("x", "y")]),
        ..first.clone()
    };
    let (again, outcome) = store.insert_event(u, &repeat).unwrap();
    assert_eq!(outcome, InsertOutcome::Duplicate(row.id));
    assert_eq!(again, row, "a repeat returns the stored event");
    assert_eq!(count(&store, u), 1);
    assert!(
        store
            .cost_by_tag(u, &EventFilter::default(), "x")
            .unwrap()
            .values
            .is_empty()
    );

    // Without an idempotency key every call is a new event.
    let plain = event(T0, "openai", "gpt-4o", 1);
    let (a, _) = store.insert_event(u, &plain).unwrap();
    let (b, _) = store.insert_event(u, &plain).unwrap();
    assert_ne!(a.id, b.id);
    // The same key for another user is another event.
    let v = user(&store, "v@x.test");
    let (other, outcome) = store.insert_event(v, &first).unwrap();
    assert!(!outcome.is_duplicate());
    assert_ne!(other.id, row.id);
    assert_eq!(count(&store, u), 3);
});

both_backends!(concurrent_repeats_store_one_event, |_db, store| {
    let u = user(&store, "c@x.test");
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                let e = NewEvent {
                    event_id: Some("same".into()),
                    tags: tags(&[("thread", &i.to_string())]),
                    ..event(T0 + i, "anthropic", "claude-3-haiku", 10 + i)
                };
                barrier.wait();
                store.insert_event(u, &e).unwrap()
            })
        })
        .collect();
    let results: Vec<(EventRow, InsertOutcome)> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    let inserted: Vec<_> = results.iter().filter(|(_, o)| !o.is_duplicate()).collect();
    assert_eq!(inserted.len(), 1, "exactly one insert wins");
    let winner = &inserted[0].0;
    for (row, outcome) in &results {
        assert_eq!(row, winner);
        assert_eq!(outcome.id(), winner.id);
    }
    assert_eq!(count(&store, u), 1);
    let by_thread = store
        .cost_by_tag(u, &EventFilter::default(), "thread")
        .unwrap();
    assert_eq!(
        by_thread.values.len(),
        1,
        "only the winner's tags are stored"
    );
});

both_backends!(
    concurrent_repeated_batches_store_each_event_once,
    |_db, store| {
        let u = user(&store, "cb@x.test");
        let batch: Vec<NewEvent> = (0..50)
            .map(|i| NewEvent {
                event_id: Some(format!("k{i}")),
                tags: tags(&[("n", &i.to_string())]),
                ..event(T0 + i, "openai", "gpt-4o-mini", i)
            })
            .collect();
        let barrier = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (store, barrier, batch) = (store.clone(), barrier.clone(), batch.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.insert_batch(u, &batch).unwrap()
                })
            })
            .collect();
        let results: Vec<Vec<InsertOutcome>> =
            threads.into_iter().map(|t| t.join().unwrap()).collect();
        for i in 0..50 {
            let ids: Vec<i64> = results.iter().map(|r| r[i].id()).collect();
            assert!(ids.iter().all(|id| *id == ids[0]));
            assert_eq!(results.iter().filter(|r| !r[i].is_duplicate()).count(), 1);
        }
        assert_eq!(count(&store, u), 50);
        assert_eq!(
            store
                .cost_by_tag(u, &EventFilter::default(), "n")
                .unwrap()
                .values
                .len(),
            50
        );
    }
);

// A client's retry racing its first try with the keys in another order: each batch waits
// on the other's keys in the same (key) order, so neither deadlocks and fails.
both_backends!(
    concurrent_batches_with_keys_in_opposite_orders_both_succeed,
    |_db, store| {
        let u = user(&store, "order@x.test");
        for round in 0..20 {
            let forward: Vec<NewEvent> = (0..40)
                .map(|i| NewEvent {
                    event_id: Some(format!("r{round}-k{i:02}")),
                    ..event(T0 + i, "openai", "gpt-4o-mini", i)
                })
                .collect();
            let backward: Vec<NewEvent> = forward.iter().rev().cloned().collect();
            let barrier = Arc::new(Barrier::new(2));
            let threads: Vec<_> = [forward, backward]
                .into_iter()
                .map(|batch| {
                    let (store, barrier) = (store.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        store.insert_batch(u, &batch)
                    })
                })
                .collect();
            for t in threads {
                let out = t.join().unwrap();
                assert!(out.is_ok(), "round {round}: {out:?}");
            }
        }
        assert_eq!(count(&store, u), 20 * 40);
    }
);

both_backends!(batches_report_duplicates, |_db, store| {
    let u = user(&store, "b@x.test");
    let keyed = |key: &str, cost| NewEvent {
        event_id: Some(key.into()),
        tags: tags(&[("k", key)]),
        ..event(T0, "google", "gemini-1.5-flash", cost)
    };
    let (stored, _) = store.insert_event(u, &keyed("e2", 5)).unwrap();
    let batch = vec![
        keyed("e1", 1),
        event(T0, "google", "gemini-1.5-flash", 2),
        keyed("e1", 3),
        keyed("e2", 4),
        event(T0, "google", "gemini-1.5-flash", 6),
    ];
    let out = store.insert_batch(u, &batch).unwrap();
    assert_eq!(out.len(), 5);
    assert!(matches!(out[0], InsertOutcome::Inserted(_)));
    assert!(matches!(out[1], InsertOutcome::Inserted(_)));
    assert_eq!(out[2], InsertOutcome::Duplicate(out[0].id()));
    assert_eq!(out[3], InsertOutcome::Duplicate(stored.id));
    assert!(matches!(out[4], InsertOutcome::Inserted(_)));
    assert_eq!(store.event(u, out[0].id()).unwrap().unwrap().cost_nanos, 1);
    assert_eq!(count(&store, u), 4);
    assert_eq!(
        store.totals(u, &EventFilter::default()).unwrap().cost_nanos,
        5 + 1 + 2 + 6
    );
    assert!(store.insert_batch(u, &[]).unwrap().is_empty());

    // Larger than one INSERT chunk, with tags on every event.
    let big: Vec<NewEvent> = (0..2_500)
        .map(|i| NewEvent {
            event_id: (i % 2 == 0).then(|| format!("big-{}", i / 4)),
            tags: tags(&[
                ("team", ["a", "b", "c"][i as usize % 3]),
                ("i", &i.to_string()),
            ]),
            ..event(T0 + i * 1_000, "openai", "gpt-4o", 1_000 + i)
        })
        .collect();
    let out = store.insert_batch(u, &big).unwrap();
    let inserted = out.iter().filter(|o| !o.is_duplicate()).count();
    assert_eq!(inserted, 1_250 + 625);
    assert_eq!(count(&store, u), 4 + inserted as i64);
    let teams: i64 = store
        .cost_by_tag(u, &EventFilter::default(), "team")
        .unwrap()
        .values
        .iter()
        .map(|t| t.calls)
        .sum();
    assert_eq!(teams, inserted as i64);
});

#[test]
fn cursors_round_trip() {
    for (ts, id) in [(0, 0), (T0, 42), (-1, i64::MAX), (i64::MIN, 1)] {
        let cursor = EventCursor { ts, id };
        let token = cursor.encode();
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(EventCursor::decode(&token), Some(cursor));
    }
    for bad in [
        "",
        "xyz",
        "00000000000000000000000000000000ff",
        "g0000000000000000000000000000000",
    ] {
        assert_eq!(EventCursor::decode(bad), None, "{bad}");
    }
}

/// Whether `e` matches `f` (the reference for the SQL filter).
pub fn matches(e: &NewEvent, f: &EventFilter) -> bool {
    f.start_micros.is_none_or(|s| e.ts >= s)
        && f.end_micros.is_none_or(|end| e.ts < end)
        && f.provider.as_ref().is_none_or(|p| *p == e.provider)
        && f.model.as_ref().is_none_or(|m| *m == e.resolved_model)
        && f.tags.iter().all(|(k, v)| e.tags.get(k) == Some(v))
}

/// Random events: 3 providers, 6 models, tags from small sets, ~10 days around T0,
/// with repeated timestamps.
pub fn random_events(rng: &mut StdRng, n: usize) -> Vec<NewEvent> {
    const MODELS: [(&str, &str); 6] = [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-3-haiku"),
        ("anthropic", "claude-3-opus"),
        ("google", "gemini-1.5-pro"),
        ("google", "gemini-1.5-flash"),
    ];
    (0..n)
        .map(|_| {
            let (provider, model) = MODELS[rng.random_range(0..MODELS.len())];
            let mut tags = BTreeMap::new();
            if rng.random_bool(0.8) {
                let team = ["growth", "search", "infra"][rng.random_range(0..3)];
                tags.insert("team".to_owned(), team.to_owned());
            }
            if rng.random_bool(0.5) {
                let feature = ["chat", "summarize"][rng.random_range(0..2)];
                tags.insert("feature".to_owned(), feature.to_owned());
            }
            let input = rng.random_range(0..20_000);
            let output = rng.random_range(0..4_000);
            // Every tenth event is of a model nobody had priced yet.
            let unpriced = rng.random_bool(0.1);
            // Every fifth event shares a coarse timestamp with others.
            let ts = if rng.random_bool(0.2) {
                T0 + rng.random_range(0..10) * 24 * HOUR
            } else {
                T0 + rng.random_range(-2 * 24 * HOUR..10 * 24 * HOUR)
            };
            NewEvent {
                tokens: TokenCounts {
                    input_tokens: input,
                    output_tokens: output,
                    cached_input_tokens: rng.random_range(0..=input),
                    cache_write_tokens: rng.random_range(0..1_000),
                    reasoning_tokens: rng.random_range(0..=output),
                    cache_write_1h_tokens: rng.random_range(0..500),
                    input_audio_tokens: rng.random_range(0..300),
                    output_audio_tokens: rng.random_range(0..=output / 2),
                },
                // Every fourth event is billed for units beside its tokens.
                units: if rng.random_bool(0.25) {
                    UnitCounts {
                        images: rng.random_range(0..5),
                        audio_input_seconds: rng.random_range(0..600),
                        output_characters: rng.random_range(0..5_000),
                        web_search_calls: rng.random_range(0..4),
                        code_sessions: rng.random_range(0..2),
                    }
                } else {
                    UnitCounts::default()
                },
                provider: provider.into(),
                model: format!("{model}-2024-01-01"),
                resolved_model: model.into(),
                batch: rng.random_bool(0.3),
                cost_nanos: if unpriced {
                    0
                } else {
                    rng.random_range(0..5_000_000_000)
                },
                cost_source: if unpriced { "unpriced" } else { "catalog" }.into(),
                ts,
                tags,
                ..NewEvent::default()
            }
        })
        .collect()
}

/// `events` as before the ledger knew unpriced events (for tests that migrate across
/// it): each unpriced one becomes the $0 client-priced event the downgrade makes of it,
/// and none has the buckets or the tier of the later pricing-depth migration, nor the
/// units of the usage-units one.
pub fn before_ledger(events: Vec<NewEvent>) -> Vec<NewEvent> {
    events
        .into_iter()
        .map(|mut e| {
            if e.cost_source == "unpriced" {
                e.cost_source = "client".into();
            }
            e.tokens.cache_write_1h_tokens = 0;
            e.tokens.input_audio_tokens = 0;
            e.tokens.output_audio_tokens = 0;
            e.units = UnitCounts::default();
            e
        })
        .collect()
}

/// Some filters exercising every condition.
pub fn filters() -> Vec<EventFilter> {
    let tag = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    vec![
        EventFilter::default(),
        EventFilter::between(T0, T0 + 3 * 24 * HOUR),
        EventFilter {
            provider: Some("openai".into()),
            ..EventFilter::default()
        },
        EventFilter {
            model: Some("claude-3-haiku".into()),
            start_micros: Some(T0 + 5 * HOUR),
            ..EventFilter::default()
        },
        EventFilter {
            tags: vec![tag("team", "growth")],
            ..EventFilter::default()
        },
        EventFilter {
            tags: vec![tag("team", "search"), tag("feature", "chat")],
            end_micros: Some(T0 + 6 * 24 * HOUR),
            provider: Some("google".into()),
            ..EventFilter::default()
        },
        EventFilter {
            tags: vec![tag("team", "nobody")],
            ..EventFilter::default()
        },
    ]
}

both_backends!(pagination_returns_every_event_once, |_db, store| {
    let mut rng = StdRng::seed_from_u64(7);
    let a = user(&store, "a@x.test");
    let b = user(&store, "b@x.test");
    let events = random_events(&mut rng, 300);
    let ids: Vec<i64> = store
        .insert_batch(a, &events)
        .unwrap()
        .iter()
        .map(|o| o.id())
        .collect();
    store.insert_batch(b, &random_events(&mut rng, 50)).unwrap();
    for filter in filters() {
        let mut expected: Vec<(i64, i64)> = events
            .iter()
            .zip(&ids)
            .filter(|(e, _)| matches(e, &filter))
            .map(|(e, id)| (e.ts, *id))
            .collect();
        expected.sort_by(|x, y| y.cmp(x));
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.list_events(a, &filter, cursor, 7).unwrap();
            assert!(page.events.len() <= 7);
            got.extend(page.events.iter().map(|e| (e.ts, e.id)));
            assert!(page.events.iter().all(|e| e.workspace_id == a));
            match page.next_cursor {
                Some(next) => cursor = EventCursor::decode(&next.encode()),
                None => break,
            }
        }
        assert_eq!(got, expected, "{filter:?}");
    }
});

// However many distinct values an account sends for one tag key, a report lists the
// costliest MAX_GROUPS of them and adds the rest up, exactly, across rollups and raw
// range edges.
both_backends!(tag_reports_are_bounded, |_db, store| {
    let u = user(&store, "many-values@x.test");
    let cap = llmlab_store::analytics::MAX_GROUPS as i64;
    let n = cap + 25;
    let mut events: Vec<NewEvent> = (1..=n)
        .map(|i| NewEvent {
            tags: tags(&[("team", &format!("t{i}"))]),
            ..event(T0 + i * 60_000_000, "openai", "gpt-4o", i * 1_000)
        })
        .collect();
    // A second call for some values, and calls without the key, which it does not count.
    events.extend((1..=n).step_by(7).map(|i| NewEvent {
        tags: tags(&[("team", &format!("t{i}"))]),
        ..event(T0 + i * 60_000_000 + 7, "openai", "gpt-4o", 3)
    }));
    events.extend((0..40).map(|i| event(T0 + i * 90_000_000, "openai", "gpt-4o", 5_000_000)));
    store.insert_batch(u, &events).unwrap();
    // A range that cuts slots at both ends: rollups in the middle, raw events at the edges.
    let range = EventFilter::between(T0 + 90_000_000, T0 + (n + 1) * 60_000_000);
    let in_range: Vec<&NewEvent> = events
        .iter()
        .filter(|e| matches(e, &range) && e.tags.contains_key("team"))
        .collect();
    let got = store.cost_by_tag(u, &range, "team").unwrap();
    let values = &got.values;
    assert_eq!(values.len(), cap as usize);
    assert_eq!(values[0].value, format!("t{n}"));
    assert_eq!(values[0].cost_nanos, n * 1_000);
    assert!(
        values
            .windows(2)
            .all(|w| w[0].cost_nanos >= w[1].cost_nanos)
    );
    assert_eq!(
        values.last().unwrap().value,
        format!("t{}", n - cap + 1),
        "the costliest values, not the first ones"
    );
    // t1 is before the range; t2 … t(n-cap) are the rest.
    let rest: Vec<&&NewEvent> = in_range
        .iter()
        .filter(|e| e.tags["team"][1..].parse::<i64>().unwrap() <= n - cap)
        .collect();
    let other = got.other.expect("more values than listed");
    assert_eq!(other.values, n - cap - 1);
    assert_eq!(
        other.cost_nanos,
        rest.iter().map(|e| e.cost_nanos).sum::<i64>()
    );
    assert_eq!(other.calls, rest.len() as i64);
    // Listed and rest add up to every call with the key, exactly.
    let listed: i64 = values.iter().map(|v| v.cost_nanos).sum();
    let total: i64 = in_range.iter().map(|e| e.cost_nanos).sum();
    assert_eq!(listed + other.cost_nanos, total);
    let calls: i64 = values.iter().map(|v| v.calls).sum();
    assert_eq!(calls + other.calls, in_range.len() as i64);
    // Fewer values than the cap: every one listed, nothing left.
    let few = EventFilter::between(T0, T0 + 4 * 60_000_000);
    let got = store.cost_by_tag(u, &few, "team").unwrap();
    assert_eq!((got.values.len(), got.other), (3, None));
});

// Attribution's daily breakdown of a tag key with many values: on the focus days, the
// costliest values one by one, every other value added up per day, each day's rows
// adding up to the key's spend that day.
both_backends!(daily_tag_breakdown_is_bounded, |_db, store| {
    const DAY: i64 = 24 * HOUR;
    let u = user(&store, "daily-values@x.test");
    let mut events = Vec::new();
    for d in 0..6 {
        for j in 0..300 {
            events.push(NewEvent {
                tags: tags(&[("customer", &format!("c{d}-{j}"))]),
                ..event(T0 + d * DAY + j * 60_000_000, "openai", "gpt-4o", 1_000 + j)
            });
        }
        // One customer spends most every day, and one only on day 4.
        events.push(NewEvent {
            tags: tags(&[("customer", "steady")]),
            ..event(T0 + d * DAY + 7, "openai", "gpt-4o", 900_000)
        });
    }
    events.push(NewEvent {
        tags: tags(&[("customer", "whale")]),
        ..event(T0 + 4 * DAY + 5 * HOUR + 3, "openai", "gpt-4o", 700_000)
    });
    store.insert_batch(u, &events).unwrap();
    let range = EventFilter::between(T0, T0 + 6 * DAY);
    let rows = store
        .daily_by_tag(u, &range, "customer", &[T0 + 4 * DAY], 3)
        .unwrap();
    let chosen: std::collections::BTreeSet<Option<&str>> =
        rows.iter().map(|r| r.value.as_deref()).collect();
    // The day's three costliest: steady, whale, and its costliest small customer.
    assert_eq!(
        chosen,
        [None, Some("c4-299"), Some("steady"), Some("whale")]
            .into_iter()
            .collect()
    );
    for d in 0..6 {
        let day = T0 + d * DAY;
        let of_day: Vec<_> = rows.iter().filter(|r| r.day_start_micros == day).collect();
        let expected: Vec<&NewEvent> = events.iter().filter(|e| e.ts / DAY == day / DAY).collect();
        assert_eq!(
            of_day.iter().map(|r| r.cost_nanos).sum::<i64>(),
            expected.iter().map(|e| e.cost_nanos).sum::<i64>(),
            "day {d}"
        );
        assert_eq!(
            of_day.iter().map(|r| r.calls).sum::<i64>(),
            expected.len() as i64
        );
        let rest = of_day.iter().find(|r| r.value.is_none()).unwrap();
        let small = if d == 4 { 299 } else { 300 };
        assert_eq!(rest.calls, small, "day {d}");
    }
    let whale: Vec<_> = rows
        .iter()
        .filter(|r| r.value.as_deref() == Some("whale"))
        .collect();
    assert_eq!(whale.len(), 1);
    assert_eq!(
        (whale[0].day_start_micros, whale[0].cost_nanos),
        (T0 + 4 * DAY, 700_000)
    );
});
