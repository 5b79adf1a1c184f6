//! What one workspace reads never holds another's figures: two accounts with data side
//! by side, and every read that adds data up for a period (the weekly and monthly
//! reports, the CSV and FOCUS exports, the forecast) checked for the other's.

use chrono::{Duration, Utc};
use llmlab_app::digest;
use llmlab_app::notify::notice::Event;
use llmlab_engine::Usd;
use llmlab_engine::period::Zone;
use llmlab_engine::providers::Catalog;
use llmlab_store::WorkspaceId;
use serde_json::json;

use crate::{TestApp, both};

/// `n` events of `model` a minute ago, their ids and tag naming `who`.
fn ingest(app: &TestApp, token: &str, who: &str, model: &str, n: usize) {
    let at = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let events: Vec<_> = (0..n)
        .map(|i| {
            json!({"provider": if model.starts_with("claude") { "anthropic" } else { "openai" },
                   "model": model, "input_tokens": 1000, "output_tokens": 100,
                   "timestamp": at, "event_id": format!("{who}-secret-{i}"),
                   "tags": {"team": who}})
        })
        .collect();
    let r = app.post("/api/events/batch", token, json!({ "events": events }));
    assert_eq!(r.json()["accepted"], n, "{}", r.text());
}

/// Neither the other account's model, tag value nor event ids appear in `text`.
fn clean(text: &str, what: &str) {
    for foreign in ["claude", "bravo"] {
        assert!(!text.contains(foreign), "{what} holds {foreign:?}: {text}");
    }
}

both!(no_read_of_one_workspace_holds_another, |app: TestApp| {
    let alpha = app.signup("alpha@example.com");
    let bravo = app.signup("bravo@example.com");
    // Alpha: 3 gpt-4o calls of 1000 in / 100 out at $2.50/$10 per Mtok:
    // 3 × (0.0025 + 0.001) = 0.0105. Bravo spends far more on another model.
    ingest(&app, &alpha, "alpha", "gpt-4o", 3);
    ingest(&app, &bravo, "bravo", "claude-sonnet-4-5", 40);
    let start = (Utc::now() - Duration::days(2)).date_naive();

    let csv = app.get(&format!("/api/events/export?start={start}"), &alpha);
    assert_eq!(csv.status, 200, "{}", csv.text());
    clean(&csv.text(), "the CSV export");
    assert_eq!(csv.text().matches("alpha-secret-").count(), 3);

    let focus = app.get(
        &format!("/api/costs/export?format=focus&start={start}"),
        &alpha,
    );
    assert_eq!(focus.status, 200, "{}", focus.text());
    clean(&focus.text(), "the FOCUS export");
    let billed: i64 = focus
        .text()
        .lines()
        .skip(1)
        .map(|row| Usd::parse(row.split(',').next().unwrap()).unwrap().nanos())
        .sum();
    assert_eq!(billed, 10_500_000, "FOCUS BilledCost of alpha's 3 calls");

    let forecast = app.get("/api/costs/forecast?period=monthly", &alpha);
    assert_eq!(forecast.status, 200, "{}", forecast.text());
    let f = forecast.json();
    let month_start = f["period_start"].as_str().unwrap().to_owned();
    // A minute ago is in this month but in its first minute.
    if Utc::now() - Duration::minutes(1) >= month_start.parse::<chrono::DateTime<Utc>>().unwrap() {
        assert_eq!(f["spent_usd"].to_string(), "0.0105", "{f}");
    }
    for key in ["forecast_usd", "forecast_high_usd"] {
        if let Some(v) = f[key].as_f64() {
            assert!(v < 0.1, "{key} of alpha's $0.0105 month: {f}");
        }
    }

    // The reports, as the scheduler builds them for alpha's channels.
    let me = app.get("/api/auth/me", &alpha).json();
    let ws = WorkspaceId(me["workspaces"][0]["id"].as_i64().unwrap());
    let store = app.db().store();
    let now = Utc::now();
    for kind in [Event::ReportWeekly, Event::ReportMonthly] {
        let range = [
            now - Duration::days(14),
            now - Duration::days(7),
            now + Duration::hours(1),
        ];
        let notice = digest::build(
            &store,
            Catalog::builtin(),
            (ws, "alpha", Zone::UTC),
            kind,
            range,
            now,
        )
        .unwrap();
        let text = serde_json::to_string(&notice).unwrap();
        clean(&text, "a report");
        assert!(text.contains("gpt-4o"), "{text}");
        assert!(text.contains("0.0105"), "alpha's total: {text}");
    }
});
