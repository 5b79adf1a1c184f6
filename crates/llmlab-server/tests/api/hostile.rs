//! What a hostile client tried against a public deployment, each a test on both
//! backends: requests that must not crash, exhaust or corrupt the server, and credentials
//! that must not do more than they are for.

use serde_json::{Value, json};

use crate::{TestApp, both, client};

use crate::assert_error;

fn field(r: &crate::Response) -> Value {
    r.json()["error"]["details"]["field"].clone()
}

/// A key with `scopes` (`None`: the default) made by the session `token`.
fn key(app: &TestApp, token: &str, scopes: Option<&[&str]>) -> String {
    let mut body = json!({"name": "svc"});
    if let Some(s) = scopes {
        body["scopes"] = json!(s);
    }
    let r = app.post("/api/keys", token, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["key"].as_str().unwrap().to_string()
}

fn event(cost_usd: Option<i64>) -> Value {
    let mut e = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
        "output_tokens": 100, "timestamp": "2026-11-20T10:00:00Z"});
    if let Some(c) = cost_usd {
        e["cost_usd"] = json!(c);
    }
    e
}

// One request must not be able to make the server build an unbounded series.
both!(summary_range_is_bounded, |app: TestApp| {
    let token = app.signup("range@example.com");
    let r = app.get(
        "/api/costs/summary?start=0001-01-01&end=9999-12-31&granularity=hour",
        &token,
    );
    assert_error(&r, 422, "validation_error");
    assert_eq!(field(&r), "start");
    let r = app.get(
        "/api/costs/summary?start=1970-01-01&end=9999-12-31&granularity=hour",
        &token,
    );
    let v = assert_error(&r, 422, "validation_error");
    assert_eq!(field(&r), "granularity");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("10000"),
        "{v}"
    );
    // The longest ranges within the limit answer.
    let r = app.get(
        "/api/costs/summary?start=1970-01-01&end=1990-01-01&granularity=day",
        &token,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["by_date"].as_array().unwrap().len(), 7306);
    let r = app.get(
        "/api/costs/summary?start=1970-01-01&end=9999-12-31&granularity=month",
        &token,
    );
    assert_error(&r, 422, "validation_error");
    let r = app.get(
        "/api/costs/summary?start=2025-01-01&end=2025-12-31&granularity=hour",
        &token,
    );
    assert_eq!(r.status, 200, "{}", r.text());
});

// Dates chrono can parse but not compute with: a 422, never a panic.
both!(dates_outside_supported_years_are_422, |app: TestApp| {
    let token = app.signup("years@example.com");
    for (query, name) in [
        ("end=-262143-01-01", "end"),
        ("end=%2B262142-12-31", "end"),
        ("start=1969-12-31", "start"),
        ("end=0000-01-01T00:00:00Z", "end"),
        ("start=-0001-01-01", "start"),
    ] {
        for path in [
            "/api/costs/summary",
            "/api/costs/by-provider",
            "/api/costs/top-models",
            "/api/events",
            "/api/events/export",
        ] {
            let r = app.get(&format!("{path}?{query}"), &token);
            assert_error(&r, 422, "validation_error");
            assert_eq!(field(&r), name, "{path}?{query}");
        }
    }
    let mut e = event(None);
    e["timestamp"] = json!("0001-01-01T00:00:00Z");
    let r = app.post("/api/events/track", &token, e);
    assert_error(&r, 422, "validation_error");
    assert_eq!(field(&r), "timestamp");
    // The last supported day still answers.
    let r = app.get("/api/costs/summary?start=9999-12-01&end=9999-12-31", &token);
    assert_eq!(r.status, 200, "{}", r.text());
});

