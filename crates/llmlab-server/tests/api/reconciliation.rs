//! Reconciliation over HTTP: provider cost reports, written to the shape of the
//! providers' documented formats (OpenAI's `GET /v1/organization/costs` page of daily
//! buckets with `amount.value` and `line_item`; Anthropic's `GET
//! /v1/organizations/cost_report` with `amount` in cents as a decimal string; a FOCUS
//! 1.2 CSV with `BilledCost`, `ChargePeriodStart`, `ServiceName`), imported once per
//! content and reconciled against the ledger per day and provider, the drift worked out
//! by hand.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::client::{Response, raw};
use crate::{TestApp, assert_invalid, both};

fn import(app: &TestApp, token: &str, format: &str, body: &str) -> Response {
    let bearer = format!("Bearer {token}");
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/octet-stream"),
    ];
    let path = format!("/api/reconciliation/imports?format={format}");
    raw(app.addr, "POST", &path, &headers, body.as_bytes())
}

fn spend(app: &TestApp, token: &str, provider: &str, model: &str, usd: &str, day: NaiveDate) {
    let r = app.post(
        "/api/events/track",
        token,
        json!({"provider": provider, "model": model, "input_tokens": 1, "output_tokens": 1,
               "cost_usd": usd, "timestamp": format!("{day}T12:00:00Z")}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

fn unix(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
}

/// One cost result: `amount.value` as written, and `line_item`.
type CostResult<'a> = (&'a str, Option<&'a str>);

/// OpenAI's costs page: one bucket a day, `results` grouped by line item.
fn openai_page(buckets: &[(NaiveDate, Vec<CostResult<'_>>)]) -> String {
    let data: Vec<String> = buckets
        .iter()
        .map(|(day, results)| {
            let results: Vec<String> = results
                .iter()
                .map(|(value, item)| {
                    let item = item.map_or("null".to_string(), |i| format!("\"{i}\""));
                    format!(
                        r#"{{"object": "organization.costs.result", "amount": {{"value": {value}, "currency": "usd"}}, "line_item": {item}, "project_id": null}}"#
                    )
                })
                .collect();
            format!(
                r#"{{"object": "bucket", "start_time": {}, "end_time": {}, "results": [{}]}}"#,
                unix(*day),
                unix(*day + Duration::days(1)),
                results.join(", ")
            )
        })
        .collect();
    format!(
        r#"{{"object": "page", "data": [{}], "has_more": false, "next_page": null}}"#,
        data.join(", ")
    )
}

both!(bills_are_reconciled_against_the_ledger, |app: TestApp| {
    let token = app.signup("finance@example.com");
    let today = Utc::now().date_naive();
    let (d1, d2, d3) = (
        today - Duration::days(5),
        today - Duration::days(4),
        today - Duration::days(3),
    );
    spend(&app, &token, "openai", "gpt-4o", "10", d1);
    spend(&app, &token, "openai", "gpt-4o", "4", d2);
    spend(&app, &token, "anthropic", "claude-sonnet-4-5", "2", d1);

    // $6.20 + $3.30000000000000004 (a binary float's noise, rounded once to $3.30) on
    // day 1, $4.40 on day 2, nothing on day 3.
    let page = openai_page(&[
        (
            d1,
            vec![
                ("6.2", Some("gpt-4o-2024-08-06, input")),
                ("3.30000000000000004", Some("gpt-4o-2024-08-06, output")),
            ],
        ),
        (d2, vec![("4.4", None)]),
        (d3, vec![]),
    ]);
    let c = app.post(
        "/api/channels",
        &token,
        json!({"name": "finance", "kind": "webhook", "url": "https://hooks.example.com/llmlab",
               "events": ["drift"]}),
    );
    assert_eq!(c.status, 201, "{}", c.text());
    let channel = c.json()["id"].as_i64().unwrap();
    let r = import(&app, &token, "openai_costs", &page);
    assert_eq!(r.status, 201, "{}", r.text());
    let first = r.json();
    // Two of its days drift past 5 %: one notice for the import, naming both.
    let told = app
        .get(&format!("/api/channels/{channel}/deliveries"), &token)
        .json();
    let drift: Vec<&Value> = told["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["event"] == "drift")
        .collect();
    assert_eq!(drift.len(), 1, "{told}");
    assert_eq!(drift[0]["occasion"], format!("drift:{}", first["id"]));
    assert_eq!(
        first,
        json!({"id": first["id"], "format": "openai_costs", "provider": "openai",
               "start": d1.to_string(), "end": d3.to_string(), "rows": 3, "rows_skipped": 0,
               "billed_usd": 13.9})
    );
    // The same content again: the first import, nothing added.
    let again = import(&app, &token, "openai_costs", &page);
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["id"], first["id"]);

    // Anthropic's amounts are cents: "150" and "50.5" are $1.50 and $0.505.
    let anthropic = format!(
        r#"{{"data": [{{"starting_at": "{d1}T00:00:00Z", "ending_at": "{d2}T00:00:00Z", "results": [
            {{"currency": "USD", "amount": "150", "workspace_id": null, "description": null, "cost_type": "tokens", "context_window": "0-200k", "model": "claude-sonnet-4-5-20250929", "service_tier": "standard", "token_type": "uncached_input_tokens"}},
            {{"currency": "USD", "amount": "50.5", "workspace_id": null, "description": null, "cost_type": "tokens", "context_window": "0-200k", "model": "claude-sonnet-4-5-20250929", "service_tier": "standard", "token_type": "output_tokens"}}]}}],
           "has_more": false, "next_page": null}}"#
    );
    let r = import(&app, &token, "anthropic_cost_report", &anthropic);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["billed_usd"], json!(2.005));
    // Within 5 %: nothing more told.
    let told = app
        .get(&format!("/api/channels/{channel}/deliveries"), &token)
        .json();
    assert_eq!(told["notifications"].as_array().unwrap().len(), 1, "{told}");

    let range = format!("start={d1}&end={d3}");
    let rec = app.get(&format!("/api/reconciliation?{range}"), &token);
    assert_eq!(rec.status, 200, "{}", rec.text());
    let rec = rec.json();
    // By hand: drift = billed − tracked, drift_pct = drift ÷ billed × 100 to 2 decimals.
    //   d1 anthropic: 2.005 − 2 = 0.005; 0.005 ÷ 2.005 = 0.2494 % → 0.25
    //   d1 openai:    9.5 − 10 = −0.5;   −0.5 ÷ 9.5 = −5.263 % → −5.26 (beyond 5 %)
    //   d2 openai:    4.4 − 4 = 0.4;     0.4 ÷ 4.4 = 9.0909 % → 9.09 (beyond)
    assert_eq!(
        rec["days"],
        json!([
            {"date": d1.to_string(), "provider": "anthropic", "billed_usd": 2.005, "tracked_usd": 2,
             "drift_usd": 0.005, "drift_pct": 0.25, "beyond_threshold": false},
            {"date": d1.to_string(), "provider": "openai", "billed_usd": 9.5, "tracked_usd": 10,
             "drift_usd": -0.5, "drift_pct": -5.26, "beyond_threshold": true},
            {"date": d2.to_string(), "provider": "openai", "billed_usd": 4.4, "tracked_usd": 4,
             "drift_usd": 0.4, "drift_pct": 9.09, "beyond_threshold": true},
        ])
    );
    // Total: 15.905 − 16 = −0.095; −0.095 ÷ 15.905 = −0.597 % → −0.6. The bill is below
    // what was tracked by 0.095 ÷ 16 = 0.59375 % → 0.59 suggested off.
    assert_eq!(
        rec["total"],
        json!({"billed_usd": 15.905, "tracked_usd": 16, "drift_usd": -0.095, "drift_pct": -0.6})
    );
    assert_eq!(rec["suggested_discount_pct"], json!(0.59));
    assert_eq!(rec["threshold_pct"], json!(5));
    let strict = app
        .get(
            &format!("/api/reconciliation?{range}&threshold_pct=0.1&provider=anthropic"),
            &token,
        )
        .json();
    assert_eq!(strict["days"].as_array().unwrap().len(), 1);
    assert_eq!(strict["days"][0]["beyond_threshold"], true);

    // By model: OpenAI's line items name gpt-4o on day 1; day 2's result names none, so
    // its bill stands apart from the gpt-4o calls tracked that day.
    let by_model = app
        .get(
            &format!("/api/reconciliation?{range}&provider=openai&by=model"),
            &token,
        )
        .json();
    let rows: Vec<(String, String, Value, Value)> = by_model["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let text = |k: &str| d[k].as_str().unwrap().to_string();
            (
                text("date"),
                text("model"),
                d["billed_usd"].clone(),
                d["tracked_usd"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (d1.to_string(), "gpt-4o".into(), json!(9.5), json!(10)),
            (d2.to_string(), "".into(), json!(4.4), json!(0)),
            (d2.to_string(), "gpt-4o".into(), json!(0), json!(4)),
        ]
    );
    assert_invalid(&app.get("/api/reconciliation?by=team", &token), "by");

    // A later report of day 2 replaces what the first said of it.
    let fix = openai_page(&[(d2, vec![("4", None)])]);
    assert_eq!(import(&app, &token, "openai_costs", &fix).status, 201);
    let rec = app
        .get(
            &format!("/api/reconciliation?{range}&provider=openai"),
            &token,
        )
        .json();
    let d2_billed: Vec<&Value> = rec["days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["date"] == d2.to_string())
        .collect();
    assert_eq!(d2_billed[0]["billed_usd"], json!(4));
    assert_eq!(d2_billed[0]["drift_usd"], json!(0));

    // FOCUS: Bedrock's usage and Azure OpenAI's; a tax row and a compute row skipped.
    let focus = format!(
        "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ProviderName,ServiceName\n\
         1.25,USD,{d1}T00:00:00Z,{d2}T00:00:00Z,Usage,AWS,Amazon Bedrock\n\
         0.10,USD,{d1}T00:00:00Z,{d2}T00:00:00Z,Tax,AWS,Amazon Bedrock\n\
         99.00,USD,{d1}T00:00:00Z,{d2}T00:00:00Z,Usage,AWS,Amazon Elastic Compute Cloud\n\
         \"2.5\",USD,{d2}T00:00:00Z,{d3}T00:00:00Z,Usage,Microsoft,Azure OpenAI Service\n"
    );
    let r = import(&app, &token, "focus", &focus);
    assert_eq!(r.status, 201, "{}", r.text());
    let f = r.json();
    assert_eq!(
        (
            &f["provider"],
            &f["rows"],
            &f["rows_skipped"],
            &f["billed_usd"]
        ),
        (&Value::Null, &json!(4), &json!(2), &json!(3.75))
    );
    let bedrock = app
        .get(
            &format!("/api/reconciliation?{range}&provider=bedrock"),
            &token,
        )
        .json();
    assert_eq!(
        bedrock["days"],
        json!([{"date": d1.to_string(), "provider": "bedrock", "billed_usd": 1.25, "tracked_usd": 0,
                "drift_usd": 1.25, "drift_pct": 100, "beyond_threshold": true}])
    );
    assert_eq!(bedrock["suggested_discount_pct"], Value::Null);

    // The dashboard's page: both series on one chart, the days with their drift, the
    // imports.
    let cookie = crate::dashboard::sign_in(&app, "finance@example.com");
    let shown = crate::dashboard::page(&app, &format!("/reconciliation?{range}"), Some(&cookie));
    assert_eq!(shown.status, 200, "{}", shown.text());
    let html = shown.text();
    for expected in [
        "Billed and tracked per day",
        &format!("{d1} billed: $12.76"),
        &format!("{d1} tracked: $12.00"),
        "−5.26 %",
        "<tr class=\"flagged\">",
        "anthropic_cost_report",
        "several",
    ] {
        assert!(html.contains(expected), "no {expected:?} in the page");
    }
    let bad = crate::dashboard::page(&app, "/reconciliation?start=someday", Some(&cookie));
    assert_eq!(bad.status, 422, "{}", bad.text());
});

