//! Scenarios, each run on both backends.

use serde_json::{Value, json};

use crate::{TestApp, both, client};

fn event(model: &str, input: i64, output: i64) -> Value {
    json!({"provider": "openai", "model": model, "input_tokens": input, "output_tokens": output})
}

use crate::{assert_error, assert_invalid};

both!(auth_flow, |app: TestApp| {
    let token = app.signup("Ada@Example.com");
    let me = app.get("/api/auth/me", &token);
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["email"], "ada@example.com");

    let dup = app.anonymous(
        "/api/auth/signup",
        json!({"email": "ada@example.com", "password": "another pass"}),
    );
    assert_error(&dup, 409, "email_taken");
    for (body, field) in [
        (
            json!({"email": "b@example.com", "password": "short"}),
            "password",
        ),
        (json!({"email": "nope", "password": "long enough"}), "email"),
    ] {
        let bad = app.anonymous("/api/auth/signup", body);
        assert_invalid(&bad, field);
    }

    let wrong = app.anonymous(
        "/api/auth/login",
        json!({"email": "ada@example.com", "password": "wrong password"}),
    );
    let unknown = app.anonymous(
        "/api/auth/login",
        json!({"email": "who@example.com", "password": "wrong password"}),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.json(),
        unknown.json(),
        "same answer for unknown email and wrong password"
    );
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    let login = app.anonymous(
        "/api/auth/login",
        json!({"email": "ADA@example.com", "password": "correct horse"}),
    );
    assert_eq!(login.status, 200);
    let second = login.json()["token"].as_str().unwrap().to_string();

    assert_eq!(
        app.call("POST", "/api/auth/logout", Some(&token), None)
            .status,
        204
    );
    assert_error(&app.get("/api/auth/me", &token), 401, "unauthorized");
    assert_eq!(
        app.get("/api/auth/me", &second).status,
        200,
        "other sessions stay valid"
    );
    assert_error(&app.get("/api/auth/me", "garbage"), 401, "unauthorized");
    assert_error(
        &app.call("GET", "/api/auth/me", None, None),
        401,
        "unauthorized",
    );
});

// Login attempts are limited per email across instances: the fourth attempt in a
// minute is refused whichever instance it reaches, and the limit is per email.
both!(
    login_limits_hold_across_instances,
    &[("LLMLAB_LOGIN_ATTEMPTS_PER_MINUTE", "3")],
    |app: TestApp| {
        app.signup("guarded@example.com");
        let other = app.second_instance();
        let login = |instance: &TestApp, email: &str| {
            instance.anonymous(
                "/api/auth/login",
                json!({"email": email, "password": "wrong password"}),
            )
        };
        for attempt in 0..3 {
            let instance = if attempt % 2 == 0 { &app } else { &other };
            assert_eq!(login(instance, "guarded@example.com").status, 401);
        }
        for instance in [&app, &other] {
            let refused = login(instance, "GUARDED@example.com");
            assert_error(&refused, 429, "rate_limited");
            let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait), "Retry-After: {wait}");
        }
        // Another email from the same address is still judged by its password.
        assert_eq!(login(&other, "someone@example.com").status, 401);
    }
);

// With a quota, a user's events beyond a minute's allowance are refused with 429 and
// Retry-After (a batch counts its items), other users are not affected, and a batch
// that could never fit is a validation error.
both!(
    ingestion_quota_per_user,
    &[("LLMLAB_INGEST_EVENTS_PER_MINUTE", "5")],
    |app: TestApp| {
        let token = app.signup("quota@example.com");
        let one = event("gpt-4o-mini", 10, 1);
        let batch = |n: usize| json!({"events": vec![one.clone(); n]});
        assert_eq!(app.post("/api/events/batch", &token, batch(3)).status, 200);
        for _ in 0..2 {
            assert_eq!(
                app.post("/api/events/track", &token, one.clone()).status,
                201
            );
        }
        let refused = app.post("/api/events/track", &token, one.clone());
        assert_error(&refused, 429, "rate_limited");
        let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!(
            (1..=12).contains(&wait),
            "one event refills in 12 s: {wait}"
        );
        assert_error(
            &app.post("/api/events/batch", &token, batch(2)),
            429,
            "rate_limited",
        );
        let too_big = app.post("/api/events/batch", &token, batch(6));
        assert_invalid(&too_big, "events");
        // Only what was accepted was stored.
        let stored = app.get("/api/events?limit=100", &token).json();
        assert_eq!(stored["events"].as_array().unwrap().len(), 5);
        let other = app.signup("other-tenant@example.com");
        assert_eq!(
            app.post("/api/events/track", &other, one.clone()).status,
            201
        );
    }
);

