//! Recommendations from seeded history: every number is recomputed here from the API's
//! own reports or from the catalog prices, never taken on trust.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::{TestApp, both};

/// gpt-4 at $30/$60 per million tokens: nano-dollars per token.
const GPT4_IN: i64 = 30_000;
const GPT4_OUT: i64 = 60_000;
/// gpt-4o at $2.50/$10.
const GPT4O_IN: i64 = 2_500;
const GPT4O_OUT: i64 = 10_000;

fn usd(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// 35 days of steady gpt-4 traffic (10–12 calls a day) and, two days ago, a burst of
/// claude-3-opus calls from one team. Returns the total gpt-4 input and output tokens.
fn seed(app: &TestApp, token: &str, today: NaiveDate) -> (i64, i64) {
    let mut events = Vec::new();
    let (mut input, mut output) = (0, 0);
    for d in 1..=35i64 {
        let day = today - Duration::days(d);
        for i in 0..(10 + d % 3) {
            let (inp, out) = (1_000 + 10 * i, 200 + i);
            input += inp;
            output += out;
            events.push(json!({
                "provider": "openai", "model": "gpt-4-0613",
                "input_tokens": inp, "output_tokens": out,
                "timestamp": format!("{day}T10:{i:02}:00Z"),
                "tags": {"team": "core"},
            }));
        }
    }
    let spike = today - Duration::days(2);
    for i in 0..50 {
        events.push(json!({
            "provider": "anthropic", "model": "claude-3-opus-20240229",
            "input_tokens": 2_000, "output_tokens": 1_000,
            "timestamp": format!("{spike}T15:{i:02}:00Z"),
            "tags": {"team": "research"},
        }));
    }
    let r = app.post("/api/events/batch", token, json!({ "events": events }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rejected"], 0, "{}", r.text());
    (input, output)
}

both!(anomalies_switches_and_tips_from_own_data, |app: TestApp| {
    let token = app.signup("recs@example.com");
    let today = Utc::now().date_naive();
    let (input, output) = seed(&app, &token, today);
    let spike = today - Duration::days(2);

    // The spike, scored against the 28 days before it as the summary reports them.
    let r = app.get(
        "/api/recommendations/anomalies?days=30&threshold=2.5",
        &token,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let anomalies = body["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 1, "{body}");
    let a = &anomalies[0];
    assert_eq!(a["date"], spike.to_string());
    let summary = app.get(
        &format!(
            "/api/costs/summary?start={}&end={}",
            today - Duration::days(35),
            today
        ),
        &token,
    );
    let by_date: Vec<(String, f64)> = summary.json()["by_date"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].as_str().unwrap().to_string(), usd(&d["cost_usd"])))
        .collect();
    let at = by_date
        .iter()
        .position(|(d, _)| *d == spike.to_string())
        .unwrap();
    // The day's expectation comes from the 28 days before it, as the summary reports
    // them (their trend and weekday profile): inside their range, far below the spike.
    let baseline: Vec<f64> = by_date[at - 28..at].iter().map(|(_, c)| *c).collect();
    let (low, high) = baseline
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), c| (l.min(*c), h.max(*c)));
    let expected = usd(&a["mean_usd"]);
    assert!(
        low <= expected && expected <= high,
        "{expected} outside {low}..{high}"
    );
    assert!(close(usd(&a["cost_usd"]), by_date[at].1));
    assert!(close(usd(&a["excess_usd"]), by_date[at].1 - expected));
    assert!(usd(&a["z_score"]) >= 2.5, "{a}");
    assert_eq!(a["severity"], "high");
    assert_eq!(a["method"], "zscore");
    assert!(a["seasonal_z_score"].as_f64().unwrap() >= 2.5, "{a}");
    // The burst's model, provider and team are named as its drivers.
    let drivers = a["drivers"].as_array().unwrap();
    let top = |dim: &str| {
        drivers
            .iter()
            .find(|d| d["dimension"] == dim)
            .unwrap_or_else(|| panic!("no {dim} driver in {a}"))
    };
    assert_eq!(top("model")["label"], "anthropic/claude-3-opus");
    assert!(usd(&top("model")["share_pct"]) > 90.0);
    assert_eq!(top("provider")["label"], "anthropic");
    assert_eq!(top("tag")["label"], "team:research");

    // gpt-4 → gpt-4o, priced from the same token sums over a 60-day window.
    let r = app.get("/api/recommendations/model-switching?days=60", &token);
    assert_eq!(r.status, 200, "{}", r.text());
    let recs = r.json()["recommendations"].as_array().unwrap().clone();
    let switch = recs
        .iter()
        .find(|s| s["current_model"] == "gpt-4" && s["suggested_model"] == "gpt-4o")
        .unwrap_or_else(|| panic!("no gpt-4 → gpt-4o in {recs:?}"));
    let current = (input * GPT4_IN + output * GPT4_OUT) * 30 / 60;
    let projected = (input * GPT4O_IN + output * GPT4O_OUT) * 30 / 60;
    assert!(
        close(
            usd(&switch["current_monthly_cost_usd"]),
            current as f64 / 1e9
        ),
        "{switch}"
    );
    assert!(close(
        usd(&switch["projected_monthly_cost_usd"]),
        projected as f64 / 1e9
    ));
    assert!(close(
        usd(&switch["monthly_savings_usd"]),
        (current - projected) as f64 / 1e9
    ));
    let pct = ((current - projected) as f64 / current as f64 * 10_000.0).round() / 100.0;
    assert!((usd(&switch["savings_pct"]) - pct).abs() < 0.011);
    assert_eq!(switch["relation"], "same_tier_newer");
    assert_eq!(switch["evidence"]["input_tokens"], input, "{switch}");
    assert_eq!(switch["evidence"]["output_tokens"], output, "{switch}");
    assert_eq!(switch["evidence"]["window_days"], 60);
    for s in &recs {
        assert!(usd(&s["monthly_savings_usd"]) > 0.0, "{s}");
    }

    // Everything together: the total counts each model once.
    let r = app.get("/api/recommendations?days=60", &token);
    assert_eq!(r.status, 200, "{}", r.text());
    let all = r.json();
    assert_eq!(all["anomalies"].as_array().unwrap().len(), 1);
    let mut per_model: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for s in all["model_switches"].as_array().unwrap() {
        let key = format!("{}/{}", s["provider"], s["current_model"]);
        let slot = per_model.entry(key).or_default();
        slot.0 = slot.0.max(usd(&s["monthly_savings_usd"]));
    }
    for o in all["optimizations"].as_array().unwrap() {
        assert!(o["evidence"].is_object(), "{o}");
        assert!(usd(&o["estimated_monthly_savings_usd"]) > 0.0, "{o}");
        let slot = per_model
            .entry(format!("{}/{}", o["provider"], o["model"]))
            .or_default();
        slot.1 += usd(&o["estimated_monthly_savings_usd"]);
    }
    let expected: f64 = per_model.values().map(|(s, t)| s.max(*t)).sum();
    assert!((usd(&all["total_potential_monthly_savings_usd"]) - expected).abs() < 1e-6);
    assert!(all["generated_at"].is_string());

    // Another user sees none of it.
    let other = app.signup("other@example.com");
    let r = app.get("/api/recommendations", &other).json();
    assert_eq!(r["anomalies"], json!([]));
    assert_eq!(r["model_switches"], json!([]));
    assert_eq!(r["optimizations"], json!([]));
    assert_eq!(r["total_potential_monthly_savings_usd"], 0);
});

both!(recommendation_parameters_are_validated, |app: TestApp| {
    let token = app.signup("params@example.com");
    for (query, field) in [
        ("/api/recommendations/anomalies?threshold=abc", "threshold"),
        ("/api/recommendations/anomalies?days=0", "days"),
        // An empty value is not the default: it is not a number.
        ("/api/recommendations/anomalies?days=&threshold=0.5", "days"),
        ("/api/costs/top-models?limit=", "limit"),
        ("/api/recommendations/anomalies?method=magic", "method"),
        ("/api/recommendations/model-switching?days=1000", "days"),
        ("/api/recommendations?threshold=-1", "threshold"),
    ] {
        let r = app.get(query, &token);
        assert_eq!(r.status, 422, "{query}: {}", r.text());
        assert_eq!(r.json()["error"]["details"]["field"], field, "{query}");
    }
    // A flat or empty history gives no anomalies, not NaN.
    let r = app.get("/api/recommendations/anomalies?method=robust", &token);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["anomalies"], json!([]));
    assert_eq!(r.json()["method"], "robust");
});

