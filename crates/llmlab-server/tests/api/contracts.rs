//! Contracts over HTTP: a discount off catalog prices for a provider (or a model
//! prefix) over a period, applied to the events in its scope and period, named in their
//! `price_ref`, reaching events already stored through a re-pricing run, split into
//! FOCUS's ListCost, and ended from now on by DELETE.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::{TestApp, assert_error, assert_invalid, both};

fn track(app: &TestApp, token: &str, model: &str, tokens: (u64, u64), day: NaiveDate) -> Value {
    let provider = if model.starts_with("claude") {
        "anthropic"
    } else {
        "openai"
    };
    let r = app.post(
        "/api/events/track",
        token,
        json!({"provider": provider, "model": model, "input_tokens": tokens.0,
               "output_tokens": tokens.1, "timestamp": format!("{day}T12:00:00Z")}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn contract(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/contracts", token, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

both!(
    a_contract_discounts_catalog_prices_in_its_scope_and_period,
    |app: TestApp| {
        let token = app.signup("procurement@example.com");
        let today = Utc::now().date_naive();
        let (from, to) = (today - Duration::days(30), today - Duration::days(10));
        let all = contract(
            &app,
            &token,
            json!({"name": "OpenAI EA", "provider": "openai", "discount_pct": 20,
               "effective_from": from.to_string(), "effective_to": to.to_string()}),
        );
        assert_eq!(all["discount_pct"], json!(20));
        assert_eq!(all["model_prefix"], Value::Null);
        assert_eq!(all["ended_at"], Value::Null);
        let mini = contract(
            &app,
            &token,
            json!({"name": "Mini volume", "provider": "OpenAI", "model_prefix": "GPT-4o-mini",
               "discount_pct": "35.5", "effective_from": from.to_string()}),
        );
        assert_eq!(
            (
                &mini["provider"],
                &mini["model_prefix"],
                &mini["discount_pct"]
            ),
            (&json!("openai"), &json!("gpt-4o-mini"), &json!(35.5))
        );

        // gpt-4o, 1M in and 100k out: $2.50 + $1.00 at list, 80 % of it under the contract.
        let inside = track(
            &app,
            &token,
            "gpt-4o",
            (1_000_000, 100_000),
            from + Duration::days(5),
        );
        assert_eq!(inside["cost_usd"], json!(2.8), "{inside}");
        assert_eq!(
            inside["price_ref"]["contract"],
            json!({"id": all["id"], "discount_pct": 20})
        );
        // The day after its last day: list price, no contract named.
        let after = track(
            &app,
            &token,
            "gpt-4o",
            (1_000_000, 100_000),
            to + Duration::days(1),
        );
        assert_eq!(after["cost_usd"], json!(3.5));
        assert!(after["price_ref"].get("contract").is_none(), "{after}");
        // Before its first day: list price.
        let before = track(
            &app,
            &token,
            "gpt-4o",
            (1_000_000, 100_000),
            from - Duration::days(1),
        );
        assert_eq!(before["cost_usd"], json!(3.5));
        // gpt-4o-mini is under both: the longer prefix wins. 1M in and 1M out at
        // $0.15 + $0.60 = $0.75, 64.5 % of it: $0.48375.
        let m = track(
            &app,
            &token,
            "gpt-4o-mini",
            (1_000_000, 1_000_000),
            from + Duration::days(5),
        );
        assert_eq!(m["cost_usd"], json!(0.48375));
        assert_eq!(m["price_ref"]["contract"]["id"], mini["id"]);
        // Another provider: list price (100k tokens at $3/M).
        let claude = track(
            &app,
            &token,
            "claude-sonnet-4-5",
            (100_000, 0),
            from + Duration::days(5),
        );
        assert_eq!(claude["cost_usd"], json!(0.3), "{claude}");
        assert!(claude["price_ref"].get("contract").is_none());

        // A custom price is taken as negotiated already: no contract on top of it.
        let r = app.call(
            "PUT",
            "/api/pricing/custom/openai/gpt-4o",
            Some(&token),
            Some(
                &json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "1",
                     "effective_from": (from + Duration::days(6)).to_string()}),
            ),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let custom = track(
            &app,
            &token,
            "gpt-4o",
            (1_000_000, 0),
            from + Duration::days(7),
        );
        assert_eq!(custom["cost_usd"], json!(1));
        assert_eq!(custom["price_ref"]["source"], "custom_pricing");

        // The events list names the contract too.
        let list = app.get("/api/events?limit=100", &token).json();
        let events = list["events"].as_array().unwrap();
        let named: Vec<&Value> = events
            .iter()
            .filter_map(|e| e["price_ref"].get("contract"))
            .collect();
        assert_eq!(named.len(), 2, "{list}");

        // FOCUS: ListCost is the catalog's, BilledCost and EffectiveCost the contract's.
        let range = format!("start={}&end={}", from - Duration::days(1), today);
        let focus = app
            .get(&format!("/api/costs/export?format=focus&{range}"), &token)
            .text();
        let mut lines = focus.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (model, class, day) = (
            col("x_Model"),
            col("x_TokenClass"),
            col("ChargePeriodStart"),
        );
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        let row = |m: &str, c: &str, d: NaiveDate| {
            rows.iter()
                .find(|r| r[model] == m && r[class] == c && r[day].starts_with(&d.to_string()))
                .unwrap_or_else(|| panic!("no {m} {c} {d} row in {focus}"))
        };
        let input = row("gpt-4o", "input", from + Duration::days(5));
        let costs = |r: &Vec<&str>| {
            let c = |n| r[col(n)].to_string();
            (
                c("BilledCost"),
                c("EffectiveCost"),
                c("ListCost"),
                c("ListUnitPrice"),
            )
        };
        assert_eq!(
            costs(input),
            ("2".into(), "2".into(), "2.5".into(), "2.5".into())
        );
        let output = row("gpt-4o", "output", from + Duration::days(5));
        assert_eq!(
            costs(output),
            ("0.8".into(), "0.8".into(), "1".into(), "10".into())
        );
        let listed = row("gpt-4o", "input", to + Duration::days(1));
        assert_eq!(costs(listed).0, costs(listed).2);
    }
);

both!(
    a_contract_for_the_past_reaches_stored_events_by_repricing,
    |app: TestApp| {
        let token = app.signup("finance@example.com");
        let today = Utc::now().date_naive();
        let day = today - Duration::days(3);
        for _ in 0..3 {
            track(&app, &token, "gpt-4o", (1_000_000, 100_000), day);
        }
        let total = |app: &TestApp| {
            let s = app.get(
                &format!("/api/costs/summary?start={day}&end={today}"),
                &token,
            );
            s.json()["total_cost_usd"].clone()
        };
        assert_eq!(total(&app), json!(10.5));
        let c = contract(
            &app,
            &token,
            json!({"name": "Backdated", "provider": "openai", "discount_pct": 10,
               "effective_from": (day - Duration::days(1)).to_string()}),
        );
        // Stored events keep their price until they are re-priced.
        assert_eq!(total(&app), json!(10.5));
        let dry = app.post("/api/pricing/reprice", &token, json!({"dry_run": true}));
        assert_eq!(dry.status, 200, "{}", dry.text());
        let dry = dry.json();
        assert_eq!(
            (
                &dry["events_changed"],
                &dry["old_cost_usd"],
                &dry["new_cost_usd"],
                &dry["delta_usd"]
            ),
            (&json!(3), &json!(10.5), &json!(9.45), &json!(-1.05)),
            "{dry}"
        );
        assert_eq!(total(&app), json!(10.5), "a dry run writes nothing");
        let applied = app
            .post("/api/pricing/reprice", &token, json!({"dry_run": false}))
            .json();
        assert_eq!(applied["events_changed"], 3, "{applied}");
        assert_eq!(total(&app), json!(9.45));
        let events = app.get("/api/events", &token).json();
        for e in events["events"].as_array().unwrap() {
            assert_eq!(e["price_ref"]["contract"]["id"], c["id"], "{e}");
        }

        // Ended from now on: what it priced keeps it; a call from now is at list price.
        let r = app.call(
            "DELETE",
            &format!("/api/contracts/{}", c["id"]),
            Some(&token),
            None,
        );
        assert_eq!(r.status, 204, "{}", r.text());
        let listed = app.get("/api/contracts", &token).json();
        let ended = &listed["contracts"][0];
        assert!(ended["ended_at"].is_string(), "{listed}");
        let now = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000,
               "output_tokens": 100_000}),
        );
        assert_eq!(now.json()["cost_usd"], json!(3.5), "{}", now.text());
        let again = app
            .post("/api/pricing/reprice", &token, json!({"dry_run": true}))
            .json();
        assert_eq!(again["events_changed"], 0, "{again}");
        assert_eq!(total(&app), json!(12.95));
        // Ending it again changes nothing; an unknown contract is 404.
        let r = app.call(
            "DELETE",
            &format!("/api/contracts/{}", c["id"]),
            Some(&token),
            None,
        );
        assert_eq!(r.status, 204);
        assert_eq!(
            app.get("/api/contracts", &token).json()["contracts"][0]["ended_at"],
            ended["ended_at"]
        );
        for id in ["999999", "abc"] {
            let r = app.call(
                "DELETE",
                &format!("/api/contracts/{id}"),
                Some(&token),
                None,
            );
            assert_error(&r, 404, "not_found");
        }
    }
);

