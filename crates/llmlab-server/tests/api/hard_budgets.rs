//! Hard budgets over HTTP: a call's worst case is reserved before it is made, refused
//! with 409 `budget_exceeded` beyond what is left, settled by the call's event (track,
//! batch, OTLP), released or expired; and concurrent callers, on one instance or two,
//! never reserve more than a budget has left.

use std::sync::{Arc, Barrier};

use serde_json::{Value, json};

use crate::{TestApp, assert_error, assert_invalid, both, client, find_by};

fn budget(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/budgets", token, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn reserve(app: &TestApp, token: &str, body: Value) -> client::Response {
    app.post("/api/budgets/reserve", token, body)
}

/// A call to gpt-4o ($2.50 / $10 per million) of `input` tokens and at most `output`.
fn gpt_4o(input: i64, output: i64) -> Value {
    json!({"provider": "openai", "model": "gpt-4o", "input_tokens": input,
           "max_output_tokens": output})
}

fn budget_named(app: &TestApp, token: &str, name: &str) -> Value {
    find_by(
        &app.get("/api/budgets", token).json()["budgets"],
        "name",
        name,
    )
    .clone()
}

/// `(spent, reserved, available)` of budget `name`, as the API writes them.
fn standing(app: &TestApp, token: &str, name: &str) -> (String, String, String) {
    let b = budget_named(app, token, name);
    (
        b["spent_usd"].to_string(),
        b["reserved_usd"].to_string(),
        b["available_usd"].to_string(),
    )
}

