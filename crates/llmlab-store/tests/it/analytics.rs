//! Every aggregate equals a straightforward computation in Rust over the same events.

use std::collections::BTreeMap;

use llmlab_store::{
    DailyModelRow, DailyTagRow, EventFilter, GroupTotals, ModelTotals, NewEvent, SlotRow,
    TagTotals, TokenCounts, TokenMixRow, Totals, UnitCounts, both_backends,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::events::{filters, matches, random_events};
use crate::{HOUR, T0, event, user};

const DAY: i64 = 24 * HOUR;

#[derive(Default, Clone, Copy)]
struct Acc {
    cost: i64,
    calls: i64,
    input: i64,
    output: i64,
    unpriced: i64,
    units: UnitCounts,
}

impl Acc {
    fn add(&mut self, e: &NewEvent) {
        self.cost += e.cost_nanos;
        self.calls += 1;
        self.input += e.tokens.input_tokens;
        self.output += e.tokens.output_tokens;
        self.unpriced += i64::from(e.cost_source == "unpriced");
        self.units.add(&e.units);
    }

    fn sums(&self) -> llmlab_store::Sums {
        llmlab_store::Sums {
            cost_nanos: self.cost,
            calls: self.calls,
            input_tokens: self.input,
            output_tokens: self.output,
            unpriced_calls: self.unpriced,
            units: self.units,
        }
    }
}

/// `$row { keys… }` with `$acc`'s figures: the fields the totals rows share.
macro_rules! totals_row {
    ($row:ident { $($key:ident),* }, $acc:expr) => {
        $row {
            $($key,)*
            sums: $acc.sums(),
        }
    };
}

fn group<K: Ord>(events: &[&NewEvent], key: impl Fn(&NewEvent) -> Option<K>) -> BTreeMap<K, Acc> {
    let mut map = BTreeMap::new();
    for e in events {
        if let Some(k) = key(e) {
            map.entry(k).or_insert_with(Acc::default).add(e);
        }
    }
    map
}

fn is_costliest_first(costs: &[i64]) -> bool {
    costs.windows(2).all(|w| w[0] >= w[1])
}

fn check(
    store: &llmlab_store::Store,
    user_id: llmlab_store::WorkspaceId,
    all: &[NewEvent],
    filter: &EventFilter,
) {
    let events: Vec<&NewEvent> = all.iter().filter(|e| matches(e, filter)).collect();
    let sum = |f: fn(&NewEvent) -> i64| events.iter().map(|e| f(e)).sum::<i64>();

    let mut all_events = Acc::default();
    events.iter().for_each(|e| all_events.add(e));
    let expected = Totals {
        cost_nanos: all_events.cost,
        calls: all_events.calls,
        unpriced_calls: all_events.unpriced,
        tokens: TokenCounts {
            input_tokens: all_events.input,
            output_tokens: all_events.output,
            cached_input_tokens: sum(|e| e.tokens.cached_input_tokens),
            cache_write_tokens: sum(|e| e.tokens.cache_write_tokens),
            reasoning_tokens: sum(|e| e.tokens.reasoning_tokens),
            cache_write_1h_tokens: sum(|e| e.tokens.cache_write_1h_tokens),
            input_audio_tokens: sum(|e| e.tokens.input_audio_tokens),
            output_audio_tokens: sum(|e| e.tokens.output_audio_tokens),
        },
        units: all_events.units,
    };
    assert_eq!(
        store.totals(user_id, filter).unwrap(),
        expected,
        "totals {filter:?}"
    );
    assert_eq!(
        store.spend(user_id, filter).unwrap(),
        expected.cost_nanos,
        "spend {filter:?}"
    );

    for slot_secs in [900_u32, 3_600, 86_400] {
        let width = i64::from(slot_secs) * 1_000_000;
        let expected: Vec<SlotRow> = group(&events, |e| Some(e.ts.div_euclid(width) * width))
            .into_iter()
            .map(|(slot_start_micros, a)| totals_row!(SlotRow { slot_start_micros }, a))
            .collect();
        let got = store.slots(user_id, filter, slot_secs).unwrap();
        assert_eq!(got, expected, "slots {slot_secs} {filter:?}");
    }

    let mut got = store.cost_by_provider(user_id, filter).unwrap();
    assert!(is_costliest_first(
        &got.iter().map(|g| g.sums.cost_nanos).collect::<Vec<_>>()
    ));
    got.sort_by(|a, b| a.provider.cmp(&b.provider));
    let expected: Vec<GroupTotals> = group(&events, |e| Some(e.provider.clone()))
        .into_iter()
        .map(|(provider, a)| totals_row!(GroupTotals { provider }, a))
        .collect();
    assert_eq!(got, expected, "by_provider {filter:?}");

    let mut expected: Vec<ModelTotals> = group(&events, |e| {
        Some((e.provider.clone(), e.resolved_model.clone()))
    })
    .into_iter()
    .map(|((provider, model), a)| totals_row!(ModelTotals { provider, model }, a))
    .collect();
    expected.sort_by_key(|m| std::cmp::Reverse(m.sums.cost_nanos));
    expected.truncate(3);
    assert_eq!(
        store.top_models(user_id, filter, 3).unwrap(),
        expected,
        "top {filter:?}"
    );

    let by_tag = store.cost_by_tag(user_id, filter, "team").unwrap();
    assert_eq!(by_tag.other, None, "three values, all listed");
    let mut got = by_tag.values;
    assert!(is_costliest_first(
        &got.iter().map(|g| g.cost_nanos).collect::<Vec<_>>()
    ));
    got.sort_by(|a, b| a.value.cmp(&b.value));
    let expected: Vec<TagTotals> = group(&events, |e| e.tags.get("team").cloned())
        .into_iter()
        .map(|(value, a)| TagTotals {
            value,
            cost_nanos: a.cost,
            calls: a.calls,
        })
        .collect();
    assert_eq!(got, expected, "by_tag {filter:?}");

    let day = |ts: i64| ts.div_euclid(DAY) * DAY;
    let expected: Vec<DailyModelRow> = group(&events, |e| {
        Some((day(e.ts), e.provider.clone(), e.resolved_model.clone()))
    })
    .into_iter()
    .map(|((day_start_micros, provider, model), a)| DailyModelRow {
        day_start_micros,
        provider,
        model,
        cost_nanos: a.cost,
        calls: a.calls,
    })
    .collect();
    assert_eq!(
        store.daily_by_model(user_id, filter).unwrap(),
        expected,
        "daily {filter:?}"
    );

    let expected: Vec<DailyTagRow> = group(&events, |e| {
        e.tags.get("feature").map(|v| (day(e.ts), v.clone()))
    })
    .into_iter()
    .map(|((day_start_micros, value), a)| DailyTagRow {
        day_start_micros,
        value: Some(value),
        cost_nanos: a.cost,
        calls: a.calls,
    })
    .collect();
    let got = store
        .daily_by_tag(user_id, filter, "feature", &[], 10)
        .unwrap();
    assert_eq!(got, expected, "daily tag {filter:?}");

    let mut inputs: Vec<i64> = events.iter().map(|e| e.tokens.input_tokens).collect();
    inputs.sort_unstable();
    let median = inputs.get(inputs.len() / 2).copied().unwrap_or(0);
    for prompts_above in [None, Some(median)] {
        let mut got = store.token_mix(user_id, filter, prompts_above).unwrap();
        // SQL orders text by the database's collation; compare as sets.
        got.sort_by(|a, b| (&a.provider, &a.model, a.batch).cmp(&(&b.provider, &b.model, b.batch)));
        let mut mix: BTreeMap<(String, String, bool), TokenMixRow> = BTreeMap::new();
        for e in events
            .iter()
            .filter(|e| prompts_above.is_none_or(|t| e.tokens.input_tokens > t))
        {
            let key = (e.provider.clone(), e.resolved_model.clone(), e.batch);
            let row = mix.entry(key.clone()).or_insert(TokenMixRow {
                provider: key.0,
                model: key.1,
                batch: key.2,
                calls: 0,
                cost_nanos: 0,
                max_input_tokens: 0,
                tokens: TokenCounts::default(),
            });
            row.calls += 1;
            row.tokens.input_tokens += e.tokens.input_tokens;
            row.tokens.cached_input_tokens += e.tokens.cached_input_tokens;
            row.tokens.cache_write_tokens += e.tokens.cache_write_tokens;
            row.tokens.output_tokens += e.tokens.output_tokens;
            row.tokens.reasoning_tokens += e.tokens.reasoning_tokens;
            row.cost_nanos += e.cost_nanos;
            row.max_input_tokens = row.max_input_tokens.max(e.tokens.input_tokens);
            row.tokens.cache_write_1h_tokens += e.tokens.cache_write_1h_tokens;
            row.tokens.input_audio_tokens += e.tokens.input_audio_tokens;
            row.tokens.output_audio_tokens += e.tokens.output_audio_tokens;
        }
        assert_eq!(
            got,
            mix.into_values().collect::<Vec<_>>(),
            "token mix {filter:?} above {prompts_above:?}"
        );
    }
}

both_backends!(tag_keys_are_distinct_per_user_and_range, |_db, store| {
    let a = user(&store, "a@x.test");
    let b = user(&store, "b@x.test");
    let mut e1 = event(10, "openai", "gpt-4o", 1);
    e1.tags = crate::tags(&[("team", "x"), ("feature", "y")]);
    let mut e2 = event(20 * DAY, "openai", "gpt-4o", 1);
    e2.tags = crate::tags(&[("team", "z"), ("env", "prod")]);
    let mut e3 = event(10, "openai", "gpt-4o", 1);
    e3.tags = crate::tags(&[("secret", "b")]);
    store.insert_batch(a, &[e1, e2]).unwrap();
    store.insert_batch(b, &[e3]).unwrap();
    let all = EventFilter::default();
    assert_eq!(
        store.tag_keys(a, &all, 10).unwrap(),
        ["env", "feature", "team"]
    );
    assert_eq!(store.tag_keys(a, &all, 2).unwrap(), ["env", "feature"]);
    let early = EventFilter::between(0, DAY);
    assert_eq!(store.tag_keys(a, &early, 10).unwrap(), ["feature", "team"]);
    assert_eq!(store.tag_keys(b, &all, 10).unwrap(), ["secret"]);
});

both_backends!(aggregates_match_a_computation_in_rust, |_db, store| {
    let mut rng = StdRng::seed_from_u64(2026);
    let a = user(&store, "a@x.test");
    let b = user(&store, "b@x.test");
    let mut events = random_events(&mut rng, 500);
    // Instants before 1970 still fall into the slot that contains them.
    events.push(event(-1, "openai", "gpt-4o", 17));
    events.push(event(-DAY - 1, "openai", "gpt-4o", 19));
    for chunk in events.chunks(128) {
        store.insert_batch(a, chunk).unwrap();
    }
    store
        .insert_batch(b, &random_events(&mut rng, 100))
        .unwrap();
    let mut all_filters = filters();
    all_filters.push(EventFilter::between(-2 * DAY, 0));
    // Ranges that cut rollup slots: whole slots come from the rollups, the cut edges
    // from the events, and the sum must not tell the difference.
    let minute = HOUR / 60;
    let cut = |start: i64, end: i64| EventFilter::between(start, end);
    all_filters.push(cut(T0 + 7 * minute + 13, T0 + 4 * DAY + 3 * minute));
    all_filters.push(cut(T0 + minute, T0 + 10 * minute));
    all_filters.push(cut(T0 - DAY - 1, T0 + 9 * DAY + 14 * minute + 59));
    all_filters.push(EventFilter {
        provider: Some("anthropic".into()),
        start_micros: Some(T0 + 2 * DAY + 44 * minute + 1),
        ..EventFilter::default()
    });
    all_filters.push(EventFilter {
        tags: vec![("team".into(), "growth".into())],
        ..cut(T0 + 3 * minute, T0 + 5 * DAY + 16 * minute)
    });
    all_filters.push(EventFilter {
        tags: vec![("feature".into(), "chat".into())],
        end_micros: Some(T0 + 8 * DAY + 1),
        ..EventFilter::default()
    });
    for filter in &all_filters {
        check(&store, a, &events, filter);
    }
    // A user without events sees zeros, not errors.
    let c = user(&store, "c@x.test");
    assert_eq!(
        store.totals(c, &EventFilter::default()).unwrap(),
        Totals::default()
    );
    assert!(
        store
            .slots(c, &EventFilter::default(), 900)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .top_models(c, &EventFilter::default(), 10)
            .unwrap()
            .is_empty()
    );
});