both!(
    llmlabs_own_focus_export_reconciles_to_nothing,
    |app: TestApp| {
        let token = app.signup("finops@example.com");
        let today = Utc::now().date_naive();
        for k in 1..=3 {
            let day = today - Duration::days(k);
            let r = app.post(
                "/api/events/track",
                &token,
                json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 12_345 * k,
                   "cached_input_tokens": 1_000, "output_tokens": 777,
                   "timestamp": format!("{day}T08:00:00Z")}),
            );
            assert_eq!(r.status, 201);
            spend(
                &app,
                &token,
                "anthropic",
                "claude-sonnet-4-5",
                "0.123456789",
                day,
            );
        }
        let range = format!("start={}&end={}", today - Duration::days(3), today);
        let csv = app
            .get(&format!("/api/costs/export?format=focus&{range}"), &token)
            .text();
        let r = import(&app, &token, "focus", &csv);
        assert_eq!(r.status, 201, "{}", r.text());
        let rec = app
            .get(&format!("/api/reconciliation?{range}"), &token)
            .json();
        assert_eq!(rec["days"].as_array().unwrap().len(), 6, "{rec}");
        for d in rec["days"].as_array().unwrap() {
            assert_eq!(d["drift_usd"], json!(0), "{d}");
        }
        assert_eq!(rec["total"]["drift_usd"], json!(0));
    }
);