fn strings(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

both!(reserve_settle_release_and_expire, |app: TestApp| {
    let token = app.signup("hard@example.com");
    let hard = budget(
        &app,
        &token,
        json!({"name": "gateway", "amount_usd": 1, "period": "monthly", "enforce": "hard",
               "scope": {"provider": "openai"}}),
    );
    assert_eq!(
        (hard["enforce"].as_str(), hard["reserved_usd"].to_string()),
        (Some("hard"), "0".into())
    );
    budget(
        &app,
        &token,
        json!({"name": "watch", "amount_usd": 0.001, "period": "monthly"}),
    );

    // 1,000 in at $2.50/M + 500 out at $10/M = $0.0075 held, against the hard budget
    // only: the alert-only one, already over, never refuses.
    let r = reserve(&app, &token, gpt_4o(1_000, 500));
    assert_eq!(r.status, 201, "{}", r.text());
    let held = r.json();
    assert_eq!(held["reserved_usd"].to_string(), "0.0075");
    assert_eq!(
        held["budgets"],
        json!([{"id": hard["id"], "name": "gateway", "available_usd": 0.9925}])
    );
    let id = held["reservation_id"].as_str().unwrap().to_string();
    assert_eq!(
        standing(&app, &token, "gateway"),
        strings("0", "0.0075", "0.9925")
    );
    assert_eq!(standing(&app, &token, "watch"), strings("0", "0", "0.001"));
    // The pre-flight check counts it.
    let check = app
        .get("/api/budgets/check?provider=openai&model=gpt-4o", &token)
        .json();
    let gateway = find_by(&check["budgets"], "name", "gateway");
    assert_eq!(
        (
            gateway["reserved_usd"].to_string(),
            gateway["available_usd"].to_string()
        ),
        ("0.0075".into(), "0.9925".into())
    );

    // The call answered 100 tokens: $0.0025 + $0.001 counted, the rest released; the
    // event's retry settles nothing twice.
    let call = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000,
                      "output_tokens": 100, "event_id": "call-1", "reservation_id": id});
    assert_eq!(
        app.post("/api/events/track", &token, call.clone()).status,
        201
    );
    assert_eq!(
        standing(&app, &token, "gateway"),
        strings("0.0035", "0", "0.9965")
    );
    assert_eq!(app.post("/api/events/track", &token, call).status, 200);
    assert_eq!(
        standing(&app, &token, "gateway"),
        strings("0.0035", "0", "0.9965")
    );

    // A batch item settles its reservation; the other item settles nothing.
    let id = reserve(&app, &token, gpt_4o(0, 10_000)).json()["reservation_id"].clone();
    assert_eq!(standing(&app, &token, "gateway").1, "0.1");
    let r = app.post("/api/events/batch", &token, json!({"events": [
        {"provider": "openai", "model": "gpt-4o", "input_tokens": 0, "output_tokens": 200, "reservation_id": id},
        {"provider": "openai", "model": "gpt-4o", "input_tokens": 0, "output_tokens": 300}]}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        standing(&app, &token, "gateway"),
        strings("0.0085", "0", "0.9915")
    );

    // An OTLP span settles the reservation named by `llmlab.reservation_id`.
    let id = reserve(&app, &token, gpt_4o(0, 10_000)).json()["reservation_id"].clone();
    let end = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let span = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "chat", "startTimeUnixNano": (end - 1_000_000_000).to_string(),
        "endTimeUnixNano": end.to_string(),
        "attributes": [
            {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "0"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 150}},
            {"key": "llmlab.reservation_id", "value": {"stringValue": id}}]}]}]}]});
    let bearer = format!("Bearer {token}");
    let headers = [
        ("Content-Type", "application/json"),
        ("Authorization", bearer.as_str()),
    ];
    let r = client::raw(
        app.addr,
        "POST",
        "/v1/traces",
        &headers,
        span.to_string().as_bytes(),
    );
    assert_eq!((r.status, r.json()), (200, json!({})), "{}", r.text());
    assert_eq!(
        standing(&app, &token, "gateway"),
        strings("0.01", "0", "0.99")
    );

    // Released early; releasing again (or a settled one) is no error.
    let id = reserve(&app, &token, gpt_4o(0, 10_000)).json()["reservation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/budgets/reservations/{id}");
    assert_eq!(app.call("DELETE", &path, Some(&token), None).status, 204);
    assert_eq!(standing(&app, &token, "gateway").1, "0");
    assert_eq!(app.call("DELETE", &path, Some(&token), None).status, 204);

    // Expired: a one-second reservation holds nothing after it.
    let mut short = gpt_4o(0, 10_000);
    short["ttl_seconds"] = json!(1);
    let r = reserve(&app, &token, short);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(standing(&app, &token, "gateway").1, "0.1");
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    assert_eq!(standing(&app, &token, "gateway").1, "0");

    // More than is left: 409 naming the budget, what it has and what was asked; nothing held.
    let r = reserve(&app, &token, gpt_4o(0, 100_000));
    let err = assert_error(&r, 409, "budget_exceeded");
    assert_eq!(
        err["error"]["details"],
        json!({"budget_id": hard["id"], "name": "gateway", "available_usd": 0.99, "requested_usd": 1})
    );
    assert_eq!(
        standing(&app, &token, "gateway"),
        strings("0.01", "0", "0.99")
    );
    // Counted on /metrics by outcome.
    let metrics = app.call("GET", "/metrics", None, None).text();
    assert!(
        metrics.contains(r#"llmlab_budget_reservations_total{outcome="refused"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"llmlab_budget_reservations_total{outcome="held"} 5"#),
        "{metrics}"
    );
    // Calls outside its scope are not held against it.
    let r = reserve(
        &app,
        &token,
        json!({"provider": "anthropic", "model": "claude-sonnet-4-5",
        "input_tokens": 1_000_000, "max_output_tokens": 64_000}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["budgets"], json!([]));
});

both!(
    the_worst_case_is_priced_as_the_event_will_be,
    |app: TestApp| {
        let token = app.signup("tier@example.com");
        budget(
            &app,
            &token,
            json!({"name": "g", "amount_usd": 100, "period": "daily", "enforce": "hard"}),
        );
        // Over 200k prompt tokens Gemini 2.5 Pro bills the whole call at $2.50 / $15:
        // 250,000 × 2.50 + 1,000 × 15 per million = $0.64 (not the standard $0.3225).
        let r = reserve(
            &app,
            &token,
            json!({"provider": "google", "model": "gemini-2.5-pro",
        "input_tokens": 250_000, "max_output_tokens": 1_000}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.json()["reserved_usd"].to_string(), "0.64");
        // A custom price of the workspace is the price.
        let price = json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "2"});
        let r = app.call(
            "PUT",
            "/api/pricing/custom/openai/gpt-4o",
            Some(&token),
            Some(&price),
        );
        assert!(matches!(r.status, 200 | 201), "{}", r.text());
        let r = reserve(&app, &token, gpt_4o(1_000_000, 1_000_000));
        assert_eq!(r.json()["reserved_usd"].to_string(), "3", "{}", r.text());
    }
);