// Label values come from a closed set, whatever methods and paths clients invent.
both!(metrics_labels_are_bounded, |app: TestApp| {
    let invent = |i: usize| {
        let method = format!("X{i}{}", "M".repeat(2000));
        client::raw(app.addr, &method, "/api/health", &[], &[]);
        client::raw(app.addr, "GET", &format!("/nowhere/{i}"), &[], &[]);
    };
    invent(1000);
    app.call("GET", "/metrics", None, None);
    let before = app.call("GET", "/metrics", None, None).body.len();
    for i in 0..50 {
        invent(i);
    }
    let text = app.call("GET", "/metrics", None, None).text();
    assert!(!text.contains("MMMM"), "an invented method became a label");
    assert!(
        !text.contains("/nowhere"),
        "an unmatched path became a label"
    );
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(text.contains("route=\"unmatched\""), "{text}");
    assert!(
        text.len() < before + 200,
        "/metrics grew from {before} to {} bytes",
        text.len()
    );
});

both!(
    metrics_token_protects_metrics,
    &[("LLMLAB_METRICS_TOKEN", "scrape-secret-123")],
    |app: TestApp| {
        let r = app.call("GET", "/metrics", None, None);
        assert_error(&r, 401, "unauthorized");
        let r = app.call("GET", "/metrics", Some("wrong"), None);
        assert_error(&r, 401, "unauthorized");
        let r = app.call("GET", "/metrics", Some("scrape-secret-123"), None);
        assert_eq!(r.status, 200);
        assert!(r.text().contains("llmlab_http_requests"));
    }
);

