//! Currencies over HTTP: dated exchange rates uploaded as JSON or CSV, and the cost
//! summary converted day by day at the rate in effect that day (the latest on or before
//! it), exactly, naming the rates it used; a day with spend and no rate is 422
//! `fx_rate_missing`.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::client::raw;
use crate::{TestApp, assert_error, assert_invalid, both};

fn spend(app: &TestApp, token: &str, usd: &str, day: NaiveDate) {
    let r = app.post(
        "/api/events/track",
        token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
               "cost_usd": usd, "timestamp": format!("{day}T12:00:00Z")}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

fn put(app: &TestApp, token: &str, rates: Value) -> crate::client::Response {
    app.call(
        "PUT",
        "/api/fx-rates",
        Some(token),
        Some(&json!({ "rates": rates })),
    )
}

both!(reports_convert_each_day_at_its_rate, |app: TestApp| {
    let token = app.signup("treasury@example.com");
    let today = Utc::now().date_naive();
    let (d0, d1, d2, d3) = (
        today - Duration::days(10),
        today - Duration::days(9),
        today - Duration::days(8),
        today - Duration::days(7),
    );
    spend(&app, &token, "10", d1);
    spend(&app, &token, "4", d2);
    spend(&app, &token, "2", d3);
    let r = put(
        &app,
        &token,
        json!([{"date": d0.to_string(), "currency": "EUR", "units_per_usd": 0.9},
               {"date": d2.to_string(), "currency": "eur", "units_per_usd": "0.95"}]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"stored": 2}));

    let range = format!("start={d1}&end={d3}");
    let r = app.get(&format!("/api/costs/summary?{range}&currency=eur"), &token);
    assert_eq!(r.status, 200, "{}", r.text());
    let s = r.json();
    // Day 1 at day 0's 0.9: 9; days 2 and 3 at day 2's 0.95: 3.8 and 1.9.
    let by_date: Vec<(Value, Value, Value)> = s["by_date"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].clone(), d["cost_usd"].clone(), d["cost"].clone()))
        .collect();
    assert_eq!(
        by_date,
        vec![
            (json!(d1.to_string()), json!(10), json!(9)),
            (json!(d2.to_string()), json!(4), json!(3.8)),
            (json!(d3.to_string()), json!(2), json!(1.9)),
        ]
    );
    assert_eq!(
        (&s["currency"], &s["total_cost"], &s["total_cost_usd"]),
        (&json!("EUR"), &json!(14.7), &json!(16))
    );
    assert_eq!(
        s["fx_rates_used"],
        json!([{"date": d0.to_string(), "units_per_usd": 0.9},
               {"date": d2.to_string(), "units_per_usd": 0.95}])
    );
    // The breakdowns convert each UTC day the same way.
    let providers = app
        .get(
            &format!("/api/costs/by-provider?{range}&currency=EUR"),
            &token,
        )
        .json();
    assert_eq!(
        (
            &providers["providers"][0]["provider"],
            &providers["providers"][0]["cost"],
            &providers["currency"]
        ),
        (&json!("openai"), &json!(14.7), &json!("EUR"))
    );
    assert_eq!(providers["fx_rates_used"], s["fx_rates_used"]);
    let models = app
        .get(
            &format!("/api/costs/top-models?{range}&currency=EUR"),
            &token,
        )
        .json();
    assert_eq!(
        (
            &models["models"][0]["model"],
            &models["models"][0]["cost"],
            &models["models"][0]["cost_usd"]
        ),
        (&json!("gpt-4o"), &json!(14.7), &json!(16))
    );
    let plain = app
        .get(&format!("/api/costs/by-provider?{range}"), &token)
        .json();
    assert!(plain.get("currency").is_none() && plain["providers"][0].get("cost").is_none());
    // The events export: each event at its day's rate, in two more columns.
    let csv = app
        .get(&format!("/api/events/export?{range}&currency=EUR"), &token)
        .text();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .ends_with(",web_search_calls,code_sessions,cost,currency")
    );
    let mut costs: Vec<(String, String)> = lines
        .map(|l| {
            let mut last = l.rsplitn(3, ',');
            let currency = last.next().unwrap().to_string();
            (last.next().unwrap().to_string(), currency)
        })
        .collect();
    costs.sort();
    let eur = |c: &str| (c.to_string(), "EUR".to_string());
    assert_eq!(costs, vec![eur("1.9"), eur("3.8"), eur("9")]);
    let r = app.get("/api/events/export?currency=EUR", &token);
    assert_invalid(&r, "start");
    // FOCUS: every row in EUR, at its day's rate.
    let focus = app
        .get(
            &format!("/api/costs/export?format=focus&{range}&currency=EUR"),
            &token,
        )
        .text();
    let mut lines = focus.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (billed, currency) = (col("BilledCost"), col("BillingCurrency"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r[currency] == "EUR"), "{focus}");
    let total: i64 = rows
        .iter()
        .map(|r| llmlab_engine::Usd::parse(r[billed]).unwrap().nanos())
        .sum();
    assert_eq!(total, 14_700_000_000);
    // A month's bucket converts each of its days at that day's rate: the same 14.7.
    let monthly = app
        .get(
            &format!("/api/costs/summary?{range}&currency=EUR&granularity=month"),
            &token,
        )
        .json();
    assert_eq!(monthly["total_cost"], json!(14.7));
    // Without currency= nothing changes in the answer.
    let plain = app
        .get(&format!("/api/costs/summary?{range}"), &token)
        .json();
    assert!(plain.get("currency").is_none() && plain["by_date"][0].get("cost").is_none());

    // No rate on or before day 1: 422 naming it.
    let r = put(
        &app,
        &token,
        json!([{"date": d2.to_string(), "currency": "GBP", "units_per_usd": "0.8"}]),
    );
    assert_eq!(r.status, 200);
    let r = app.get(&format!("/api/costs/summary?{range}&currency=GBP"), &token);
    let v = assert_error(&r, 422, "fx_rate_missing");
    assert_eq!(
        v["error"]["details"],
        json!({"currency": "GBP", "date": d1.to_string()})
    );
    // The same as CSV, from day 0: now every day has one.
    let bearer = format!("Bearer {token}");
    let csv = format!("date,currency,units_per_usd\n{d0},GBP,0.75\n");
    let r = raw(
        app.addr,
        "PUT",
        "/api/fx-rates",
        &[("Authorization", &bearer), ("Content-Type", "text/csv")],
        csv.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let s = app
        .get(&format!("/api/costs/summary?{range}&currency=GBP"), &token)
        .json();
    // 10 × 0.75 + (4 + 2) × 0.8 = 7.5 + 4.8.
    assert_eq!(s["total_cost"], json!(12.3));
    // A rate set again for its day replaces the first.
    put(
        &app,
        &token,
        json!([{"date": d0.to_string(), "currency": "GBP", "units_per_usd": "0.7"}]),
    );
    let s = app
        .get(&format!("/api/costs/summary?{range}&currency=GBP"), &token)
        .json();
    assert_eq!(s["total_cost"], json!(11.8));

    let listed = app.get("/api/fx-rates?currency=gbp", &token).json();
    assert_eq!(
        listed["rates"],
        json!([{"date": d2.to_string(), "currency": "GBP", "units_per_usd": 0.8},
               {"date": d0.to_string(), "currency": "GBP", "units_per_usd": 0.7}])
    );
    assert_eq!(
        app.get("/api/fx-rates", &token).json()["rates"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
});

both!(rates_refuse_what_they_cannot_mean, |app: TestApp| {
    let token = app.signup("fx-admin@example.com");
    let one = |date: &str, currency: &str, rate: Value| {
        put(
            &app,
            &token,
            json!([{"date": date, "currency": currency, "units_per_usd": rate}]),
        )
    };
    assert_invalid(&one("2026-01-01", "EURO", json!(1)), "rates[0].currency");
    assert_invalid(&one("2026-01-01", "EU1", json!(1)), "rates[0].currency");
    assert_invalid(&one("2026-02-30", "EUR", json!(1)), "rates[0].date");
    assert_invalid(
        &one("2026-01-01", "EUR", json!(0)),
        "rates[0].units_per_usd",
    );
    assert_invalid(
        &one("2026-01-01", "EUR", json!(-1)),
        "rates[0].units_per_usd",
    );
    assert_invalid(&put(&app, &token, json!([])), "rates");
    let r = one("2026-01-01", "EUR", json!("0.0000000001"));
    assert_eq!(r.status, 422, "{}", r.text());
    let bearer = format!("Bearer {token}");
    let csv = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "text/csv"),
    ];
    let r = raw(app.addr, "PUT", "/api/fx-rates", &csv, b"2026-01-01,EUR\n");
    assert_invalid(&r, "body");
    assert_invalid(
        &app.get("/api/costs/summary?currency=euro", &token),
        "currency",
    );
    assert_invalid(&app.get("/api/fx-rates?currency=1", &token), "currency");
    // Only admins set rates; a member reads them.
    let ws = app.get("/api/workspaces", &token).json()["workspaces"][0]["id"]
        .as_i64()
        .unwrap();
    let member = app.signup("fx-member@example.com");
    app.join(&token, ws, "fx-member@example.com", &member, "member");
    let body = json!({"rates": [{"date": "2026-01-01", "currency": "EUR", "units_per_usd": 1}]});
    let r = crate::client::api(
        app.addr,
        Some(ws),
        "PUT",
        "/api/fx-rates",
        Some(&member),
        Some(&body),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = crate::client::api(
        app.addr,
        Some(ws),
        "GET",
        "/api/fx-rates",
        Some(&member),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
});

both!(the_dashboard_shows_the_display_currency, |app: TestApp| {
    let token = app.signup("display@example.com");
    let listed = app.get("/api/workspaces", &token).json();
    let ws = &listed["workspaces"][0];
    assert_eq!(ws["display_currency"], "USD");
    let path = format!("/api/workspaces/{}", ws["id"]);
    let r = app.call(
        "PATCH",
        &path,
        Some(&token),
        Some(&json!({"name": "Mine", "display_currency": "EURO"})),
    );
    assert_invalid(&r, "display_currency");
    let r = app.call(
        "PATCH",
        &path,
        Some(&token),
        Some(&json!({"name": "Mine", "display_currency": "eur"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["display_currency"], "EUR");

    // This month's spend: $10 today.
    let today = Utc::now().date_naive();
    spend(&app, &token, "10", today);
    let cookie = crate::dashboard::sign_in(&app, "display@example.com");
    let shown = crate::dashboard::page(&app, "/overview", Some(&cookie)).text();
    assert!(
        shown.contains(&format!("No EUR rate on or before {today}")),
        "{shown}"
    );
    let first = today.with_day(1).unwrap();
    put(
        &app,
        &token,
        json!([{"date": first.to_string(), "currency": "EUR", "units_per_usd": "0.9"}]),
    );
    let shown = crate::dashboard::page(&app, "/overview", Some(&cookie)).text();
    assert!(
        shown.contains("≈ 9.00 EUR at this workspace&#x27;s rates")
            || shown.contains("≈ 9.00 EUR at this workspace's rates"),
        "{shown}"
    );
});

both!(the_tag_breakdown_converts_each_day, |app: TestApp| {
    let token = app.signup("tags-fx@example.com");
    let today = Utc::now().date_naive();
    let (d0, d1, d2) = (
        today - Duration::days(6),
        today - Duration::days(5),
        today - Duration::days(4),
    );
    for (team, usd, day) in [("a", "10", d1), ("b", "4", d2), ("a", "2", d2)] {
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
                   "cost_usd": usd, "tags": {"team": team}, "timestamp": format!("{day}T12:00:00Z")}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    put(
        &app,
        &token,
        json!([{"date": d0.to_string(), "currency": "EUR", "units_per_usd": "0.9"},
               {"date": d2.to_string(), "currency": "EUR", "units_per_usd": "0.95"}]),
    );
    let r = app.get(
        &format!("/api/costs/by-tag?key=team&start={d1}&end={d2}&currency=EUR"),
        &token,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.json();
    // a: 10 × 0.9 + 2 × 0.95 = 10.9; b: 4 × 0.95 = 3.8.
    let values: Vec<(Value, Value, Value)> = list["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["value"].clone(), v["cost_usd"].clone(), v["cost"].clone()))
        .collect();
    assert_eq!(
        values,
        vec![
            (json!("a"), json!(12), json!(10.9)),
            (json!("b"), json!(4), json!(3.8))
        ]
    );
    assert_eq!(list["currency"], "EUR");
    // The split by sender: every call here came with a session, one row of 14.7.
    let keys = app
        .get(
            &format!("/api/costs/by-key?start={d1}&end={d2}&currency=EUR"),
            &token,
        )
        .json();
    assert_eq!(
        (
            &keys["keys"][0]["api_key_id"],
            &keys["keys"][0]["cost"],
            &keys["keys"][0]["cost_usd"]
        ),
        (&Value::Null, &json!(14.7), &json!(16)),
        "{keys}"
    );
});