both!(
    bad_reservations_are_refused_with_the_field,
    |app: TestApp| {
        let token = app.signup("bad@example.com");
        let mut body = gpt_4o(10, 10);
        body["ttl_seconds"] = json!(3_601);
        assert_invalid(&reserve(&app, &token, body), "ttl_seconds");
        assert_invalid(&reserve(&app, &token, gpt_4o(10, -1)), "max_output_tokens");
        assert_invalid(&reserve(&app, &token, gpt_4o(-1, 10)), "input_tokens");
        let r = reserve(
            &app,
            &token,
            json!({"provider": "openai", "model": "gpt-9", "input_tokens": 1, "max_output_tokens": 1}),
        );
        assert_error(&r, 422, "unknown_model");
        let r = app.post(
            "/api/budgets",
            &token,
            json!({"name": "x", "amount_usd": 1, "period": "daily", "enforce": "strict"}),
        );
        assert_invalid(&r, "enforce");
        // A key that may only read cannot reserve or release.
        let r = app.post(
            "/api/keys",
            &token,
            json!({"name": "ro", "scopes": ["read"]}),
        );
        let read_only = r.json()["key"].as_str().unwrap().to_string();
        assert_error(&reserve(&app, &read_only, gpt_4o(1, 1)), 403, "forbidden");
        let r = app.call(
            "DELETE",
            "/api/budgets/reservations/res_1",
            Some(&read_only),
            None,
        );
        assert_error(&r, 403, "forbidden");
    }
);

/// `callers` threads, half on `a` and half on `b`, each reserving $0.10 at once; how
/// many were held. Every answer is 201 or 409.
fn race(a: &TestApp, b: &TestApp, key: &str, callers: usize) -> usize {
    let gate = Arc::new(Barrier::new(callers));
    std::thread::scope(|scope| {
        let tasks: Vec<_> = (0..callers)
            .map(|i| {
                let (app, gate) = (if i % 2 == 0 { a } else { b }, gate.clone());
                scope.spawn(move || {
                    gate.wait();
                    let r = reserve(app, key, gpt_4o(0, 10_000));
                    match r.status {
                        201 => 1,
                        409 => 0,
                        other => panic!("{other}: {}", r.text()),
                    }
                })
            })
            .collect();
        tasks.into_iter().map(|t| t.join().unwrap()).sum()
    })
}

/// A workspace with a $1 hard budget of which $0.25 is spent: room for seven $0.10
/// reservations. Returns an ingest key.
fn seven_left(app: &TestApp, email: &str) -> String {
    let token = app.signup(email);
    budget(
        app,
        &token,
        json!({"name": "cap", "amount_usd": 1, "period": "total", "enforce": "hard"}),
    );
    let r = app.post(
        "/api/events/track",
        &token,
        json!({"provider": "openai", "model": "gpt-4o",
        "input_tokens": 1, "output_tokens": 1, "cost_usd": 0.25}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = app.post(
        "/api/keys",
        &token,
        json!({"name": "gateway", "scopes": ["ingest", "read"]}),
    );
    r.json()["key"].as_str().unwrap().to_string()
}

both!(
    sixty_four_clients_never_reserve_more_than_is_left,
    |app: TestApp| {
        let key = seven_left(&app, "race@example.com");
        assert_eq!(race(&app, &app, &key, 64), 7);
        assert_eq!(standing(&app, &key, "cap"), strings("0.25", "0.7", "0.05"));
    }
);

both!(
    two_instances_never_reserve_more_than_is_left,
    |app: TestApp| {
        let key = seven_left(&app, "two@example.com");
        let other = app.second_instance();
        assert_eq!(race(&app, &other, &key, 64), 7);
        assert_eq!(
            standing(&other, &key, "cap"),
            strings("0.25", "0.7", "0.05")
        );
    }
);