both!(api_keys, |app: TestApp| {
    let token = app.signup("keys@example.com");
    let created = app.post("/api/keys", &token, json!({"name": "gateway"}));
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("llmlab_"));
    let list = app.get("/api/keys", &token).json();
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    assert!(
        list["keys"][0].get("key").is_none(),
        "the key is shown only once"
    );

    let tracked = app.post("/api/events/track", &key, event("gpt-4o-mini", 1000, 100));
    assert_eq!(tracked.status, 201, "{}", tracked.text());
    // A default key sends; reading the reports takes the read scope.
    assert_eq!(app.get("/api/events", &key).status, 403);
    let reader = app.post(
        "/api/keys",
        &token,
        json!({"name": "dashboard", "scopes": ["read"]}),
    );
    assert_eq!(reader.status, 201, "{}", reader.text());
    let reader = reader.json()["key"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/events", &reader).status, 200);

    let other = app.signup("other@example.com");
    let id = created["id"].as_i64().unwrap();
    assert_error(
        &app.call("DELETE", &format!("/api/keys/{id}"), Some(&other), None),
        404,
        "not_found",
    );
    assert_eq!(
        app.call("DELETE", &format!("/api/keys/{id}"), Some(&token), None)
            .status,
        204
    );
    assert_error(
        &app.post("/api/events/track", &key, event("gpt-4o-mini", 1, 1)),
        401,
        "unauthorized",
    );
});

both!(tracking_prices_exactly, |app: TestApp| {
    let token = app.signup("track@example.com");
    let body = json!({
        "provider": "openai", "model": "gpt-4o-2024-08-06",
        "input_tokens": 1200, "cached_input_tokens": 1000, "output_tokens": 350,
        "timestamp": "2025-03-01T12:00:00Z", "tags": {"feature": "search"}, "event_id": "req_1"
    });
    let r = app.post("/api/events/track", &token, body.clone());
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    // 200 × $2.50/M + 1,000 × $1.25/M + 350 × $10/M = $0.00525
    assert_eq!(v["cost_usd"].to_string(), "0.00525");
    assert_eq!(v["resolved_model"], "gpt-4o");
    assert_eq!(v["cost_source"], "catalog");
    assert_eq!(v["tags"]["feature"], "search");

    let again = app.post("/api/events/track", &token, body);
    assert_eq!(
        again.status, 200,
        "a repeated event_id returns the original"
    );
    assert_eq!(again.json()["id"], v["id"]);
    assert_eq!(
        app.get("/api/events", &token).json()["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // gpt-4o before its August 2024 price cut: $5/M input.
    let old = app.post("/api/events/track", &token, json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000000, "output_tokens": 0, "timestamp": "2024-07-01T00:00:00Z"}));
    assert_eq!(old.json()["cost_usd"].to_string(), "5");

    let client = app.post("/api/events/track", &token, json!({"provider": "openai", "model": "my-private-model", "input_tokens": 1, "output_tokens": 1, "cost_usd": 0.123456789}));
    assert_eq!(client.status, 201, "{}", client.text());
    assert_eq!(client.json()["cost_usd"].to_string(), "0.123456789");
    assert_eq!(client.json()["cost_source"], "client");

    // A model the catalog lacks is kept unpriced, with what it may have meant.
    let unknown = app.post("/api/events/track", &token, event("gpt-4x", 1, 1));
    assert_eq!(unknown.status, 201, "{}", unknown.text());
    let e = unknown.json();
    assert_eq!(
        (e["cost_usd"].as_i64(), &e["cost_source"]),
        (Some(0), &json!("unpriced"))
    );
    assert_eq!(e["warnings"][0]["code"], "unknown_model");
    assert!(
        !e["warnings"][0]["suggestions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_error(
        &app.post(
            "/api/events/track",
            &token,
            json!({"provider": "nope", "model": "x", "input_tokens": 1, "output_tokens": 1}),
        ),
        422,
        "unknown_provider",
    );
    let cached = app.post("/api/events/track", &token, json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 1, "cached_input_tokens": 11}));
    assert_invalid(&cached, "cached_input_tokens");
    let ten = app.post(
        "/api/events/track",
        &token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": "ten", "output_tokens": 1}),
    );
    assert_invalid(&ten, "input_tokens");
    let neg = app.post("/api/events/track", &token, event("gpt-4o", -1, 1));
    assert_invalid(&neg, "input_tokens");
    let missing = app.post(
        "/api/events/track",
        &token,
        json!({"provider": "openai", "input_tokens": 1, "output_tokens": 1}),
    );
    assert_invalid(&missing, "model");
});

