//! A backup taken while events arrive, restored into a new database and served again:
//! every event acknowledged before the backup began is there, nothing that was never
//! acknowledged is, and the reports equal the restored events (the copy is one
//! consistent moment: no event without its rollups, no rollup without its events).
//! The same `llmlab_store::admin` functions as `cargo xtask backup|restore`.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use llmlab_store::Backend;
use llmlab_store::admin;
use llmlab_store::test_support::TestDb;
use serde_json::{Value, json};

use crate::{TestApp, both, spawn_app_on};

const WRITERS: usize = 3;

/// An acknowledged event: its id, when its request was sent, when the answer came.
type Ack = (String, Instant, Instant);

fn event(id: &str, n: u64) -> Value {
    json!({"provider": "openai", "model": "gpt-4o", "event_id": id,
           "input_tokens": 100 + n, "output_tokens": 10 + n % 7,
           "tags": {"writer": id.split('-').next()}})
}

/// Writer `w`'s loop until `stop`: single events and batches of five, in turn. Each
/// acknowledged event is recorded with the instants its request was sent and its
/// acknowledgement arrived.
fn ingest(
    app: &TestApp,
    token: &str,
    w: usize,
    stop: &AtomicBool,
    acks: &Mutex<Vec<Ack>>,
    count: &AtomicUsize,
) {
    for i in 0_u64.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let sent = Instant::now();
        let acked: Vec<String> = if i % 2 == 0 {
            let id = format!("w{w}-t{i}");
            let r = app.post("/api/events/track", token, event(&id, i));
            assert_eq!(r.status, 201, "{}", r.text());
            vec![id]
        } else {
            let ids: Vec<String> = (0..5).map(|j| format!("w{w}-b{i}-{j}")).collect();
            let items: Vec<Value> = ids
                .iter()
                .zip(0..)
                .map(|(id, j)| event(id, i + j))
                .collect();
            let r = app.post("/api/events/batch", token, json!({ "events": items }));
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.json()["accepted"], 5, "{}", r.text());
            ids
        };
        let at = Instant::now();
        count.fetch_add(acked.len(), Ordering::Relaxed);
        acks.lock()
            .unwrap()
            .extend(acked.into_iter().map(|id| (id, sent, at)));
    }
}

/// Every event of the restored server, through the paginated listing.
fn all_events(app: &TestApp, token: &str, range: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app.get(&format!("/api/events?{range}&limit=1000{cursor}"), token);
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json();
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return events,
        }
    }
}

fn nanos(usd: &Value) -> i64 {
    (usd.as_f64().expect("a cost") * 1e9).round() as i64
}