// A client's cost is capped per event, and every sum stays exact at the caps.
both!(costs_are_capped_and_sums_cannot_overflow, |app: TestApp| {
    let token = app.signup("rich@example.com");
    let r = app.post("/api/events/track", &token, event(Some(5_000_000_000)));
    assert_error(&r, 422, "validation_error");
    assert_eq!(field(&r), "cost_usd");
    // 96 concurrent events at the cap: all stored, every report exact.
    let threads: Vec<_> = (0..96)
        .map(|_| {
            let (addr, token) = (app.addr, token.clone());
            std::thread::spawn(move || {
                let body = event(Some(1_000_000));
                let path = "/api/events/track";
                client::api(addr, None, "POST", path, Some(&token), Some(&body)).status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 201);
    }
    let range = "start=2026-11-01&end=2026-11-30";
    let s = app.get(&format!("/api/costs/summary?{range}"), &token);
    assert_eq!(s.status, 200, "{}", s.text());
    assert_eq!(s.json()["total_cost_usd"].to_string(), "96000000");
    // Up to the ledger's ceiling of $9,000,000,000 per account, then refused whole.
    let batch = json!({"events": vec![event(Some(1_000_000)); 1000]});
    for _ in 0..8 {
        let r = app.post("/api/events/batch", &token, batch.clone());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["accepted"], 1000);
    }
    let last = json!({"events": vec![event(Some(1_000_000)); 904]});
    let r = app.post("/api/events/batch", &token, last);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["accepted"], 904);
    let over = app.post("/api/events/batch", &token, batch.clone());
    assert_error(&over, 422, "limit_exceeded");
    let one = app.post("/api/events/track", &token, event(Some(1)));
    assert_error(&one, 422, "limit_exceeded");
    // A lone free event still fits, and another account is not affected.
    assert_eq!(
        app.post("/api/events/track", &token, event(Some(0))).status,
        201
    );
    let other = app.signup("other@example.com");
    assert_eq!(
        app.post("/api/events/track", &other, event(Some(1_000_000)))
            .status,
        201
    );
    let budget = json!({"name": "b", "amount_usd": 1000, "period": "total"});
    assert_eq!(app.post("/api/budgets", &token, budget).status, 201);
    for path in [
        format!("/api/costs/summary?{range}"),
        format!("/api/costs/by-provider?{range}"),
        format!("/api/costs/top-models?{range}"),
        format!("/api/costs/by-tag?key=team&{range}"),
        "/api/budgets".to_string(),
        "/api/recommendations".to_string(),
        "/api/recommendations/anomalies".to_string(),
    ] {
        let r = app.get(&path, &token);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    let s = app
        .get(&format!("/api/costs/summary?{range}"), &token)
        .json();
    assert_eq!(s["total_cost_usd"].to_string(), "9000000000");
    assert_eq!(s["total_calls"], 9001);
    let p = app
        .get(&format!("/api/costs/by-provider?{range}"), &token)
        .json();
    assert_eq!(p["providers"][0]["cost_usd"].to_string(), "9000000000");
    let b = app.get("/api/budgets", &token).json();
    assert_eq!(b["budgets"][0]["spent_usd"].to_string(), "9000000000");
    assert_eq!(b["budgets"][0]["status"], "exceeded");
    // 9,000 events at the cap and one free: one model, every call counted.
    let m = app
        .get(&format!("/api/costs/top-models?{range}"), &token)
        .json();
    assert_eq!(m["models"][0]["cost_usd"].to_string(), "9000000000");
    assert_eq!(m["models"][0]["calls"], 9001);
    assert_eq!(m["models"].as_array().unwrap().len(), 1);
    // No event carries the tag: nothing to list, and no overflow on the way.
    let t = app
        .get(&format!("/api/costs/by-tag?key=team&{range}"), &token)
        .json();
    assert_eq!(t["values"], json!([]), "{t}");
    // Savings are exact amounts no larger than what was spent.
    let rec = app.get("/api/recommendations", &token).json();
    let savings =
        llmlab_engine::Usd::parse(&rec["total_potential_monthly_savings_usd"].to_string())
            .unwrap_or_else(|e| panic!("{rec}: {e}"));
    assert!(savings.nanos() <= 9_000_000_000 * 1_000_000_000, "{rec}");
    let anomalies = app.get("/api/recommendations/anomalies", &token).json();
    for a in anomalies["anomalies"].as_array().unwrap() {
        assert!(a["cost_usd"].as_f64().unwrap() <= 9e9, "{anomalies}");
    }
});

/// Every route with what it needs: `None` for a session only, else the key scope.
const MATRIX: &[(&str, &str, Option<&str>)] = &[
    ("POST", "/api/events/track", Some("ingest")),
    ("POST", "/api/events/batch", Some("ingest")),
    ("GET", "/api/budgets/check", Some("ingest")),
    ("POST", "/api/costs/estimate", Some("ingest")),
    ("GET", "/api/events", Some("read")),
    ("GET", "/api/events/export", Some("read")),
    ("GET", "/api/costs/summary", Some("read")),
    ("GET", "/api/costs/by-provider", Some("read")),
    ("GET", "/api/costs/top-models", Some("read")),
    ("GET", "/api/costs/by-tag?key=team", Some("read")),
    ("GET", "/api/budgets", Some("read")),
    ("GET", "/api/budgets/999999/alerts", Some("read")),
    ("GET", "/api/recommendations", Some("read")),
    ("GET", "/api/recommendations/anomalies", Some("read")),
    ("GET", "/api/recommendations/model-switching", Some("read")),
    ("POST", "/api/keys", None),
    ("GET", "/api/keys", None),
    ("DELETE", "/api/keys/999999", None),
    ("POST", "/api/budgets", None),
    ("DELETE", "/api/budgets/999999", None),
    ("GET", "/api/budgets/webhook-secret", None),
    ("PUT", "/api/pricing/custom/openai/gpt-4o", None),
    ("GET", "/api/pricing/custom", None),
    ("DELETE", "/api/pricing/custom/openai/gpt-4o", None),
    ("GET", "/api/auth/me", None),
    ("GET", "/api/invitations", None),
    ("POST", "/api/invitations/999999/accept", None),
    ("DELETE", "/api/invitations/999999", None),
    // Last: the session's own logout ends it.
    ("POST", "/api/auth/logout", None),
];

// Each cell of docs/SECURITY.md's matrix: a session may do everything; a key only what
// its scopes name, and never manage the account.
both!(credential_scopes_matrix, |app: TestApp| {
    let token = app.signup("scopes@example.com");
    let ingest = key(&app, &token, None);
    let read = key(&app, &token, Some(&["read"]));
    let both = key(&app, &token, Some(&["ingest", "read"]));
    let listed = app.get("/api/keys", &token).json();
    let scopes: Vec<Value> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["scopes"].clone())
        .collect();
    assert_eq!(
        scopes,
        vec![
            json!(["ingest"]),
            json!(["read"]),
            json!(["ingest", "read"])
        ]
    );
    let body = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
        "output_tokens": 1, "events": [], "name": "x", "amount_usd": 1, "period": "daily",
        "input_per_mtok_usd": "1", "output_per_mtok_usd": "1"});
    for &(method, path, need) in MATRIX {
        for (cred, scopes) in [
            (&ingest, &["ingest"][..]),
            (&read, &["read"][..]),
            (&both, &["ingest", "read"][..]),
        ] {
            let r = app.call(method, path, Some(cred), Some(&body));
            let allowed = need.is_some_and(|n| scopes.contains(&n));
            if allowed {
                assert!(
                    r.status != 403 && r.status != 401 && r.status < 500,
                    "{method} {path} with {scopes:?}: {} {}",
                    r.status,
                    r.text()
                );
            } else {
                let v = assert_error(&r, 403, "forbidden");
                let details = &v["error"]["details"];
                match need {
                    None => assert_eq!(details["required"], "session", "{method} {path}"),
                    Some(n) => assert_eq!(details["required_scope"], n, "{method} {path}"),
                }
            }
        }
        let r = app.call(method, path, Some(&token), Some(&body));
        assert!(
            r.status != 403 && r.status != 401 && r.status < 500,
            "{method} {path} with a session: {} {}",
            r.status,
            r.text()
        );
    }
    // The leaked-key scenario: the key cannot mint a successor or revoke its owner's.
    let login = app.anonymous(
        "/api/auth/login",
        json!({"email": "scopes@example.com", "password": "correct horse"}),
    );
    let token = login.json()["token"].as_str().unwrap().to_string();
    let keys = app.get("/api/keys", &token).json();
    let id = keys["keys"][0]["id"].as_i64().unwrap();
    assert_eq!(
        app.post("/api/keys", &ingest, json!({"name": "x"})).status,
        403
    );
    assert_eq!(
        app.call("DELETE", &format!("/api/keys/{id}"), Some(&ingest), None)
            .status,
        403
    );
    let r = app.post(
        "/api/keys",
        &token,
        json!({"name": "x", "scopes": ["admin"]}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = app.post("/api/keys", &token, json!({"name": "x", "scopes": []}));
    assert_error(&r, 422, "validation_error");
});

