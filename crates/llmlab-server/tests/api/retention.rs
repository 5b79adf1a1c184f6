//! Retention: deleting raw events older than the window leaves every report over whole
//! days unchanged (the rollups stay), says from when detail is gone, survives a run cut
//! short, lets one instance at a time run it, and refuses events older than the window.

use chrono::{Duration, Utc};
use llmlab_app::retention;
use serde_json::{Value, json};

use crate::{TestApp, both, spawn_app_with};

/// Days of history written, and the window kept.
const DAYS: i64 = 60;
const KEEP: u32 = 30;

fn seed(app: &TestApp, token: &str) {
    let today = Utc::now().date_naive();
    let events: Vec<Value> = (1..=DAYS)
        .flat_map(|k| {
            let day = today - Duration::days(k);
            [
                ("openai", "gpt-4o", "search"),
                ("anthropic", "claude-sonnet-4-5", "ads"),
            ]
            .into_iter()
            .map(move |(provider, model, team)| {
                json!({"provider": provider, "model": model, "input_tokens": 1000 + k,
                           "output_tokens": 100, "timestamp": format!("{day}T10:30:00Z"),
                           "tags": {"team": team}, "event_id": format!("{model}-{k}")})
            })
        })
        .collect();
    let r = app.post("/api/events/batch", token, json!({ "events": events }));
    assert_eq!(r.json()["accepted"], 2 * DAYS, "{}", r.text());
}

/// Every report over whole days of the history, before and after the cut-off.
fn reports(app: &TestApp, token: &str) -> Vec<Value> {
    let today = Utc::now().date_naive();
    let ranges = [
        (today - Duration::days(DAYS), today),
        (today - Duration::days(DAYS), today - Duration::days(40)),
        (today - Duration::days(35), today - Duration::days(25)),
        (today - Duration::days(20), today),
    ];
    ranges
        .iter()
        .flat_map(|(start, end)| {
            let q = format!("start={start}&end={end}");
            [
                format!("/api/costs/summary?{q}"),
                format!("/api/costs/summary?{q}&tz=Asia/Kolkata&granularity=week"),
                format!("/api/costs/by-provider?{q}"),
                format!("/api/costs/top-models?{q}"),
                format!("/api/costs/by-tag?key=team&{q}"),
            ]
        })
        .map(|path| {
            let r = app.get(&path, token);
            assert_eq!(r.status, 200, "{path}: {}", r.text());
            r.json()
        })
        .collect()
}

fn event_count(app: &TestApp, token: &str) -> (usize, Value) {
    let start = Utc::now().date_naive() - Duration::days(DAYS + 1);
    let page = app
        .get(&format!("/api/events?limit=1000&start={start}"), token)
        .json();
    (
        page["events"].as_array().unwrap().len(),
        page["retained_since"].clone(),
    )
}

