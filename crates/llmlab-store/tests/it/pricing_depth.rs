//! The 1-hour cache-write and audio buckets and the service tier are stored with the
//! event on both paths (single and batch) and read back as written.

use llmlab_store::{NewEvent, TokenCounts, both_backends};

use crate::{T0, event, user};

both_backends!(new_buckets_and_the_tier_round_trip, |_db, store| {
    let w = user(&store, "tiers@x.test");
    let base = event(T0, "openai", "gpt-realtime", 42);
    let one = NewEvent {
        tokens: TokenCounts {
            input_tokens: 1_000,
            cached_input_tokens: 100,
            cache_write_tokens: 200,
            cache_write_1h_tokens: 300,
            input_audio_tokens: 150,
            output_tokens: 400,
            output_audio_tokens: 250,
            ..base.tokens
        },
        service_tier: "priority".into(),
        ..base
    };
    let (row, _) = store.insert_event(w, &one).unwrap();
    assert_eq!(
        (
            row.tokens.cache_write_1h_tokens,
            row.tokens.input_audio_tokens,
            row.tokens.output_audio_tokens,
            row.service_tier.as_str()
        ),
        (300, 150, 250, "priority")
    );
    assert_eq!(store.event(w, row.id).unwrap(), Some(row));

    let base = event(T0 + 1, "openai", "gpt-5", 1);
    let flex = NewEvent {
        tokens: TokenCounts {
            input_audio_tokens: 7,
            ..base.tokens
        },
        service_tier: "flex".into(),
        ..base
    };
    // An unset tier is stored as `standard`, or `batch` for a batch call.
    let batch = NewEvent {
        batch: true,
        ..event(T0 + 2, "openai", "gpt-5", 1)
    };
    let plain = event(T0 + 3, "openai", "gpt-5", 1);
    let outcomes = store.insert_batch(w, &[flex, batch, plain]).unwrap();
    let stored: Vec<(String, i64)> = outcomes
        .iter()
        .map(|o| {
            let e = store.event(w, o.id()).unwrap().unwrap();
            (e.service_tier, e.tokens.input_audio_tokens)
        })
        .collect();
    assert_eq!(
        stored,
        [
            ("flex".to_string(), 7),
            ("batch".to_string(), 0),
            ("standard".to_string(), 0)
        ]
    );
});