both!(
    signups_are_limited_per_address,
    &[("LLMLAB_SIGNUPS_PER_HOUR", "5")],
    |app: TestApp| {
        let signup = |app: &TestApp, i: usize| {
            app.anonymous(
                "/api/auth/signup",
                json!({"email": format!("u{i}@example.com"), "password": "correct horse"}),
            )
        };
        for i in 0..5 {
            assert_eq!(signup(&app, i).status, 201);
        }
        let r = signup(&app, 5);
        assert_error(&r, 429, "rate_limited");
        assert!(r.header("Retry-After").is_some());
        // Shared by every instance on the database.
        let second = app.second_instance();
        assert_error(&signup(&second, 6), 429, "rate_limited");
    }
);

// One normal form for emails: the limiter cannot be sidestepped with a Kelvin sign.
both!(email_spellings_share_one_limit, |app: TestApp| {
    app.signup("mark@example.com");
    let login = |email: &str, password: &str| {
        app.anonymous(
            "/api/auth/login",
            json!({"email": email, "password": password}),
        )
    };
    for _ in 0..10 {
        assert_eq!(login("mark@example.com", "wrong password").status, 401);
    }
    let r = login("mar\u{212a}@example.com", "correct horse");
    assert_error(&r, 429, "rate_limited");
    let dup = app.anonymous(
        "/api/auth/signup",
        json!({"email": "MAR\u{212a}@example.com", "password": "correct horse"}),
    );
    assert_error(&dup, 409, "email_taken");
});

