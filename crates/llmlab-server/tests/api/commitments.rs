//! Commitments over HTTP: consumption read from the ledger in scope and period, what
//! remains, the forecast to the end, underuse and the day the amount runs out.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::{TestApp, assert_error, assert_invalid, both, find_by};

fn track(app: &TestApp, token: &str, provider: &str, model: &str, usd: &str, day: NaiveDate) {
    let r = app.post(
        "/api/events/track",
        token,
        json!({"provider": provider, "model": model, "input_tokens": 1, "output_tokens": 1,
               "cost_usd": usd.parse::<f64>().unwrap(), "timestamp": format!("{day}T12:00:00Z")}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

fn commit(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/commitments", token, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

both!(commitments_are_consumed_by_the_ledger, |app: TestApp| {
    let token = app.signup("finance@example.com");
    let today = Utc::now().date_naive();
    let start = today - Duration::days(9);
    // $3 of OpenAI on each of the nine days before today; outside the scope, $50 of
    // Anthropic, and $40 of OpenAI before the start.
    for d in 0..9 {
        track(
            &app,
            &token,
            "openai",
            "gpt-4o",
            "3",
            start + Duration::days(d),
        );
    }
    track(&app, &token, "anthropic", "claude-sonnet-4-5", "50", start);
    track(
        &app,
        &token,
        "openai",
        "gpt-4o",
        "40",
        start - Duration::days(3),
    );

    let end = start + Duration::days(29);
    let roomy = commit(
        &app,
        &token,
        json!({"name": "OpenAI prepaid", "provider": "openai",
        "amount_usd": 100, "start": start.to_string(), "end": end.to_string()}),
    );
    assert_eq!(
        (
            roomy["consumed_usd"].to_string(),
            roomy["remaining_usd"].to_string()
        ),
        ("27".into(), "73".into())
    );
    // Nine days of history is too little for the weekday model: the straight line,
    // $27 over the time elapsed, stretched to the 30 days: about $3 × 30 = $90 (a little
    // less, today counting as elapsed without spend), so about $10 left unused.
    let forecast = roomy["forecast_end_usd"].as_f64().unwrap();
    assert!((81.0..=90.0).contains(&forecast), "{roomy}");
    let unused = roomy["projected_unused_usd"].as_f64().unwrap();
    assert!((unused - (100.0 - forecast)).abs() < 1e-9, "{roomy}");
    assert_eq!(roomy["projected_exhaustion_date"], Value::Null);

    // $50 for everything, Anthropic's $50 included: used up already, no date to come.
    let all = commit(
        &app,
        &token,
        json!({"name": "All providers", "amount_usd": 50,
        "start": start.to_string(), "end": end.to_string()}),
    );
    assert_eq!(
        (
            all["consumed_usd"].to_string(),
            all["remaining_usd"].to_string()
        ),
        ("77".into(), "0".into())
    );
    assert_eq!(all["projected_exhaustion_date"], Value::Null);

    // $40 of OpenAI: the straight line crosses it at elapsed × 40 / 27 from the start.
    let tight = commit(
        &app,
        &token,
        json!({"name": "OpenAI tight", "provider": "openai",
        "amount_usd": 40, "start": start.to_string(), "end": end.to_string()}),
    );
    let start_at = start.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let elapsed = Utc::now() - start_at;
    let expected = (start_at + elapsed * 40 / 27).date_naive();
    let got: NaiveDate = tight["projected_exhaustion_date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (got - expected).num_days().abs() <= 1,
        "{tight}, expected {expected}"
    );
    assert_eq!(tight["projected_unused_usd"], Value::Null);

    // Not started: nothing consumed, no forecast. Ended: its forecast is what it consumed.
    let later = commit(
        &app,
        &token,
        json!({"name": "Next year", "amount_usd": 10,
        "start": (today + Duration::days(30)).to_string(), "end": (today + Duration::days(60)).to_string()}),
    );
    assert_eq!(
        (
            later["consumed_usd"].to_string(),
            later["forecast_end_usd"].clone()
        ),
        ("0".into(), Value::Null)
    );
    let past = commit(
        &app,
        &token,
        json!({"name": "Last week", "provider": "openai", "amount_usd": 10,
        "start": (start - Duration::days(5)).to_string(), "end": (start - Duration::days(1)).to_string()}),
    );
    assert_eq!(
        (
            past["consumed_usd"].to_string(),
            past["forecast_end_usd"].to_string(),
            past["remaining_usd"].to_string()
        ),
        ("40".into(), "40".into(), "0".into())
    );

    // The budgets page shows them with the same figures.
    let cookie = crate::dashboard::sign_in(&app, "finance@example.com");
    let html = crate::dashboard::page(&app, "/budgets", Some(&cookie)).text();
    let row = format!(
        "<th scope=\"row\">OpenAI prepaid</th><td>openai</td><td>{start} – {end}</td><td>$100.00</td><td>$27.00</td><td>$73.00</td>"
    );
    assert!(html.contains(&row), "{row} in {html}");
    let listed = app.get("/api/commitments", &token).json();
    assert_eq!(listed["commitments"].as_array().unwrap().len(), 5);
    assert_eq!(
        find_by(&listed["commitments"], "name", "OpenAI prepaid")["consumed_usd"].to_string(),
        "27"
    );
    let path = format!("/api/commitments/{}", later["id"]);
    assert_eq!(app.call("DELETE", &path, Some(&token), None).status, 204);
    assert_error(
        &app.call("DELETE", &path, Some(&token), None),
        404,
        "not_found",
    );
    assert_eq!(
        app.get("/api/commitments", &token).json()["commitments"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
});

both!(bad_commitments_are_refused, |app: TestApp| {
    let token = app.signup("bad-commit@example.com");
    let ok = json!({"name": "c", "amount_usd": 1, "start": "2026-01-01", "end": "2026-12-31"});
    let with = |key: &str, value: Value| {
        let mut b = ok.clone();
        b[key] = value;
        b
    };
    assert_invalid(
        &app.post("/api/commitments", &token, with("end", json!("2025-12-31"))),
        "end",
    );
    assert_invalid(
        &app.post("/api/commitments", &token, with("start", json!("Jan 1"))),
        "start",
    );
    assert_invalid(
        &app.post("/api/commitments", &token, with("amount_usd", json!(0))),
        "amount_usd",
    );
    assert_invalid(
        &app.post("/api/commitments", &token, with("provider", json!("acme"))),
        "provider",
    );
    assert_invalid(
        &app.post("/api/commitments", &token, with("name", json!(" "))),
        "name",
    );
    commit(&app, &token, ok.clone());
    assert_error(&app.post("/api/commitments", &token, ok), 409, "conflict");
    // An API key never manages them.
    let r = app.post("/api/keys", &token, json!({"name": "svc"}));
    let key = r.json()["key"].as_str().unwrap().to_string();
    let r = app.post(
        "/api/commitments",
        &key,
        json!({"name": "k", "amount_usd": 1, "start": "2026-01-01", "end": "2026-01-31"}),
    );
    assert_error(&r, 403, "forbidden");
});

fn notices(backend: llmlab_store::Backend) {
    let sink = crate::smtp::SmtpSink::start();
    let Some(app) = crate::channels::spawn(backend, &sink) else {
        return;
    };
    let hook = crate::receiver::Receiver::start(|_| 200);
    let token = app.signup("commit-notices@example.com");
    crate::channels::channel(
        &app,
        &token,
        json!({"name": "finance", "kind": "webhook", "url": hook.url(), "events": ["forecast"]}),
    );
    // Forty days of $10 a day up to yesterday.
    let today = Utc::now().date_naive();
    let events: Vec<Value> = (1..=40)
        .map(|k| {
            let day = today - Duration::days(k);
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
                   "cost_usd": 10, "timestamp": format!("{day}T12:00:00Z")})
        })
        .collect();
    let r = app.post("/api/events/batch", &token, json!({ "events": events }));
    assert_eq!(r.json()["accepted"], 40, "{}", r.text());
    // Both began twenty days ago and end in nineteen days, with $200 consumed: $300 runs
    // out around ten days from now; $1,000 ends at about $390, well under.
    let (start, end) = (today - Duration::days(20), today + Duration::days(19));
    for (name, amount) in [("Tight", 300), ("Roomy", 1000), ("Fine", 400)] {
        commit(
            &app,
            &token,
            json!({"name": name, "amount_usd": amount, "provider": "openai",
            "start": start.to_string(), "end": end.to_string()}),
        );
    }
    let now = Utc::now();
    let recorded = crate::channels::tick_racing(&app, now);
    assert_eq!(recorded, 2, "a notice for Tight and one for Roomy");
    assert_eq!(crate::channels::tick_racing(&app, now), 0, "each once");
    let got = crate::channels::eventually("two notices", || {
        let r = hook.requests();
        (r.len() >= 2).then_some(r)
    });
    let by_name = |name: &str| {
        got.iter()
            .map(|r| r.json())
            .find(|b| b["data"]["commitment_name"] == name)
            .unwrap_or_else(|| panic!("no notice for {name}"))
    };
    let tight = by_name("Tight");
    assert_eq!(tight["event"], "forecast");
    assert_eq!(tight["data"]["consumed_usd"], 200);
    let runs_out: NaiveDate = tight["data"]["projected_exhaustion_date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (runs_out - (today + Duration::days(10))).num_days().abs() <= 1,
        "{tight}"
    );
    let roomy = by_name("Roomy");
    assert_eq!(roomy["data"]["projected_exhaustion_date"], Value::Null);
    let unused = roomy["data"]["projected_unused_usd"].as_f64().unwrap();
    assert!((560.0..=660.0).contains(&unused), "{roomy}");
}

llmlab_store::both_backends!(commitments_headed_off_course_are_told, via notices);