both!(restores_a_backup_taken_during_ingestion, |app: TestApp| {
    let backend = app.backend;
    let token = app.signup("backup@example.com");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(match backend {
        Backend::Sqlite => "llmlab-backup.db",
        Backend::Postgres => "llmlab-backup.dump",
    });
    let (stop, acks, count) = (
        AtomicBool::new(false),
        Mutex::new(Vec::new()),
        AtomicUsize::new(0),
    );
    let (started, finished) = std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (app, token, stop, acks, count) = (&app, &token, &stop, &acks, &count);
            s.spawn(move || ingest(app, token, w, stop, acks, count));
        }
        // The backup starts with the writers in full flow and runs beside them.
        let warm = Instant::now() + Duration::from_secs(5);
        while count.load(Ordering::Relaxed) < 60 && Instant::now() < warm {
            std::thread::sleep(Duration::from_millis(5));
        }
        let before = count.load(Ordering::Relaxed);
        let started = Instant::now();
        let bytes = admin::backup(app.db().url(), &file);
        let finished = Instant::now();
        std::thread::sleep(Duration::from_millis(150));
        stop.store(true, Ordering::Relaxed);
        assert!(bytes.expect("backup") > 0);
        assert!(before > 0, "ingestion was running when the backup began");
        (started, finished)
    });
    let acks = acks.into_inner().unwrap();
    let acked_before: BTreeSet<&str> = acks
        .iter()
        .filter(|(_, _, at)| *at < started)
        .map(|(id, _, _)| id.as_str())
        .collect();
    let acked_all: BTreeSet<&str> = acks.iter().map(|(id, _, _)| id.as_str()).collect();
    // The backup overlapped writes: some were sent before it began and answered after
    // (each either in the copy, whole, or not at all, as the checks below require).
    // Counted from the writers' own instants, not from the backup's length, which on
    // SQLite is a few milliseconds.
    let in_flight = acks
        .iter()
        .filter(|(_, sent, at)| *sent < started && *at > started)
        .count();
    assert!(
        in_flight > 0,
        "no write was in flight when the backup began"
    );
    assert!(
        acked_all.len() > acked_before.len(),
        "ingestion went on after the backup began"
    );

    let db = TestDb::new(backend);
    admin::restore(&file, db.url(), false).expect("restore into an empty database");
    let refused = admin::restore(&file, db.url(), false).expect_err("a database with data is kept");
    assert!(refused.to_string().contains("--force"), "{refused}");
    let restored = spawn_app_on(db, &[]);

    let today = Utc::now().date_naive();
    let range = format!(
        "start={}&end={}",
        today - Days::new(1),
        today + Days::new(1)
    );
    let events = all_events(&restored, &token, &range);
    let ids: BTreeSet<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len(), "no event restored twice");
    let missing: Vec<_> = acked_before.difference(&ids).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, not restored: {missing:?}"
    );
    let unknown: Vec<_> = ids.difference(&acked_all).collect();
    assert!(
        unknown.is_empty(),
        "restored but never acknowledged: {unknown:?}"
    );

    // The reports are the restored events' own sums: rollups and totals were copied at
    // the same moment as the events.
    let summary = restored
        .get(&format!("/api/costs/summary?{range}"), &token)
        .json();
    let sum = |field: &str| {
        events
            .iter()
            .map(|e| e[field].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(summary["total_calls"], events.len(), "{summary}");
    assert_eq!(
        summary["total_input_tokens"],
        sum("input_tokens"),
        "{summary}"
    );
    assert_eq!(
        summary["total_output_tokens"],
        sum("output_tokens"),
        "{summary}"
    );
    let cost: i64 = events.iter().map(|e| nanos(&e["cost_usd"])).sum();
    assert!(cost > 0);
    assert_eq!(nanos(&summary["total_cost_usd"]), cost, "{summary}");
    let by_tag = restored
        .get(&format!("/api/costs/by-tag?key=writer&{range}"), &token)
        .json();
    let tagged: i64 = by_tag["values"]
        .as_array()
        .map_or(0, |rows| rows.iter().map(|r| nanos(&r["cost_usd"])).sum());
    assert_eq!(tagged, cost, "{by_tag}");
    // Each writer's spend, as its tag value, is its restored events' sum.
    for row in by_tag["values"].as_array().unwrap() {
        let writer = row["value"].as_str().unwrap();
        let own: Vec<&Value> = events
            .iter()
            .filter(|e| e["tags"]["writer"] == writer)
            .collect();
        assert_eq!(row["calls"], own.len(), "{row}");
        let own_cost: i64 = own.iter().map(|e| nanos(&e["cost_usd"])).sum();
        assert_eq!(nanos(&row["cost_usd"]), own_cost, "{row}");
    }
    // Provider and model breakdowns: one provider, one model, the same sums.
    for (path, list) in [("by-provider", "providers"), ("top-models", "models")] {
        let got = restored
            .get(&format!("/api/costs/{path}?{range}"), &token)
            .json();
        let rows = got[list].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{got}");
        assert_eq!(rows[0]["calls"], events.len(), "{got}");
        assert_eq!(rows[0]["input_tokens"], sum("input_tokens"), "{got}");
        assert_eq!(rows[0]["output_tokens"], sum("output_tokens"), "{got}");
        assert_eq!(nanos(&rows[0]["cost_usd"]), cost, "{got}");
    }

    // The restored database takes new events (its id sequences came along) and still
    // knows the ones it holds (the idempotency key came along).
    let fresh = restored.post("/api/events/track", &token, event("after-restore", 1));
    assert_eq!(fresh.status, 201, "{}", fresh.text());
    let again = restored.post("/api/events/track", &token, event(ids.first().unwrap(), 1));
    assert_eq!(again.status, 200, "{}", again.text());
    eprintln!(
        "{backend:?}: {} acknowledged before the backup, {in_flight} in flight as it began \
         ({:?} long), {} in all; {} restored",
        acked_before.len(),
        finished - started,
        acked_all.len(),
        events.len()
    );
});