both!(imports_refuse_what_they_cannot_read, |app: TestApp| {
    let token = app.signup("admin@example.com");
    let day = Utc::now().date_naive() - Duration::days(1);
    let ok = openai_page(&[(day, vec![("1", None)])]);
    assert_invalid(&import(&app, &token, "csv", &ok), "format");
    assert_invalid(
        &import(&app, &token, "openai_costs", "{\"data\": ["),
        "body",
    );
    assert_invalid(
        &import(&app, &token, "openai_costs", "{\"data\": []}"),
        "body",
    );
    let euros = ok.replace("\"usd\"", "\"eur\"");
    assert_invalid(&import(&app, &token, "openai_costs", &euros), "currency");
    let huge = ok.replace("\"value\": 1", "\"value\": 1e30");
    assert_invalid(&import(&app, &token, "openai_costs", &huge), "amount.value");
    assert_invalid(&import(&app, &token, "anthropic_cost_report", &ok), "body");
    assert_invalid(
        &import(&app, &token, "focus", "Cost,Date\n1,2026-01-01\n"),
        "body",
    );
    let ragged = format!("BilledCost,BillingCurrency,ChargePeriodStart\n1,USD,{day}\n2,USD\n");
    assert_invalid(&import(&app, &token, "focus", &ragged), "body");
    assert_invalid(
        &app.get("/api/reconciliation?start=2026-02-30", &token),
        "start",
    );
    assert_invalid(
        &app.get("/api/reconciliation?threshold_pct=-1", &token),
        "threshold_pct",
    );
    // A member reads the reconciliation; only admins import.
    let ws = app.get("/api/workspaces", &token).json()["workspaces"][0]["id"]
        .as_i64()
        .unwrap();
    let member = app.signup("member@example.com");
    app.join(&token, ws, "member@example.com", &member, "member");
    let bearer = format!("Bearer {member}");
    let w = ws.to_string();
    let headers = [
        ("Authorization", bearer.as_str()),
        ("X-LLMLab-Workspace", w.as_str()),
    ];
    let r = raw(
        app.addr,
        "POST",
        "/api/reconciliation/imports?format=openai_costs",
        &headers,
        ok.as_bytes(),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = crate::client::api(
        app.addr,
        Some(ws),
        "GET",
        "/api/reconciliation",
        Some(&member),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
});