both!(control_characters_are_422_never_500, |app: TestApp| {
    let token = app.signup("nul@example.com");
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "a\u{0}b", "amount_usd": 10, "period": "monthly"}),
    );
    assert_error(&r, 422, "validation_error");
    assert_eq!(field(&r), "name");
    let cases = [
        ("model", json!("gpt\u{0}4o")),
        ("event_id", json!("id\u{0}")),
        ("provider", json!("open\u{1}ai")),
    ];
    for (name, value) in cases {
        let mut e = event(None);
        e[name] = value;
        let r = app.post("/api/events/track", &token, e);
        assert_error(&r, 422, "validation_error");
        assert_eq!(field(&r), name);
    }
    let mut e = event(None);
    e["tags"] = json!({"team": "a\u{0}"});
    let r = app.post("/api/events/track", &token, e.clone());
    assert_error(&r, 422, "validation_error");
    let r = app.post("/api/events/batch", &token, json!({"events": [e]}));
    assert_eq!(r.json()["rejected"], 1);
    let r = app.post("/api/keys", &token, json!({"name": "k\u{0}"}));
    assert_error(&r, 422, "validation_error");
    let r = app.anonymous(
        "/api/auth/signup",
        json!({"email": "a\u{0}@example.com", "password": "correct horse"}),
    );
    assert_error(&r, 422, "validation_error");
    for q in ["provider=%00", "model=a%00b", "tag=team:%00", "tag=%00:x"] {
        let r = app.get(&format!("/api/events?{q}"), &token);
        assert_error(&r, 422, "validation_error");
        let r = app.get(&format!("/api/costs/summary?{q}"), &token);
        assert_error(&r, 422, "validation_error");
    }
    let r = app.get("/api/costs/by-tag?key=%00", &token);
    assert_error(&r, 422, "validation_error");
    let r = app.call(
        "PUT",
        "/api/pricing/custom/openai/x%00y",
        Some(&token),
        Some(&json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "1"})),
    );
    assert_error(&r, 422, "validation_error");
    let r = app.call(
        "DELETE",
        "/api/pricing/custom/openai/x%00y",
        Some(&token),
        None,
    );
    assert_eq!(r.status, 404, "{}", r.text());
});

both!(
    accounts_hold_bounded_resources,
    &[
        ("LLMLAB_MAX_BUDGETS", "3"),
        ("LLMLAB_MAX_API_KEYS", "2"),
        ("LLMLAB_MAX_CUSTOM_PRICES", "2"),
    ],
    |app: TestApp| {
        let token = app.signup("many@example.com");
        for i in 0..3 {
            let b = json!({"name": format!("b{i}"), "amount_usd": 10, "period": "daily"});
            assert_eq!(app.post("/api/budgets", &token, b).status, 201);
        }
        let b = json!({"name": "b3", "amount_usd": 10, "period": "daily"});
        let r = app.post("/api/budgets", &token, b);
        let v = assert_error(&r, 422, "limit_exceeded");
        assert_eq!(v["error"]["details"]["limit"], 3);
        // Updating one at the limit is fine.
        let b = json!({"name": "b0", "amount_usd": 20, "period": "daily"});
        assert_eq!(app.post("/api/budgets", &token, b).status, 200);

        key(&app, &token, None);
        key(&app, &token, None);
        let r = app.post("/api/keys", &token, json!({"name": "third"}));
        assert_error(&r, 422, "limit_exceeded");

        let price = json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "2"});
        for m in ["m1", "m2"] {
            let r = app.call(
                "PUT",
                &format!("/api/pricing/custom/openai/{m}"),
                Some(&token),
                Some(&price),
            );
            assert_eq!(r.status, 200, "{}", r.text());
        }
        let put = |m: &str| {
            app.call(
                "PUT",
                &format!("/api/pricing/custom/openai/{m}"),
                Some(&token),
                Some(&price),
            )
        };
        assert_error(&put("m3"), 422, "limit_exceeded");
        assert_eq!(put("m1").status, 200);
        // Another account has its own allowance.
        let other = app.signup("few@example.com");
        let b = json!({"name": "b0", "amount_usd": 10, "period": "daily"});
        assert_eq!(app.post("/api/budgets", &other, b).status, 201);
    }
);