both!(
    long_prompts_are_priced_at_the_long_context_tier,
    |app: TestApp| {
        let token = app.signup("long@example.com");
        let now = Utc::now();
        let events: Vec<Value> = (0..20)
            .map(|i| {
                let input = if i < 10 { 200_000 } else { 1_000 };
                json!({"provider": "google", "model": "gemini-1.5-pro", "input_tokens": input,
                   "output_tokens": 1_000,
                   "timestamp": (now - Duration::hours(i + 1)).to_rfc3339()})
            })
            .collect();
        let r = app.post("/api/events/batch", &token, json!({ "events": events }));
        assert_eq!(r.json()["accepted"], 20, "{}", r.text());
        let recs = app
            .get("/api/recommendations/model-switching", &token)
            .json();
        let switch = recs["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current_model"] == "gemini-1.5-pro")
            .unwrap_or_else(|| panic!("no switch from gemini-1.5-pro in {recs}"))
            .clone();
        // Ten prompts above 128k at $2.50/$10, ten below at $1.25/$5, per million tokens:
        // 10 × (200,000 × 2.5 + 1,000 × 10) + 10 × (1,000 × 1.25 + 1,000 × 5) = $5.1625.
        // At the standard rates alone it would be $2.6125.
        assert!(
            close(usd(&switch["current_monthly_cost_usd"]), 5.1625),
            "{switch}"
        );
        assert_eq!(
            switch["evidence"]["current_long_context"], "exact",
            "{switch}"
        );
    }
);

