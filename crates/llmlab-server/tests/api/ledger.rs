//! The price ledger over HTTP: unknown models kept unpriced, custom price revisions,
//! re-pricing with a dry run, and every report following, on both backends.

use serde_json::{Value, json};

use crate::{TestApp, assert_error, both};

fn track(app: &TestApp, token: &str, model: &str, day: &str) -> crate::Response {
    app.post(
        "/api/events/track",
        token,
        json!({"provider": "openai", "model": model, "input_tokens": 2000,
            "output_tokens": 500, "timestamp": format!("{day}T10:00:00Z"),
            "tags": {"team": "search"}}),
    )
}

fn summary(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/costs/summary?start=2026-11-01&end=2026-11-30", token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn reprice(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/pricing/reprice", token, body);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

// Seen: a model released after the catalog was written answered 422 `unknown_model`, and
// a gateway that fires and forgets lost every call until someone edited the catalog.
both!(an_unknown_model_is_kept_unpriced, |app: TestApp| {
    let token = app.signup("ledger@example.com");
    let r = track(&app, &token, "gpt-5.1", "2026-11-10");
    assert_eq!(r.status, 201, "{}", r.text());
    let e = r.json();
    assert_eq!(e["cost_usd"], 0);
    assert_eq!(e["cost_source"], "unpriced");
    assert_eq!(e["price_ref"], json!({"source": "unpriced"}));
    assert_eq!(e["warnings"][0]["code"], "unknown_model");
    assert!(
        e["warnings"][0]["suggestions"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    // A priced event has its price reference and no warnings.
    let priced = track(&app, &token, "gpt-4o", "2026-11-10").json();
    assert_eq!(priced["price_ref"]["source"], "catalog");
    assert_eq!(priced["price_ref"]["model"], "gpt-4o");
    assert!(priced["price_ref"]["effective_from"].is_string());
    assert!(priced.get("warnings").is_none());
    // Batch items say it too.
    let batch = app.post(
        "/api/events/batch",
        &token,
        json!({"events": [{"provider": "openai", "model": "gpt-5.1", "input_tokens": 1,
            "output_tokens": 1, "timestamp": "2026-11-11T00:00:00Z"}]}),
    );
    assert_eq!(
        batch.json()["results"][0]["warnings"][0]["code"],
        "unknown_model"
    );
    // An unknown provider is still refused: there is nothing to price it with later.
    let r = app.post(
        "/api/events/track",
        &token,
        json!({"provider": "nope", "model": "x", "input_tokens": 1, "output_tokens": 1}),
    );
    assert_error(&r, 422, "unknown_provider");

    let s = summary(&app, &token);
    assert_eq!(s["unpriced_calls"], 2);
    assert_eq!(s["total_calls"], 3);
    let p = app.get(
        "/api/costs/by-provider?start=2026-11-01&end=2026-11-30",
        &token,
    );
    assert_eq!(p.json()["providers"][0]["unpriced_calls"], 2);
    let m = app
        .get(
            "/api/costs/top-models?start=2026-11-01&end=2026-11-30",
            &token,
        )
        .json();
    let unpriced: Vec<&Value> = m["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["model"] == "gpt-5.1")
        .collect();
    assert_eq!(unpriced[0]["unpriced_calls"], 2);
    let list = app.get("/api/pricing/unpriced", &token).json();
    assert_eq!(list["models"][0]["provider"], "openai");
    assert_eq!(list["models"][0]["model"], "gpt-5.1");
    assert_eq!(list["models"][0]["calls"], 2);
    assert_eq!(list["models"][0]["input_tokens"], 2001);
    assert_eq!(list["models"][0]["first_seen"], "2026-11-10T10:00:00Z");
    assert_eq!(list["models"][0]["last_seen"], "2026-11-11T00:00:00Z");
});

both!(
    reject_mode_keeps_the_strict_answer,
    &[("LLMLAB_UNKNOWN_MODELS", "reject")],
    |app: TestApp| {
        let token = app.signup("strict@example.com");
        assert_error(
            &track(&app, &token, "gpt-5.1", "2026-11-10"),
            422,
            "unknown_model",
        );
    }
);

// The path the README shows: unknown model → listed → custom price → dry run → apply →
// reports updated; a second apply changes nothing.
both!(a_price_added_later_reprices_the_past, |app: TestApp| {
    let token = app.signup("path@example.com");
    for day in ["2026-11-02", "2026-11-20"] {
        assert_eq!(track(&app, &token, "gpt-5.1", day).status, 201);
    }
    let catalog_priced = track(&app, &token, "gpt-4o", "2026-11-02").json();
    let budget = app.post(
        "/api/budgets",
        &token,
        json!({"name": "nov", "amount_usd": 0.02, "period": "total"}),
    );
    assert_eq!(budget.status, 201, "{}", budget.text());
    let before = summary(&app, &token);

    // From November 15th on, a negotiated price; before it, the list price.
    let put = |body: Value| {
        let r = app.call(
            "PUT",
            "/api/pricing/custom/openai/gpt-5.1",
            Some(&token),
            Some(&body),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let list = put(json!({"input_per_mtok_usd": "1.25", "output_per_mtok_usd": "10"}));
    let negotiated = put(
        json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "8",
        "effective_from": "2026-11-15"}),
    );
    assert!(negotiated["revision"].as_i64() > list["revision"].as_i64());
    assert_eq!(negotiated["effective_from"], "2026-11-15");
    let revisions = app.get("/api/pricing/custom", &token).json();
    assert_eq!(revisions["prices"].as_array().unwrap().len(), 2);

    // New events use the revision in effect at their timestamp.
    let late = track(&app, &token, "gpt-5.1", "2026-11-21").json();
    assert_eq!(
        late["price_ref"],
        json!({"source": "custom_pricing", "revision": negotiated["revision"]})
    );
    assert_eq!(late["cost_usd"].to_string(), "0.006");

    let dry = reprice(
        &app,
        &token,
        json!({"provider": "openai", "model": "gpt-5.1"}),
    );
    assert_eq!(dry["dry_run"], true);
    assert!(dry.get("id").is_none());
    assert_eq!(dry["events_matched"], 3);
    assert_eq!(dry["events_changed"], 2);
    // 2000 × $1.25/M + 500 × $10/M = $0.0075 before the 15th; at $1/$8, $0.006 after.
    assert_eq!(dry["old_cost_usd"], 0);
    assert_eq!(dry["new_cost_usd"].to_string(), "0.0135");
    assert_eq!(dry["delta_usd"].to_string(), "0.0135");
    assert_eq!(dry["by_model"][0]["model"], "gpt-5.1");
    assert_eq!(
        summary(&app, &token)["unpriced_calls"],
        2,
        "a dry run changes nothing"
    );

    let applied = reprice(
        &app,
        &token,
        json!({"provider": "openai", "model": "gpt-5.1", "dry_run": false}),
    );
    assert_eq!(applied["events_changed"], 2);
    assert!(applied["id"].is_i64());
    let after = summary(&app, &token);
    assert_eq!(after["unpriced_calls"], 0);
    let moved =
        after["total_cost_usd"].as_f64().unwrap() - before["total_cost_usd"].as_f64().unwrap();
    assert!((moved - 0.0195).abs() < 1e-12, "{moved}");
    let by_tag = app
        .get(
            "/api/costs/by-tag?key=team&start=2026-11-01&end=2026-11-30",
            &token,
        )
        .json();
    assert_eq!(by_tag["values"][0]["cost_usd"], after["total_cost_usd"]);
    assert_eq!(
        app.get("/api/pricing/unpriced", &token).json()["models"],
        json!([])
    );
    let events = app.get("/api/events?limit=10", &token).json();
    let sum: f64 = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cost_usd"].as_f64().unwrap())
        .sum();
    assert!((sum - after["total_cost_usd"].as_f64().unwrap()).abs() < 1e-12);
    let first = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["timestamp"] == "2026-11-02T10:00:00Z" && e["model"] == "gpt-5.1")
        .unwrap()
        .clone();
    assert_eq!(first["price_ref"]["revision"], list["revision"]);
    assert_eq!(first["cost_usd"].to_string(), "0.0075");
    // The catalog-priced event never moved.
    let gpt4o = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == catalog_priced["id"])
        .unwrap()
        .clone();
    assert_eq!(gpt4o["cost_usd"], catalog_priced["cost_usd"]);

    let again = reprice(&app, &token, json!({"dry_run": false}));
    assert_eq!(again["events_changed"], 0, "a second apply changes nothing");

    // The budget saw its spend move: exceeded now, alerted once (the second apply,
    // which changed nothing, alerted nothing more).
    let budgets = app.get("/api/budgets", &token).json();
    assert_eq!(budgets["budgets"][0]["status"], "exceeded");
    // Recorded by the evaluation an applied run starts off the request's path.
    let id = budget.json()["id"].as_i64().unwrap();
    let exceeded = || {
        let alerts = crate::webhooks::alerts(&app, &token, id);
        alerts.iter().filter(|a| a["level"] == "exceeded").count()
    };
    crate::channels::eventually("the exceeded alert", || (exceeded() > 0).then_some(()));
    assert_eq!(exceeded(), 1);
    let runs = app.get("/api/pricing/reprices", &token).json();
    assert_eq!(runs["runs"].as_array().unwrap().len(), 2);
    assert_eq!(runs["runs"][1]["events_changed"], 2);
    assert_eq!(runs["runs"][1]["status"], "done");
    assert_eq!(runs["runs"][1]["actor"]["label"], "path@example.com");
    let audit = app.get("/api/audit?action=pricing.reprice", &token).json();
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2);
});

both!(repricing_is_for_admins, |app: TestApp| {
    let owner = app.signup("owner@ledger.test");
    let viewer = app.signup("viewer@ledger.test");
    let me = app.get("/api/auth/me", &owner).json();
    let ws = me["workspaces"][0]["id"].as_i64().unwrap();
    app.join(&owner, ws, "viewer@ledger.test", &viewer, "member");
    let r = app.call_in(
        Some(ws),
        "POST",
        "/api/pricing/reprice",
        Some(&viewer),
        Some(&json!({})),
    );
    let v = assert_error(&r, 403, "forbidden");
    assert_eq!(v["error"]["details"]["required_role"], "admin");
    let r = app.call_in(
        Some(ws),
        "GET",
        "/api/pricing/unpriced",
        Some(&viewer),
        None,
    );
    assert_eq!(r.status, 200);
    let r = app.post("/api/pricing/reprice", &owner, json!({"start": "nope"}));
    assert_error(&r, 422, "validation_error");
    let r = app.call(
        "PUT",
        "/api/pricing/custom/openai/gpt-5.1",
        Some(&owner),
        Some(
            &json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "1",
            "effective_from": "15/11/2026"}),
        ),
    );
    assert_error(&r, 422, "validation_error");
});
