//! The notification scheduler visits only the workspaces that are due, on whichever
//! instance leases them first; an idle tick costs the same few statements however many
//! workspaces there are; an alert whose instance stopped before telling its channels is
//! told by the next tick.

use chrono::Utc;
use llmlab_app::notifications::Tick;
use llmlab_store::{BudgetId, WorkspaceId};
use serde_json::json;

use crate::channels::{channel, spawn, tick};
use crate::receiver::Receiver;
use crate::smtp::SmtpSink;

fn visits_only_what_is_due(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let hook = Receiver::start(|_| 200);
    let token = app.signup("tenants@example.com");
    // Twelve workspaces with a channel each.
    let mut spaces = Vec::new();
    for k in 0..12 {
        let r = app.post(
            "/api/workspaces",
            &token,
            json!({"name": format!("team {k}")}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let ws = r.json()["id"].as_i64().unwrap();
        let body = json!({"name": "hook", "kind": "webhook", "url": hook.url(),
                          "events": ["anomaly", "unpriced", "forecast"]});
        let r = app.call_in(Some(ws), "POST", "/api/channels", Some(&token), Some(&body));
        assert_eq!(r.status, 201, "{}", r.text());
        spaces.push(ws);
    }
    // Each is visited once, by one of the racing instances.
    let (first, statements) = tick(&app, Utc::now());
    assert_eq!(first.visited, 12);
    // What the visits read is read for the batch: a per-workspace read would be 12 or
    // more statements each.
    assert!(
        statements <= 20,
        "a tick visiting 12 workspaces sent {statements} statements"
    );
    // Nothing new: nothing visited, and the tick's cost does not grow with tenants.
    let (idle, statements) = tick(&app, Utc::now());
    assert_eq!(idle, Tick::default());
    assert!(statements <= 4, "an idle tick sent {statements} statements");
    // An event in one workspace makes that one due, and only it.
    let body = json!({"provider": "openai", "model": "gpt-9-preview", "input_tokens": 5,
                      "output_tokens": 5});
    let r = app.call_in(
        Some(spaces[3]),
        "POST",
        "/api/events/track",
        Some(&token),
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Marked by the evaluation that follows ingestion, off the request's path.
    crate::channels::eventually("the workspace marked due", || {
        let due = app
            .db()
            .store()
            .notifications_due_at(WorkspaceId(spaces[3]))
            .unwrap()?;
        (due <= Utc::now().timestamp_micros()).then_some(())
    });
    let (after, _) = tick(&app, Utc::now());
    assert_eq!(after.visited, 1);
    assert_eq!(after.new, 1, "the unpriced model, once");
    assert_eq!(tick(&app, Utc::now()).0, Tick::default());
    // Its first channel was created before: a workspace without channels is never due.
    let r = app.post("/api/workspaces", &token, json!({"name": "quiet"}));
    let quiet = r.json()["id"].as_i64().unwrap();
    let r = app.call_in(
        Some(quiet),
        "POST",
        "/api/events/track",
        Some(&token),
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        app.db()
            .store()
            .notifications_due_at(WorkspaceId(quiet))
            .unwrap(),
        None
    );
}

llmlab_store::both_backends!(the_scheduler_visits_only_what_is_due, via visits_only_what_is_due);

fn untold_alerts_are_told(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let hook = Receiver::start(|_| 200);
    let token = app.signup("untold@example.com");
    let ws = app.get("/api/auth/me", &token).json()["workspaces"][0]["id"]
        .as_i64()
        .unwrap();
    channel(
        &app,
        &token,
        json!({"name": "hook", "kind": "webhook", "url": hook.url(), "events": ["budget"]}),
    );
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "b", "amount_usd": 100, "period": "monthly"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let budget = r.json()["id"].as_i64().unwrap();
    // An instance records the alert and stops before telling the channels.
    let store = app.db().store();
    let alert = llmlab_store::NewAlert {
        budget_id: BudgetId(budget),
        period_start: 0,
        level: "warning".into(),
        spent_nanos: 80_000_000_000,
        amount_nanos: 100_000_000_000,
    };
    store
        .record_alert(WorkspaceId(ws), &alert)
        .unwrap()
        .unwrap();
    // A tick right away leaves it to the request that raised it; a later one tells the
    // channel, once.
    assert_eq!(tick(&app, Utc::now()).0.new, 0);
    let later = Utc::now() + chrono::Duration::minutes(2);
    assert_eq!(tick(&app, later).0.new, 1);
    assert_eq!(tick(&app, later).0.new, 0);
    let got = crate::channels::eventually("the alert's notice", || {
        hook.requests()
            .into_iter()
            .find(|r| r.json()["event"] == "budget")
    });
    assert_eq!(got.json()["data"]["level"], "warning");
}

llmlab_store::both_backends!(an_untold_alert_is_told_by_the_next_tick, via untold_alerts_are_told);

// The server's own scheduler reports what its ticks cost in /metrics.
fn ticks_are_measured(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) =
        crate::channels::spawn_with(backend, &sink, &[("LLMLAB_NOTIFY_INTERVAL_SECS", "1")])
    else {
        return;
    };
    let token = app.signup("metrics@example.com");
    let hook = Receiver::start(|_| 200);
    channel(
        &app,
        &token,
        json!({"name": "hook", "kind": "webhook", "url": hook.url(), "events": ["anomaly"]}),
    );
    let value = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
    };
    let text = crate::channels::eventually("a tick that visited the workspace", || {
        let text = app.call("GET", "/metrics", None, None).text();
        (value(&text, "llmlab_notify_workspaces_visited_total")? >= 1.0).then_some(text)
    });
    assert!(value(&text, "llmlab_notify_tick_seconds_count").unwrap() >= 1.0);
    assert!(value(&text, "llmlab_notify_tick_statements_sum").unwrap() >= 1.0);
}

llmlab_store::both_backends!(notification_ticks_are_measured, via ticks_are_measured);