both!(malformed_requests, |app: TestApp| {
    let token = app.signup("bad@example.com");
    let auth = format!("Bearer {token}");
    let json_ct = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let r = client::raw(
        app.addr,
        "POST",
        "/api/events/track",
        &json_ct,
        b"{\"provider\": ",
    );
    assert_error(&r, 400, "malformed_json");
    let r = client::raw(
        app.addr,
        "POST",
        "/api/events/track",
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "text/plain"),
        ],
        b"{}",
    );
    assert_error(&r, 400, "unsupported_content_type");
    // 10 MB against a 1 MiB limit, at every endpoint that takes a body.
    let big = vec![b' '; 10 * 1024 * 1024];
    for path in [
        "/api/events/track",
        "/api/events/batch",
        "/api/budgets",
        "/api/keys",
        "/api/costs/estimate",
        "/api/auth/signup",
    ] {
        let r = client::raw(app.addr, "POST", path, &json_ct, &big);
        assert_error(&r, 413, "payload_too_large");
    }
    let r = client::raw(
        app.addr,
        "POST",
        "/api/events/track",
        &[("Content-Type", "application/json")],
        b"{not json",
    );
    assert_error(&r, 401, "unauthorized");
    assert_error(&app.get("/api/nope", &token), 404, "not_found");
    for path in [
        "/api/events?limit=0",
        "/api/events?start=yesterday",
        "/api/events?cursor=zzz",
        "/api/costs/summary?tz=Mars/Olympus",
        "/api/costs/summary?granularity=year",
    ] {
        assert_error(&app.get(path, &token), 422, "validation_error");
    }

    // Hostile bodies at every POST endpoint: always a 4xx JSON error, and the server keeps serving.
    let hostile: Vec<Vec<u8>> = vec![
        b"[]".to_vec(),
        b"null".to_vec(),
        b"{\"email\": 1e999999}".to_vec(),
        b"{\"input_tokens\": 99999999999999999999999999}".to_vec(),
        "[".repeat(100_000).into_bytes(),
        vec![0xff, 0xfe, 0x7b, 0x7d],
        b"{\"events\": [{\"provider\": {\"a\": [1,2,{}]}}], \"name\": [], \"password\": {}}"
            .to_vec(),
        b"{\"amount_usd\": \"1e3\", \"name\": 5, \"period\": null}".to_vec(),
    ];
    let posts = [
        "/api/auth/signup",
        "/api/auth/login",
        "/api/keys",
        "/api/events/track",
        "/api/events/batch",
        "/api/budgets",
        "/api/costs/estimate",
    ];
    for path in posts {
        for body in &hostile {
            let r = client::raw(app.addr, "POST", path, &json_ct, body);
            // A batch reports a bad item in its results and stores nothing of it.
            let item_rejected = path == "/api/events/batch"
                && r.status == 200
                && r.json()["accepted"] == 0
                && r.json()["rejected"] == 1;
            assert!(
                (400..500).contains(&r.status) || item_rejected,
                "{path}: {} {}",
                r.status,
                r.text()
            );
            let error = if item_rejected {
                r.json()["results"][0]["error"].clone()
            } else {
                r.json()["error"].clone()
            };
            assert!(error["code"].is_string(), "{path}: {}", r.text());
        }
    }
    let put = client::raw(
        app.addr,
        "PUT",
        "/api/pricing/custom/openai/x",
        &json_ct,
        b"{\"input_per_mtok_usd\": true}",
    );
    assert_eq!(put.status, 422, "{}", put.text());
    assert_eq!(app.call("GET", "/api/health", None, None).status, 200);
});