both!(expired_events_go_and_reports_stay, |app: TestApp| {
    let token = app.signup("retention@example.com");
    seed(&app, &token);
    let before = reports(&app, &token);
    assert_eq!(event_count(&app, &token), (120, Value::Null));
    // What "unchanged" is compared with. Day k back (1..=60) holds 1000 + k input and
    // 100 output tokens for each model; the input over 60 days is 60 × 1000 + 1830 =
    // 61,830 per model. gpt-4o at $2.50/$10 per Mtok: 0.154575 + 0.06 = 0.214575;
    // claude-sonnet-4-5 at $3/$15: 0.18549 + 0.09 = 0.27549; together 0.490065.
    assert_eq!(before[0]["total_cost_usd"].to_string(), "0.490065");
    assert_eq!(before[0]["total_calls"], 120);
    let providers = &before[2]["providers"];
    assert_eq!(providers[0]["provider"], "anthropic");
    assert_eq!(providers[0]["cost_usd"].to_string(), "0.27549");
    assert_eq!(providers[1]["cost_usd"].to_string(), "0.214575");

    let store = app.db().store();
    let now = Utc::now();
    let cutoff = retention::cutoff(now, KEEP);
    let run = retention::run(&store, "instance-a", KEEP, now, usize::MAX)
        .unwrap()
        .unwrap();
    // The days before the cut-off (the 31st day back and older), two events a day.
    assert_eq!(run.deleted, 2 * (DAYS as usize - KEEP as usize), "{run:?}");
    assert_eq!(run.cutoff, cutoff);
    assert_eq!(
        reports(&app, &token),
        before,
        "reports over whole days are unchanged"
    );
    let (left, since) = event_count(&app, &token);
    assert_eq!(left, 120 - run.deleted);
    assert_eq!(
        since,
        json!(cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    let export = app.get("/api/events/export", &token);
    assert_eq!(export.status, 200);
    let cut = cutoff.to_rfc3339();
    assert_eq!(export.header("X-LLMLab-Retained-Since"), Some(cut.as_str()));
    assert_eq!(export.text().lines().count(), 1 + left);
    // The FOCUS export is priced per event: it says so too.
    let focus = app.get(
        &format!(
            "/api/costs/export?format=focus&start={}",
            Utc::now().date_naive() - Duration::days(DAYS)
        ),
        &token,
    );
    assert_eq!(focus.status, 200, "{}", focus.text());
    assert_eq!(focus.header("X-LLMLab-Retained-Since"), Some(cut.as_str()));
    // Its rows are the 30 days kept: input 30 × 1000 + 465 = 30,465 per model; gpt-4o
    // 0.0761625 + 0.03 = 0.1061625, claude-sonnet-4-5 0.091395 + 0.045 = 0.136395;
    // BilledCost adds up to 0.2425575.
    let billed: i64 = focus
        .text()
        .lines()
        .skip(1)
        .map(|row| {
            let cell = row.split(',').next().unwrap();
            llmlab_engine::Usd::parse(cell)
                .unwrap_or_else(|e| panic!("{cell:?}: {e}"))
                .nanos()
        })
        .sum();
    assert_eq!(billed, 242_557_500);
    // Re-pricing says what it cannot reach.
    let r = app.post("/api/pricing/reprice", &token, json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["retained_since"],
        json!(cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    // A second run finds nothing more.
    let again = retention::run(&store, "instance-a", KEEP, now, usize::MAX).unwrap();
    assert_eq!(again.map(|r| r.deleted), Some(0));
});

both!(a_run_cut_short_loses_nothing_that_stays, |app: TestApp| {
    let (ada, bob) = (app.signup("ada@example.com"), app.signup("bob@example.com"));
    seed(&app, &ada);
    seed(&app, &bob);
    let (ada_before, bob_before) = (reports(&app, &ada), reports(&app, &bob));
    let store = app.db().store();
    // Noon today: six minutes later is the same day, so the cut-off stays where it is.
    let now = Utc::now()
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    // An instance takes the job, deletes one batch (one workspace's) and dies holding
    // the lease: the steps of `retention::run`, cut short.
    let (naive, micros) = (
        now.naive_utc(),
        retention::cutoff(now, KEEP).timestamp_micros(),
    );
    let job = llmlab_store::retention::JOB;
    let lease = naive + Duration::minutes(5);
    assert!(store.take_lease(job, "instance-a", naive, lease).unwrap());
    store.mark_retention_cutoff(micros).unwrap();
    let first = store.workspaces_with_events_before(micros).unwrap()[0];
    assert_eq!(
        store.purge_events(first, micros, retention::BATCH).unwrap(),
        60
    );
    let remaining = [event_count(&app, &ada).0, event_count(&app, &bob).0];
    assert!(
        remaining.contains(&120) && remaining.contains(&60),
        "{remaining:?}"
    );
    assert_eq!(reports(&app, &ada), ada_before);
    assert_eq!(reports(&app, &bob), bob_before);
    // Another instance waits while the lease holds; once it has run out (the dead
    // instance never renews it), that one takes the job and goes on where it stopped.
    assert_eq!(
        retention::run(&store, "instance-b", KEEP, now, usize::MAX).unwrap(),
        None
    );
    let later = now + Duration::minutes(6);
    let rest = retention::run(&store, "instance-b", KEEP, later, usize::MAX)
        .unwrap()
        .unwrap();
    assert_eq!(rest.deleted, 60);
    assert_eq!(event_count(&app, &ada).0, 60);
    assert_eq!(event_count(&app, &bob).0, 60);
    assert_eq!(reports(&app, &ada), ada_before);
    assert_eq!(reports(&app, &bob), bob_before);
    // Released at the end: the first instance, back, may run it now.
    assert!(
        retention::run(&store, "instance-a", KEEP, later, usize::MAX)
            .unwrap()
            .is_some()
    );
});

// Instances racing for the job: released together by a barrier, one each of eight
// takes the lease at the same instant and one only gets it; eight whole runs at once
// delete each expired event once between them, and the reports stay.
both!(
    instances_racing_for_retention_take_it_once,
    |app: TestApp| {
        const RACERS: usize = 8;
        let token = app.signup("race@example.com");
        seed(&app, &token);
        let before = reports(&app, &token);
        let stores: Vec<llmlab_store::Store> = (0..RACERS)
            .map(|_| llmlab_store::Store::connect(app.db().url(), 2).unwrap())
            .collect();
        let now = Utc::now();
        let race = |f: &(dyn Fn(usize, &llmlab_store::Store) -> Option<usize> + Sync)| {
            let start = std::sync::Barrier::new(RACERS);
            std::thread::scope(|scope| {
                let runs: Vec<_> = stores
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let start = &start;
                        scope.spawn(move || {
                            start.wait();
                            f(i, s)
                        })
                    })
                    .collect();
                runs.into_iter()
                    .map(|r| r.join().unwrap())
                    .collect::<Vec<_>>()
            })
        };
        let job = "retention-race-test";
        let (naive, lease) = (now.naive_utc(), now.naive_utc() + Duration::minutes(5));
        let took = race(&|i, s| {
            s.take_lease(job, &format!("instance-{i}"), naive, lease)
                .unwrap()
                .then_some(i)
        });
        assert_eq!(took.iter().flatten().count(), 1, "{took:?}");
        let runs = race(&|i, s| {
            retention::run(s, &format!("instance-{i}"), KEEP, now, usize::MAX)
                .unwrap()
                .map(|r| r.deleted)
        });
        let deleted: usize = runs.iter().flatten().sum();
        assert_eq!(deleted, 2 * (DAYS as usize - KEEP as usize), "{runs:?}");
        assert_eq!(event_count(&app, &token).0, 60);
        assert_eq!(reports(&app, &token), before);
    }
);

fn refuses_expired_events(backend: llmlab_store::Backend) {
    let Some(app) = spawn_app_with(backend, &[("LLMLAB_RETENTION_DAYS", "30")]) else {
        return;
    };
    let token = app.signup("window@example.com");
    let at = |days: i64| (Utc::now() - Duration::days(days)).to_rfc3339();
    let event = |days| {
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
               "timestamp": at(days)})
    };
    let r = app.post("/api/events/track", &token, event(40));
    crate::assert_invalid(&r, "timestamp");
    assert_eq!(app.post("/api/events/track", &token, event(10)).status, 201);
    let r = app.post(
        "/api/events/batch",
        &token,
        json!({"events": [event(40), event(1)]}),
    );
    assert_eq!(r.json()["accepted"], 1, "{}", r.text());
}

llmlab_store::both_backends!(events_older_than_the_window_are_refused, via refuses_expired_events);