both!(contracts_refuse_what_they_cannot_price, |app: TestApp| {
    let token = app.signup("admin@example.com");
    let ok = json!({"name": "EA", "provider": "openai", "discount_pct": 15,
                    "effective_from": "2026-01-01"});
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        app.post("/api/contracts", &token, body)
    };
    assert_invalid(&with("provider", json!("nobody")), "provider");
    assert_invalid(&with("model_prefix", json!("gpt-99")), "model_prefix");
    assert_invalid(&with("discount_pct", json!(0)), "discount_pct");
    assert_invalid(
        &with("effective_from", json!("2026-13-01")),
        "effective_from",
    );
    assert_invalid(&with("effective_to", json!("2025-12-31")), "effective_to");
    assert_invalid(&with("name", json!("")), "name");
    for bad in [json!(100.5), json!(12.345), json!(-5), json!("a lot")] {
        let r = with("discount_pct", bad.clone());
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
    }
    assert_eq!(app.post("/api/contracts", &token, ok.clone()).status, 201);
    assert_error(
        &app.post("/api/contracts", &token, ok.clone()),
        409,
        "conflict",
    );
    // A member may read contracts but not make them.
    let ws = app.get("/api/workspaces", &token).json()["workspaces"][0]["id"]
        .as_i64()
        .unwrap();
    let member = app.signup("member@example.com");
    app.join(&token, ws, "member@example.com", &member, "member");
    let as_member = |method: &str, path: &str, body: Option<&Value>| {
        crate::client::api(app.addr, Some(ws), method, path, Some(&member), body)
    };
    assert_eq!(as_member("GET", "/api/contracts", None).status, 200);
    let mut other = ok.clone();
    other["name"] = json!("Mine");
    assert_eq!(
        as_member("POST", "/api/contracts", Some(&other)).status,
        403
    );
});