// Eight weeks in which every Monday has four times the traffic of the other days, and
// nothing else happens (days vary by ±10 %): a weekly pattern, which no day of the window
// is flagged for, the first Mondays included. A spike planted on a Wednesday is found.
// A scheduled job spends exactly the same every day: its baseline has no spread, and a
// fivefold day must still be found.
both!(a_spike_after_identical_days_is_found, |app: TestApp| {
    let token = app.signup("cron@example.com");
    let today = Utc::now().date_naive();
    let days: Vec<Value> = (1..=21i64)
        .map(|d| {
            let usd = if d == 1 { 5.0 } else { 1.0 };
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
                   "output_tokens": 1, "cost_usd": usd,
                   "timestamp": format!("{}T12:00:00Z", today - Duration::days(d))})
        })
        .collect();
    let r = app.post("/api/events/batch", &token, json!({ "events": days }));
    assert_eq!(r.json()["accepted"], 21, "{}", r.text());
    let found = app
        .get("/api/recommendations/anomalies?days=30", &token)
        .json();
    let anomalies = found["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 1, "{found}");
    let yesterday = (today - Duration::days(1)).to_string();
    assert_eq!(anomalies[0]["date"], yesterday.as_str(), "{found}");
    assert_eq!(anomalies[0]["severity"], "high", "{found}");
});

both!(a_weekly_pattern_is_not_an_anomaly, |app: TestApp| {
    let token = app.signup("mondays@example.com");
    let today = Utc::now().date_naive();
    let events = |extra: Option<NaiveDate>| -> Vec<Value> {
        (1..=56i64)
            .map(|d| (d, today - Duration::days(d)))
            .map(|(d, day)| {
                let monday = day.format("%a").to_string() == "Mon";
                // $0.90 to $1.10 a day, as real spend varies; four times that on Mondays.
                let cents = 90 + 5 * (d * 3 % 5);
                let mut usd = f64::from(cents as u32) / 100.0 * if monday { 4.0 } else { 1.0 };
                if Some(day) == extra {
                    usd += 10.0;
                }
                json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
                       "output_tokens": 1, "cost_usd": usd,
                       "timestamp": format!("{day}T12:00:00Z")})
            })
            .collect()
    };
    let r = app.post(
        "/api/events/batch",
        &token,
        json!({ "events": events(None) }),
    );
    assert_eq!(r.json()["accepted"], 56, "{}", r.text());
    let r = app.get(
        "/api/recommendations/anomalies?days=60&threshold=2.0",
        &token,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["anomalies"], json!([]), "{}", r.text());

    let other = app.signup("spike@example.com");
    let wednesday = (22..29)
        .map(|d| today - Duration::days(d))
        .find(|d| d.format("%a").to_string() == "Wed")
        .unwrap();
    let r = app.post(
        "/api/events/batch",
        &other,
        json!({ "events": events(Some(wednesday)) }),
    );
    assert_eq!(r.json()["accepted"], 56, "{}", r.text());
    let found = app
        .get(
            "/api/recommendations/anomalies?days=60&threshold=2.0",
            &other,
        )
        .json();
    let dates = crate::strings(&found["anomalies"], "date");
    assert_eq!(dates, [wednesday.to_string()], "{found}");
});