both!(batch_and_pagination, |app: TestApp| {
    let token = app.signup("batch@example.com");
    let mut events: Vec<Value> = (0..120)
        .map(|i| {
            json!({"provider": "anthropic", "model": "claude-3-haiku-20240307", "input_tokens": 1000 + i, "output_tokens": 10,
                   "timestamp": format!("2025-01-{:02}T{:02}:00:00Z", 1 + i % 28, i % 24),
                   "tags": {"team": if i % 2 == 0 { "a" } else { "b" }}, "event_id": format!("e{i}")})
        })
        .collect();
    events.push(
        json!({"provider": "nope", "model": "claude-9", "input_tokens": 1, "output_tokens": 1}),
    );
    events.push(json!({"provider": "anthropic", "model": "claude-3-haiku", "input_tokens": "x", "output_tokens": 1}));
    events.push(events[0].clone());
    let r = app.post("/api/events/batch", &token, json!({"events": events}));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (
            v["accepted"].as_u64(),
            v["rejected"].as_u64(),
            v["duplicates"].as_u64()
        ),
        (Some(120), Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(v["results"][120]["status"], "rejected");
    assert_eq!(v["results"][120]["error"]["code"], "unknown_provider");
    assert_eq!(v["results"][121]["status"], "rejected");
    assert_eq!(
        v["results"][121]["error"]["details"]["field"],
        "input_tokens"
    );
    assert_eq!(v["results"][122]["status"], "duplicate");
    assert_eq!(v["results"][122]["id"], v["results"][0]["id"]);

    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/events?limit=7&tag=team:a&cursor={c}"),
            None => "/api/events?limit=7&tag=team:a".to_string(),
        };
        let page = app.get(&path, &token).json();
        for e in page["events"].as_array().unwrap() {
            assert_eq!(e["tags"]["team"], "a");
            assert!(
                seen.insert(e["id"].as_i64().unwrap()),
                "event returned twice"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 60);

    let csv = app.get("/api/events/export?format=csv&tag=team:b", &token);
    assert_eq!(csv.status, 200);
    assert_eq!(csv.text().lines().count(), 61, "header + 60 rows");
    assert!(csv.text().starts_with("id,timestamp,provider"));
});

both!(cost_reports, |app: TestApp| {
    let token = app.signup("costs@example.com");
    let mk = |provider: &str, model: &str, input: i64, output: i64, ts: &str, team: &str| json!({"provider": provider, "model": model, "input_tokens": input, "output_tokens": output, "timestamp": ts, "tags": {"team": team}});
    let events = vec![
        // gpt-4o-mini: $0.15/M in, $0.60/M out → 1M in = $0.15
        mk(
            "openai",
            "gpt-4o-mini",
            1_000_000,
            0,
            "2025-02-01T10:00:00Z",
            "a",
        ),
        // gpt-4.1: $2/M in, $8/M out → 1M out = $8
        mk(
            "openai",
            "gpt-4.1",
            0,
            1_000_000,
            "2025-02-01T23:30:00Z",
            "b",
        ),
        // claude-3-haiku: $0.25/M in → 2M in = $0.50
        mk(
            "anthropic",
            "claude-3-haiku",
            2_000_000,
            0,
            "2025-02-02T01:00:00Z",
            "a",
        ),
    ];
    assert_eq!(
        app.post("/api/events/batch", &token, json!({"events": events}))
            .json()["accepted"],
        3
    );
    let range = "start=2025-02-01&end=2025-02-02";
    let s = app
        .get(&format!("/api/costs/summary?{range}"), &token)
        .json();
    assert_eq!(s["total_cost_usd"].to_string(), "8.65");
    assert_eq!(s["total_calls"], 3);
    let days: Vec<(String, String)> = s["by_date"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().to_string(),
                d["cost_usd"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        days,
        vec![
            ("2025-02-01".into(), "8.15".into()),
            ("2025-02-02".into(), "0.5".into())
        ]
    );
    // In Tokyo (UTC+9) the 23:30 UTC call belongs to Feb 2 and the 01:00 UTC one too.
    let t = app
        .get(&format!("/api/costs/summary?{range}&tz=Asia/Tokyo"), &token)
        .json();
    let tokyo: Vec<String> = t["by_date"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["calls"] != 0)
        .map(|d| format!("{}={}", d["date"].as_str().unwrap(), d["cost_usd"]))
        .collect();
    assert_eq!(tokyo, vec!["2025-02-01=0.15", "2025-02-02=8.5"]);

    let p = app
        .get(&format!("/api/costs/by-provider?{range}"), &token)
        .json();
    assert_eq!(p["providers"][0]["provider"], "openai");
    assert_eq!(p["providers"][0]["cost_usd"].to_string(), "8.15");
    assert_eq!(p["providers"][1]["cost_usd"].to_string(), "0.5");
    let m = app
        .get(&format!("/api/costs/top-models?{range}&limit=2"), &token)
        .json();
    assert_eq!(m["models"].as_array().unwrap().len(), 2);
    assert_eq!(m["models"][0]["model"], "gpt-4.1");
    let tags = app
        .get(&format!("/api/costs/by-tag?{range}&key=team"), &token)
        .json();
    assert_eq!(tags["values"][0]["value"], "b");
    assert_eq!(tags["values"][1]["cost_usd"].to_string(), "0.65");
    assert_error(
        &app.get("/api/costs/by-tag", &token),
        422,
        "validation_error",
    );

    let est = app.post("/api/costs/estimate", &token, json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 2000, "output_tokens": 1000, "cached_input_tokens": 1000}));
    assert_eq!(est.status, 200, "{}", est.text());
    let est = est.json();
    assert_eq!(est["breakdown"]["input_usd"].to_string(), "0.0025");
    assert_eq!(est["breakdown"]["cached_input_usd"].to_string(), "0.00125");
    assert_eq!(est["breakdown"]["output_usd"].to_string(), "0.01");
    assert_eq!(est["cost_usd"].to_string(), "0.01375");

    // Another user sees none of it.
    let other = app.signup("other@example.com");
    assert_eq!(
        app.get(&format!("/api/costs/summary?{range}"), &other)
            .json()["total_calls"],
        0
    );
});

