//! A tag key's ranking answers exactly what adding every value up answers, for ranges
//! near its window, and is not used once a write may have changed what it holds.

use diesel::RunQueryDsl;
use llmlab_store::analytics::ranking::{self, window_at};
use llmlab_store::{EventFilter, NewEvent, Store, TagBreakdown, WorkspaceId, both_backends};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{HOUR, event, tags, user};

const DAY: i64 = 24 * HOUR;
const KEY: &str = "customer";

fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn range(start: i64, end: i64) -> EventFilter {
    EventFilter {
        start_micros: Some(start),
        end_micros: Some(end),
        ..EventFilter::default()
    }
}

fn tagged(ts: i64, value: &str, cost: i64) -> NewEvent {
    NewEvent {
        tags: tags(&[(KEY, value), ("team", "core")]),
        ..event(ts, "openai", "gpt-4o", cost)
    }
}

/// The listed values and the rest, whichever way they were found.
fn answer(b: TagBreakdown) -> (Vec<llmlab_store::TagTotals>, Option<llmlab_store::TagRest>) {
    (b.values, b.other)
}

fn same_as_added_up(store: &Store, ws: WorkspaceId, filter: &EventFilter, top: u32) {
    let ranked = store.cost_by_tag_top(ws, filter, KEY, top, true).unwrap();
    let added = store.cost_by_tag_top(ws, filter, KEY, top, false).unwrap();
    assert_eq!(answer(ranked), answer(added), "top {top} of {filter:?}");
}

fn shift_ranked(store: &Store, ws: WorkspaceId, value: &str, by: i64) {
    let sql = format!(
        "UPDATE tag_rankings SET cost_nanos = cost_nanos + {by} \
         WHERE workspace_id = {} AND key = '{KEY}' AND value = '{value}'",
        ws.get()
    );
    let changed = store
        .with_conn(|c| Ok(diesel::sql_query(sql).execute(c)?))
        .unwrap();
    assert_eq!(changed, 1, "{value} is ranked");
}

/// Whether reports of `filter` read the ranking: a cost changed in it alone shows.
fn reads_ranking(store: &Store, ws: WorkspaceId, filter: &EventFilter, value: &str) -> bool {
    let before = store.cost_by_tag_top(ws, filter, KEY, 1_000, true).unwrap();
    shift_ranked(store, ws, value, 7);
    let during = store.cost_by_tag_top(ws, filter, KEY, 1_000, true).unwrap();
    shift_ranked(store, ws, value, -7);
    answer(before) != answer(during)
}

both_backends!(
    a_ranking_answers_what_adding_up_does,
    |_db, store: Store| {
        let ws = user(&store, "ranked@example.com");
        let now = now();
        let (from, to) = window_at(now);
        let mut rng = StdRng::seed_from_u64(34);
        let mut events: Vec<NewEvent> = (0..1_500)
            .map(|_| {
                let ts = rng.random_range(from - 2 * DAY..now - 1_000_000);
                let value = format!("v{:03}", rng.random_range(0..300));
                // Coarse costs, so that values tie and the order falls to calls, then names.
                tagged(ts, &value, rng.random_range(0..50) * 1_000)
            })
            .collect();
        // The costliest value of the window, spent only in its first hours; and one spent
        // only after it, today.
        events.push(tagged(from + HOUR / 2, "dropped", 1_000_000_000));
        events.push(tagged(from + HOUR, "dropped", 1_000_000_000));
        events.push(tagged(to + HOUR, "risen", 900_000_000));
        for chunk in events.chunks(500) {
            store.insert_batch(ws, chunk).unwrap();
        }

        let ranges = [
            range(now - 30 * DAY, now),
            range(from, to),
            range(from + 12 * HOUR, to + 3 * HOUR),
            range(from - DAY, now),
            range(from + HOUR + 1, now - HOUR),
        ];
        let default = &ranges[0];
        // No ranking yet: added up, and not worth one for 302 values.
        let first = store.cost_by_tag(ws, default, KEY).unwrap();
        assert!(!first.refresh);

        assert!(store.rebuild_tag_ranking(ws, KEY, now).unwrap());
        assert!(
            !store.rebuild_tag_ranking(ws, KEY, now).unwrap(),
            "a fresh ranking is kept"
        );
        for r in &ranges {
            for top in [5, 10, 1_000] {
                same_as_added_up(&store, ws, r, top);
            }
            assert!(
                reads_ranking(&store, ws, r, "v007"),
                "{r:?} reads the ranking"
            );
        }
        let by_default = store.cost_by_tag_top(ws, default, KEY, 5, true).unwrap();
        assert_eq!(by_default.values[0].value, "risen");
        assert!(by_default.values.iter().all(|v| v.value != "dropped"));
        assert!(!by_default.refresh, "the ranking is of the current window");
        // A range far from the window, or with another filter, adds up.
        let far = range(from - 20 * DAY, from - 10 * DAY);
        assert!(!reads_ranking(&store, ws, &far, "v007"));
        let scoped = EventFilter {
            provider: Some("openai".into()),
            ..default.clone()
        };
        assert!(!reads_ranking(&store, ws, &scoped, "v007"));

        // An event of today is in no window: the ranking still answers, with it.
        store
            .insert_event(ws, &tagged(now - 60_000_000, "v007", 5_000))
            .unwrap();
        same_as_added_up(&store, ws, default, 10);
        assert!(reads_ranking(&store, ws, default, "v007"));

        // One of yesterday (one event, the single-event path) may change the window: the
        // ranking is not used, the answer is still exact, and a rebuild is asked for.
        store
            .insert_event(ws, &tagged(to - HOUR, "v007", 3_000))
            .unwrap();
        assert!(!reads_ranking(&store, ws, default, "v007"));
        same_as_added_up(&store, ws, default, 10);
        assert!(store.cost_by_tag(ws, default, KEY).unwrap().refresh);
        assert!(store.rebuild_tag_ranking(ws, KEY, now).unwrap());
        assert!(reads_ranking(&store, ws, default, "v007"));
        same_as_added_up(&store, ws, default, 10);

        // A batch with one late event does the same.
        let late = [tagged(now - 60_000_000, "v008", 1), tagged(from, "v009", 1)];
        store.insert_batch(ws, &late).unwrap();
        assert!(!reads_ranking(&store, ws, default, "v007"));
        same_as_added_up(&store, ws, default, 1_000);
    }
);

both_backends!(many_values_ask_for_a_ranking, |_db, store: Store| {
    let ws = user(&store, "many@example.com");
    let now = now();
    let events: Vec<NewEvent> = (0..ranking::RANK_FROM)
        .map(|i| tagged(now - DAY - i * 1_000_000, &format!("c{i}"), 1_000 + i))
        .collect();
    store.insert_batch(ws, &events).unwrap();
    let default = range(now - 30 * DAY, now);
    let found = store.cost_by_tag_top(ws, &default, KEY, 10, true).unwrap();
    assert!(
        found.refresh,
        "{} values and no ranking",
        ranking::RANK_FROM
    );
    assert_eq!(
        found.values[0].value,
        format!("c{}", ranking::RANK_FROM - 1)
    );
    // Far from the window a ranking would not help.
    let old = range(now - 90 * DAY, now - 60 * DAY);
    assert!(!store.cost_by_tag(ws, &old, KEY).unwrap().refresh);
    store.rebuild_tag_ranking(ws, KEY, now).unwrap();
    let ranked = store.cost_by_tag_top(ws, &default, KEY, 10, true).unwrap();
    assert!(!ranked.refresh);
    assert_eq!(answer(ranked), answer(found));
});