both!(csv_export_neutralises_formulas, |app: TestApp| {
    let token = app.signup("csv@example.com");
    for (i, value) in ["=1+1", "+cmd", "-2", "@SUM(A1)", "plain"]
        .iter()
        .enumerate()
    {
        let mut e = event(None);
        e["event_id"] = json!(value);
        e["tags"] = json!({"k": format!("v{i}")});
        assert_eq!(app.post("/api/events/track", &token, e).status, 201);
    }
    let csv = app.get("/api/events/export", &token).text();
    for line in csv.lines().skip(1) {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '@', '\t', '\r']),
                "formula cell {cell:?} in {line:?}"
            );
        }
    }
    assert!(csv.contains("'=1+1"), "{csv}");
    assert!(csv.contains("'@SUM(A1)"), "{csv}");
});

/// Random JSON, biased towards the shapes `track` and `batch` read.
fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("openai".to_string()),
            Just("gpt-4o".to_string()),
            Just("2026-11-20T10:00:00Z".to_string()),
            ".{0,40}",
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        let keys = prop_oneof![
            Just("provider".to_string()),
            Just("model".to_string()),
            Just("input_tokens".to_string()),
            Just("output_tokens".to_string()),
            Just("cached_input_tokens".to_string()),
            Just("cost_usd".to_string()),
            Just("timestamp".to_string()),
            Just("tags".to_string()),
            Just("event_id".to_string()),
            Just("events".to_string()),
            ".{0,8}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(keys, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// Whatever JSON arrives, ingestion answers 2xx or 4xx, never 5xx or a reset connection.
both!(random_json_never_breaks_ingestion, |app: TestApp| {
    use proptest::test_runner::{Config, TestRunner};
    let token = app.signup("fuzz@example.com");
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&json_value(), |v| {
        let base = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 10,
            "output_tokens": 5});
        let mut merged = base.clone();
        if let (Some(m), Some(extra)) = (merged.as_object_mut(), v.as_object()) {
            m.extend(extra.clone());
        }
        for (path, body) in [
            ("/api/events/track", v.clone()),
            ("/api/events/track", merged.clone()),
            (
                "/api/events/batch",
                json!({"events": [v.clone(), merged.clone(), base]}),
            ),
            ("/api/events/batch", v.clone()),
            ("/api/costs/estimate", merged.clone()),
        ] {
            let r = app.post(path, &token, body.clone());
            proptest::prop_assert!(
                (200..500).contains(&r.status),
                "{path} {body}: {} {}",
                r.status,
                r.text()
            );
            // Every answer is JSON (errors included).
            let _ = r.json();
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
});

// Names no catalog holds, in any script, are a 422 naming the model, never a panic.
both!(non_ascii_model_names_are_unknown_models, |app: TestApp| {
    let token = app.signup("script@example.com");
    for model in ["𬏌񳙏èÛ", "è𐀀𐀀", "gpt-4o-2024-08-0é", "ééééééééééé"] {
        let mut e = json!({"provider": "openai", "model": model, "input_tokens": 1,
            "output_tokens": 1});
        let r = app.post("/api/events/track", &token, e.clone());
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.json()["model"], model.trim());
        assert_eq!(r.json()["warnings"][0]["code"], "unknown_model");
        // An estimate has nothing to answer with: it stays a 422.
        let r = app.post("/api/costs/estimate", &token, e.clone());
        assert_error(&r, 422, "unknown_model");
        e["model"] = json!(model);
        let q = format!(
            "/api/budgets/check?provider=openai&model={}",
            model
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>()
        );
        assert_eq!(app.get(&q, &token).status, 200);
    }
});

// A method a path does not serve is a 405 naming the ones it does, credential or not.
both!(unsupported_methods_are_405, |app: TestApp| {
    for (method, path, allow) in [
        ("TRACE", "/api/pricing", "GET"),
        ("PUT", "/api/pricing", "GET"),
        ("PATCH", "/api/budgets", "GET, POST"),
        ("GET", "/api/events/track", "POST"),
    ] {
        let r = app.call(method, path, None, None);
        assert_error(&r, 405, "method_not_allowed");
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}");
    }
    let r = app.call("GET", "/api/nothing-here", None, None);
    assert_error(&r, 404, "not_found");
    // A served method still needs its credential.
    assert_error(
        &app.call("GET", "/api/budgets", None, None),
        401,
        "unauthorized",
    );
});
