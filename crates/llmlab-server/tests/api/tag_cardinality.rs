//! A tag key with more values than the reports break out: `by-tag` lists the costliest
//! and adds the rest up as `other`, exactly; anomaly attribution still names the value
//! that drove the day, and adds the rest up as a driver that is not a tag value.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::{TestApp, both};

fn send(app: &TestApp, token: &str, events: &[Value]) {
    for chunk in events.chunks(1_000) {
        let r = app.post("/api/events/batch", token, json!({ "events": chunk }));
        let text = r.text();
        let head = &text[..text.len().min(500)];
        assert_eq!(r.status, 200, "{head}");
        assert_eq!(r.json()["rejected"], 0, "{head}");
    }
}

/// A call of `customer` costing `nanos`.
fn call(day: NaiveDate, minute: i64, customer: &str, nanos: i64) -> Value {
    let usd: Value = format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
        .parse()
        .unwrap();
    json!({
        "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 1,
        "cost_usd": usd,
        "timestamp": format!("{day}T{:02}:{:02}:00Z", minute / 60, minute % 60),
        "tags": {"customer": customer},
    })
}

/// Nano-dollars of a JSON amount (9 decimals at most, so the rounding is exact).
fn nanos(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 1e9).round() as i64
}

both!(
    by_tag_lists_the_costliest_and_adds_up_the_rest,
    |app: TestApp| {
        let token = app.signup("values@example.com");
        let day = Utc::now().date_naive() - Duration::days(1);
        // 1,010 customers, customer i spending i tenths of a cent.
        let events: Vec<Value> = (1..=1_010)
            .map(|i| call(day, i % 1_440, &format!("c{i:04}"), i * 1_000_000))
            .collect();
        send(&app, &token, &events);
        let r = app.get("/api/costs/by-tag?key=customer", &token);
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        let values = body["values"].as_array().unwrap();
        assert_eq!(values.len(), 1_000);
        assert_eq!(values[0]["value"], "c1010");
        assert_eq!(values[999]["value"], "c0011");
        let other = &body["other"];
        assert_eq!(other["values"], 10, "{other}");
        assert_eq!(other["calls"], 10);
        assert_eq!(nanos(&other["cost_usd"]), (1..=10).sum::<i64>() * 1_000_000);
        // Listed values and the rest add up to the summary's total, exactly.
        let listed: i64 = values.iter().map(|v| nanos(&v["cost_usd"])).sum();
        let summary = app.get("/api/costs/summary", &token).json();
        assert_eq!(
            listed + nanos(&other["cost_usd"]),
            nanos(&summary["total_cost_usd"])
        );
        // Fewer values than listed: no rest.
        let r = app.get("/api/costs/by-tag?key=nobody", &token).json();
        assert_eq!(r["other"], Value::Null, "{r}");
    }
);

both!(
    attribution_names_the_driver_among_many_values,
    |app: TestApp| {
        let token = app.signup("whale@example.com");
        let today = Utc::now().date_naive();
        let spike = today - Duration::days(2);
        let mut events = Vec::new();
        // 35 days of 150 small customers a day (new ones every day) and one steady one.
        for d in 1..=35i64 {
            let day = today - Duration::days(d);
            for i in 0..150 {
                events.push(call(day, i, &format!("d{d}-c{i}"), 10_000_000 + i * 1_000));
            }
            events.push(call(day, 600, "steady", 500_000_000));
        }
        // The spike: one customer spends $5, and 300 more small ones turn up.
        for i in 0..10 {
            events.push(call(spike, 700 + i, "whale", 500_000_000));
        }
        for i in 0..300 {
            events.push(call(spike, 800 + i, &format!("new-{i}"), 10_000_000));
        }
        send(&app, &token, &events);
        let r = app.get("/api/recommendations/anomalies?days=30", &token);
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        let anomaly = body["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["date"] == spike.to_string())
            .unwrap_or_else(|| panic!("no anomaly on {spike}: {body}"))
            .clone();
        let tags: Vec<&Value> = anomaly["drivers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["dimension"] == "tag")
            .collect();
        assert_eq!(tags[0]["label"], "customer:whale", "{anomaly}");
        assert_eq!(tags[0]["other"], false);
        assert_eq!(nanos(&tags[0]["excess_usd"]), 5_000_000_000);
        // The 300 newcomers beyond the 100 costliest values of the day, with the other small
        // ones, are one driver that names no value.
        let rest = tags
            .iter()
            .find(|d| d["other"] == true)
            .unwrap_or_else(|| panic!("no other values in {anomaly}"));
        assert_eq!(rest["label"], "customer (other values)");
        assert!(tags.len() <= 5, "{anomaly}");
    }
);

both!(
    a_key_with_many_values_gets_a_ranking_that_answers_the_same,
    |app: TestApp| {
        let token = app.signup("ranked@example.com");
        let day = Utc::now().date_naive() - Duration::days(2);
        let events: Vec<Value> = (1..=2_100)
            .map(|i| call(day, i % 1_440, &format!("c{i:04}"), i * 1_000_000))
            .collect();
        send(&app, &token, &events);
        let added_up = app.get("/api/costs/by-tag?key=customer", &token).json();
        // That report asked for the key's ranking, built in the background.
        let built = "llmlab_tag_rankings_built_total 1";
        let mut metrics = String::new();
        for _ in 0..300 {
            metrics = app.call("GET", "/metrics", None, None).text();
            if metrics.contains(built) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(metrics.contains(built), "{metrics}");
        let ranked = app.get("/api/costs/by-tag?key=customer", &token).json();
        assert_eq!(ranked, added_up);
        assert_eq!(ranked["values"][0]["value"], "c2100");
        // A call of three days ago may change the ranking's days: not used, still exact.
        let late = call(day - Duration::days(1), 0, "c0001", 5_000_000_000);
        send(&app, &token, &[late]);
        let after = app.get("/api/costs/by-tag?key=customer", &token).json();
        assert_eq!(
            after["values"][0]["value"], "c0001",
            "{}",
            after["values"][0]
        );
        assert_eq!(nanos(&after["values"][0]["cost_usd"]), 5_001_000_000);
    }
);