both!(budgets_and_isolation, |app: TestApp| {
    let token = app.signup("budget@example.com");
    let b = app.post("/api/budgets", &token, json!({"name": "openai monthly", "amount_usd": 10, "period": "monthly", "scope": {"provider": "openai"}, "alert_threshold_pct": 50}));
    assert_eq!(b.status, 201, "{}", b.text());
    let id = b.json()["id"].as_i64().unwrap();
    // $6 of gpt-4.1 output (0.75M × $8/M) now → warning; anthropic spend is out of scope.
    app.post("/api/events/track", &token, json!({"provider": "openai", "model": "gpt-4.1", "input_tokens": 0, "output_tokens": 750000}));
    app.post("/api/events/track", &token, json!({"provider": "anthropic", "model": "claude-3-haiku", "input_tokens": 4000000, "output_tokens": 0}));
    let list = app.get("/api/budgets", &token).json();
    let budget = &list["budgets"][0];
    assert_eq!(budget["spent_usd"].to_string(), "6");
    assert_eq!(budget["remaining_usd"].to_string(), "4");
    assert_eq!(budget["status"], "warning");
    assert!(budget["period_start"].is_string() && budget["forecast_usd"].is_number());
    let check = app.get("/api/budgets/check?provider=openai", &token).json();
    assert_eq!(check["allowed"], true);
    // Update by name: amount $5 → exceeded, gateway blocked.
    let upd = app.post("/api/budgets", &token, json!({"name": "openai monthly", "amount_usd": 5, "period": "monthly", "scope": {"provider": "openai"}}));
    assert_eq!(upd.status, 200, "{}", upd.text());
    assert_eq!(upd.json()["status"], "exceeded");
    assert_eq!(
        app.get("/api/budgets/check?provider=openai", &token).json()["allowed"],
        false
    );
    assert_eq!(
        app.get("/api/budgets/check?provider=anthropic", &token)
            .json()["allowed"],
        true
    );

    for (body, field) in [
        (
            json!({"name": "x", "amount_usd": 0, "period": "monthly"}),
            "amount_usd",
        ),
        (
            json!({"name": "x", "amount_usd": 1, "period": "yearly"}),
            "period",
        ),
        (
            json!({"name": "x", "amount_usd": 1, "period": "daily", "webhook_url": "ftp://x"}),
            "webhook_url",
        ),
    ] {
        let bad = app.post("/api/budgets", &token, body);
        assert_invalid(&bad, field);
    }

    let other = app.signup("mallory@example.com");
    assert_error(
        &app.call("DELETE", &format!("/api/budgets/{id}"), Some(&other), None),
        404,
        "not_found",
    );
    assert_error(
        &app.get(&format!("/api/budgets/{id}/alerts"), &other),
        404,
        "not_found",
    );
    let steal = app.post(
        "/api/budgets",
        &other,
        json!({"id": id, "name": "mine", "amount_usd": 1, "period": "daily"}),
    );
    assert_error(&steal, 404, "not_found");
    assert_eq!(
        app.get("/api/budgets", &other).json()["budgets"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        app.get(&format!("/api/budgets/{id}/alerts"), &token).status,
        200
    );
    assert_eq!(
        app.call("DELETE", &format!("/api/budgets/{id}"), Some(&token), None)
            .status,
        204
    );
    assert_error(
        &app.call("DELETE", &format!("/api/budgets/{id}"), Some(&token), None),
        404,
        "not_found",
    );
});

both!(pricing_and_custom_prices, |app: TestApp| {
    let catalog = app.call("GET", "/api/pricing", None, None);
    assert_eq!(catalog.status, 200);
    let providers = catalog.json()["providers"].as_array().unwrap().clone();
    let openai = providers
        .iter()
        .find(|p| p["provider"] == "openai")
        .unwrap();
    let mini = crate::find_by(&openai["models"], "model", "gpt-4o-mini");
    assert_eq!(mini["input_per_mtok_usd"].to_string(), "0.15");
    assert!(mini["source"].as_str().unwrap().starts_with("https://"));

    let token = app.signup("custom@example.com");
    let put = app.call(
        "PUT",
        "/api/pricing/custom/openai/gpt-4o-mini",
        Some(&token),
        Some(&json!({"input_per_mtok_usd": 0.1, "output_per_mtok_usd": "0.4"})),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let e = app
        .post(
            "/api/events/track",
            &token,
            event("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000),
        )
        .json();
    assert_eq!(e["cost_source"], "custom_pricing");
    assert_eq!(e["cost_usd"].to_string(), "0.5");
    assert_eq!(
        app.get("/api/pricing/custom", &token).json()["prices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Other users keep catalog prices.
    let other = app.signup("catalog@example.com");
    assert_eq!(
        app.post(
            "/api/events/track",
            &other,
            event("gpt-4o-mini", 1_000_000, 0)
        )
        .json()["cost_usd"]
            .to_string(),
        "0.15"
    );
    // Deleting twice: the second finds nothing.
    for status in [204, 404] {
        let r = app.call(
            "DELETE",
            "/api/pricing/custom/openai/gpt-4o-mini",
            Some(&token),
            None,
        );
        assert_eq!(r.status, status, "{}", r.text());
    }
});

// Each instance keeps a user's custom prices in memory; a change made on another
// instance applies from the next event on, with a session token and with an API key.
both!(
    custom_prices_apply_on_every_instance_at_once,
    |app: TestApp| {
        let other = app.second_instance();
        let token = app.signup("prices@example.com");
        let key = app
            .post("/api/keys", &token, json!({"name": "gateway"}))
            .json()["key"]
            .as_str()
            .unwrap()
            .to_string();
        let cost = |credential: &str| {
            let r = app.post(
                "/api/events/track",
                credential,
                event("gpt-4o-mini", 1_000_000, 1_000_000),
            );
            assert_eq!(r.status, 201, "{}", r.text());
            (
                r.json()["cost_usd"].to_string(),
                r.json()["cost_source"].as_str().unwrap().to_string(),
            )
        };
        let catalog = ("0.75".to_string(), "catalog".to_string());
        let custom = ("0.5".to_string(), "custom_pricing".to_string());
        // Both credentials have priced (and cached) with catalog prices on `app`.
        assert_eq!(cost(&token), catalog);
        assert_eq!(cost(&key), catalog);
        let put = other.call(
            "PUT",
            "/api/pricing/custom/openai/gpt-4o-mini",
            Some(&token),
            Some(&json!({"input_per_mtok_usd": "0.1", "output_per_mtok_usd": "0.4"})),
        );
        assert_eq!(put.status, 200, "{}", put.text());
        assert_eq!(cost(&token), custom);
        assert_eq!(cost(&key), custom);
        let estimate = app.post(
            "/api/costs/estimate",
            &key,
            event("gpt-4o-mini", 1_000_000, 1_000_000),
        );
        assert_eq!(estimate.json()["cost_usd"].to_string(), "0.5");
        let deleted = other.call(
            "DELETE",
            "/api/pricing/custom/openai/gpt-4o-mini",
            Some(&token),
            None,
        );
        assert_eq!(deleted.status, 204);
        assert_eq!(cost(&key), catalog);
        assert_eq!(cost(&token), catalog);
    }
);

both!(health_and_openapi, |app: TestApp| {
    let h = app.call("GET", "/api/health", None, None);
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["database"], "ok");
    assert_eq!(
        app.call("GET", "/api/health/live", None, None).json()["status"],
        "ok"
    );
    let ready = app.call("GET", "/api/health/ready", None, None);
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["migrations"], "applied");
    let doc = app.call("GET", "/api/openapi.json", None, None).json();
    let paths = doc["paths"].as_object().unwrap();
    // Every endpoint of the contract is documented…
    let contract = [
        ("post", "/api/auth/signup"),
        ("post", "/api/auth/login"),
        ("post", "/api/auth/logout"),
        ("get", "/api/auth/me"),
        ("post", "/api/keys"),
        ("get", "/api/keys"),
        ("delete", "/api/keys/{id}"),
        ("post", "/api/events/track"),
        ("post", "/api/events/batch"),
        ("get", "/api/events"),
        ("get", "/api/events/export"),
        ("get", "/api/costs/summary"),
        ("get", "/api/costs/by-provider"),
        ("get", "/api/costs/top-models"),
        ("get", "/api/costs/by-tag"),
        ("post", "/api/costs/estimate"),
        ("get", "/api/budgets"),
        ("post", "/api/budgets"),
        ("delete", "/api/budgets/{budget_id}"),
        ("get", "/api/budgets/check"),
        ("get", "/api/budgets/{budget_id}/alerts"),
        ("get", "/api/pricing"),
        ("put", "/api/pricing/custom/{provider}/{model}"),
        ("get", "/api/pricing/custom"),
        ("delete", "/api/pricing/custom/{provider}/{model}"),
        ("get", "/api/recommendations"),
        ("get", "/api/recommendations/anomalies"),
        ("get", "/api/recommendations/model-switching"),
        ("get", "/api/health"),
        ("post", "/api/workspaces/{id}/members"),
        ("get", "/api/workspaces/{id}/invitations"),
        ("delete", "/api/workspaces/{id}/invitations/{inv_id}"),
        ("get", "/api/invitations"),
        ("post", "/api/invitations/{inv_id}/accept"),
        ("delete", "/api/invitations/{inv_id}"),
    ];
    for (method, path) in contract {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    // Each operation's summary is its own first doc line (a stray line once made
    // signup's "The client's address, as the attempt limiters count it.").
    assert_eq!(
        paths["/api/auth/signup"]["post"]["summary"],
        "Creates an account and returns a session."
    );
    // …and every documented operation is served (never the router's 404).
    let token = app.signup("doc@example.com");
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "999999")
                .replace("{budget_id}", "999999")
                .replace("{inv_id}", "999999")
                .replace("{provider}", "openai")
                .replace("{model}", "nope");
            let empty = json!({});
            let body = (method != "get" && method != "delete").then_some(&empty);
            let r = app.call(&method.to_uppercase(), &concrete, Some(&token), body);
            let routed = !(r.status == 404 && r.text().contains("no route"));
            assert!(routed, "{method} {path} is documented but not served");
            assert!(r.status < 500, "{method} {path}: {}", r.text());
        }
    }
    assert_eq!(app.call("GET", "/docs/", None, None).status, 200);
});

both!(prometheus_metrics, |app: TestApp| {
    let token = app.signup("metrics@example.com");
    let ok = app.post("/api/events/track", &token, event("gpt-4o", 10, 5));
    assert_eq!(ok.status, 201);
    let bad = app.post("/api/events/track", &token, event("gpt-4o", -1, 5));
    assert_eq!(bad.status, 422);
    app.get("/api/budgets/12345/alerts", &token);
    let m = app.call("GET", "/metrics", None, None);
    assert_eq!(m.status, 200);
    let text = m.text();
    for line in [
        "llmlab_events_ingested_total{outcome=\"inserted\"} 1",
        "llmlab_events_ingested_total{outcome=\"rejected\"} 1",
        "llmlab_http_requests_total{method=\"POST\",route=\"/api/events/track\",status=\"201\"} 1",
        "llmlab_http_requests_total{method=\"POST\",route=\"/api/events/track\",status=\"422\"} 1",
        // The pattern, not the id: ids never become labels.
        "llmlab_http_requests_total{method=\"GET\",route=\"/api/budgets/{budget_id}/alerts\",status=\"404\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(text.contains("llmlab_http_request_duration_seconds_bucket"));
    assert!(!text.contains("12345"));
});
