//! Forecasts over HTTP: from the workspace's own daily history with an interval, or
//! flagged as a bare projection when the history is too short.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use serde_json::{Value, json};

use crate::{TestApp, assert_error, both};

fn dollars(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

both!(a_single_event_is_not_a_history, |app: TestApp| {
    // Seen before: one event early in the month projected linearly over the whole month,
    // with nothing to say how little that was worth.
    let token = app.signup("early@example.com");
    let r = app.post(
        "/api/events/track",
        &token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
               "cost_usd": "0.005"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "month", "amount_usd": 100, "period": "monthly"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let budget = &app.get("/api/budgets", &token).json()["budgets"][0];
    assert_eq!(budget["forecast_method"], "insufficient_history");
    assert_eq!(budget["forecast_low_usd"], Value::Null);
    assert_eq!(budget["forecast_high_usd"], Value::Null);
    assert!(dollars(&budget["forecast_usd"]) >= 0.005);

    let f = app.get("/api/costs/forecast?period=monthly", &token);
    assert_eq!(f.status, 200, "{}", f.text());
    let f = f.json();
    assert_eq!(f["forecast_method"], "insufficient_history");
    assert_eq!(f["spent_usd"], 0.005);
    assert_eq!(f["forecast_low_usd"], Value::Null);
    assert_eq!(f["period_start"], budget["period_start"]);

    assert_error(
        &app.get("/api/costs/forecast?period=total", &token),
        422,
        "validation_error",
    );
    assert_error(
        &app.get("/api/costs/forecast?period=yearly", &token),
        422,
        "validation_error",
    );
    assert_error(
        &app.get("/api/costs/forecast?tz=Mars/Base", &token),
        422,
        "validation_error",
    );
    assert_error(
        &app.call("GET", "/api/costs/forecast", None, None),
        401,
        "unauthorized",
    );
});

both!(eight_weeks_of_history_forecast_the_month, |app: TestApp| {
    // $10 every day at noon UTC for the 60 days before today: the month will cost $10 a
    // day, and the history is so regular that the interval is a point.
    let token = app.signup("steady@example.com");
    let now = Utc::now();
    let today = now.date_naive();
    let events: Vec<Value> = (1..=60)
        .map(|k| {
            let day = today - Duration::days(k);
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
                   "output_tokens": 1, "cost_usd": 10,
                   "timestamp": format!("{day}T12:00:00Z")})
        })
        .collect();
    let r = app.post("/api/events/batch", &token, json!({ "events": events }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 60, "{}", r.text());

    let f = app.get("/api/costs/forecast", &token).json();
    assert_eq!(f["forecast_method"], "weekday_trend", "{f}");
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let next = first.checked_add_months(chrono::Months::new(1)).unwrap();
    let days_in_month = (next - first).num_days() as f64;
    let elapsed_today = f64::from(now.num_seconds_from_midnight()) / 86_400.0;
    let spent = 10.0 * f64::from(today.day() - 1);
    assert_eq!(dollars(&f["spent_usd"]), spent);
    let expected = 10.0 * days_in_month - 10.0 * elapsed_today;
    let forecast = dollars(&f["forecast_usd"]);
    assert!(
        (forecast - expected).abs() < 0.05,
        "{forecast} vs {expected}"
    );
    let (low, high) = (
        dollars(&f["forecast_low_usd"]),
        dollars(&f["forecast_high_usd"]),
    );
    assert!(
        low <= forecast && forecast <= high && high - low < 0.01,
        "{f}"
    );
    assert_eq!(
        f["period_start"],
        Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).unwrap())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );

    // A budget over the same spend shows the same forecast.
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "month", "amount_usd": 1000, "period": "monthly"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let budget = r.json();
    assert_eq!(budget["forecast_method"], "weekday_trend");
    assert!((dollars(&budget["forecast_usd"]) - forecast).abs() < 0.01);
    // A scope with no spend has no history of its own.
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "claude", "amount_usd": 10, "period": "weekly",
               "scope": {"provider": "anthropic"}}),
    );
    assert_eq!(r.json()["forecast_method"], "insufficient_history");
    assert_eq!(r.json()["forecast_usd"], 0.0);
});
