//! The FOCUS export: its BilledCost adds up, to the nano-dollar, to the events' costs
//! (the summary's total), split by token class with the price each event was stored at.

use chrono::{Duration, Utc};
use llmlab_engine::Usd;
use serde_json::json;

use crate::{TestApp, assert_error, both};

fn nanos(s: &str) -> i64 {
    Usd::parse(s)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .nanos()
}

both!(focus_rows_add_up_to_the_events, |app: TestApp| {
    let token = app.signup("finops@example.com");
    let r = app.call(
        "PUT",
        "/api/pricing/custom/openai/gpt-4o-mini",
        Some(&token),
        Some(
            &json!({"input_per_mtok_usd": "0.333333", "output_per_mtok_usd": "1.777777",
                     "cached_input_per_mtok_usd": "0.111111"}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let today = Utc::now().date_naive();
    let mut events = Vec::new();
    for k in 1..=3 {
        let ts = format!("{}T08:00:00Z", today - Duration::days(k));
        events.extend([
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 12_345 * k,
                   "cached_input_tokens": 1_000, "output_tokens": 777, "reasoning_tokens": 100,
                   "timestamp": ts}),
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 5_000,
                   "output_tokens": 333, "batch": true, "timestamp": ts}),
            json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 9_999,
                   "cache_write_tokens": 2_000, "cached_input_tokens": 3_000,
                   "output_tokens": 1_111, "timestamp": ts}),
            json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 7_777,
                   "cached_input_tokens": 77, "output_tokens": 3, "timestamp": ts}),
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
                   "cost_usd": "0.123456789", "timestamp": ts}),
            json!({"provider": "openai", "model": "gpt-9-preview", "input_tokens": 10,
                   "output_tokens": 10, "timestamp": ts}),
            // 1-hour cache writes, audio in and out, and the Flex and Priority tiers.
            json!({"provider": "anthropic", "model": "claude-opus-4-1", "input_tokens": 8_888,
                   "cache_write_tokens": 1_001, "cache_write_1h_tokens": 3_333,
                   "cached_input_tokens": 999, "output_tokens": 77, "timestamp": ts}),
            json!({"provider": "openai", "model": "gpt-realtime", "input_tokens": 4_321 * k,
                   "cached_input_tokens": 321, "input_audio_tokens": 2_222,
                   "output_tokens": 999, "output_audio_tokens": 777, "timestamp": ts}),
            json!({"provider": "openai", "model": "gpt-5-mini", "input_tokens": 54_321,
                   "cached_input_tokens": 4_321, "output_tokens": 2_345,
                   "reasoning_tokens": 1_234, "service_tier": "flex", "timestamp": ts}),
            json!({"provider": "openai", "model": "o4-mini", "input_tokens": 3_333,
                   "cached_input_tokens": 333, "output_tokens": 3_333,
                   "service_tier": "priority", "timestamp": ts}),
        ]);
    }
    let r = app.post("/api/events/batch", &token, json!({ "events": events }));
    assert_eq!(r.json()["accepted"], 30, "{}", r.text());

    let range = format!("start={}&end={}", today - Duration::days(3), today);
    let focus = app.get(&format!("/api/costs/export?format=focus&{range}"), &token);
    assert_eq!(focus.status, 200, "{}", focus.text());
    let text = focus.text();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 27);
    assert_eq!(header[0], "BilledCost");
    let class = header.iter().position(|h| *h == "x_TokenClass").unwrap();
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let billed: i64 = rows.iter().map(|r| nanos(&r[0])).sum();
    // The events' own costs, from the event export (exact decimals).
    let events_csv = app
        .get(&format!("/api/events/export?{range}"), &token)
        .text();
    let stored: i64 = events_csv
        .lines()
        .skip(1)
        .map(|l| nanos(l.split(',').nth(11).unwrap()))
        .sum();
    assert_eq!(billed, stored, "FOCUS BilledCost adds up to the events");
    let summary = app
        .get(&format!("/api/costs/summary?{range}"), &token)
        .json();
    let total = summary["total_cost_usd"].as_f64().unwrap();
    assert!(
        (total - billed as f64 / 1e9).abs() < 1e-9,
        "{total} vs {billed}"
    );
    // Every token class of the gpt-4o day rows is there, and the client's cost is its own.
    let classes: Vec<&str> = rows.iter().map(|r| r[class].as_str()).collect();
    for c in [
        "input",
        "cached_input",
        "cache_write",
        "output",
        "cache_write_1h",
        "input_audio",
        "output_audio",
        "client_reported",
        "unpriced",
    ] {
        assert!(classes.contains(&c), "no {c} row: {classes:?}");
    }
    assert_eq!(rows.len() % 3, 0, "the same rows each of the three days");
    // A Flex event is split at the Flex rates it was priced at: gpt-5-mini's uncached
    // input is 50,000 tokens × $0.125/M = $0.00625 a day (standard would be $0.0125).
    let model = header.iter().position(|h| *h == "x_Model").unwrap();
    let flex_input: Vec<&str> = rows
        .iter()
        .filter(|r| r[model] == "gpt-5-mini" && r[class] == "input")
        .map(|r| r[0].as_str())
        .collect();
    assert_eq!(flex_input, ["0.00625"; 3]);
    // gpt-realtime's audio output: 777 tokens × $64/M = $0.049728 a day.
    let audio_out: Vec<&str> = rows
        .iter()
        .filter(|r| r[model] == "gpt-realtime" && r[class] == "output_audio")
        .map(|r| r[0].as_str())
        .collect();
    assert_eq!(audio_out, ["0.049728"; 3]);

    assert_error(
        &app.get("/api/costs/export?format=csv", &token),
        422,
        "validation_error",
    );
    assert_error(
        &app.get("/api/costs/export", &token),
        422,
        "validation_error",
    );
});

/// The fields of one CSV line (RFC 4180: a quoted field may hold commas and `""`).
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

both!(
    focus_rows_carry_the_tags_and_add_up_by_tag,
    |app: TestApp| {
        let token = app.signup("allocation@example.com");
        let today = Utc::now().date_naive();
        let mut events = Vec::new();
        for k in 1..=2 {
            let ts = format!("{}T09:00:00Z", today - Duration::days(k));
            events.extend([
                json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 10_000 * k,
                   "output_tokens": 700, "tags": {"team": "core", "feature": "search"},
                   "timestamp": ts}),
                json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 3_000,
                   "cached_input_tokens": 1_000, "output_tokens": 70,
                   "tags": {"team": "core"}, "timestamp": ts}),
                json!({"provider": "anthropic", "model": "claude-sonnet-4-5",
                   "input_tokens": 8_000, "output_tokens": 900,
                   "tags": {"team": "ads, \"growth\""}, "timestamp": ts}),
                json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 50_000,
                   "output_tokens": 5_000, "timestamp": ts}),
            ]);
        }
        let r = app.post("/api/events/batch", &token, json!({ "events": events }));
        assert_eq!(r.json()["accepted"], 8, "{}", r.text());

        let range = format!("start={}&end={}", today - Duration::days(2), today);
        let focus = app.get(&format!("/api/costs/export?format=focus&{range}"), &token);
        assert_eq!(focus.status, 200, "{}", focus.text());
        let text = focus.text();
        let mut lines = text.lines();
        let header = fields(lines.next().unwrap());
        let tags_at = header.iter().position(|h| h == "Tags").unwrap();
        let rows: Vec<Vec<String>> = lines.map(fields).collect();
        assert!(rows.iter().all(|r| r.len() == header.len()), "{text}");
        let tags: Vec<serde_json::Map<String, serde_json::Value>> = rows
            .iter()
            .map(|r| serde_json::from_str(&r[tags_at]).unwrap_or_else(|e| panic!("{r:?}: {e}")))
            .collect();
        // The untagged gpt-4o-mini events are rows of their own with no tags.
        assert!(tags.iter().any(|t| t.is_empty()), "{text}");
        assert!(
            tags.iter()
                .any(|t| t.len() == 2 && t["team"] == "core" && t["feature"] == "search"),
            "{text}"
        );
        // BilledCost summed over the rows with a team gives the by-tag report's figure.
        let by_tag = app
            .get(&format!("/api/costs/by-tag?key=team&{range}"), &token)
            .json();
        let values = by_tag["values"].as_array().unwrap();
        assert_eq!(values.len(), 2, "{by_tag}");
        for v in values {
            let team = v["value"].as_str().unwrap();
            let billed: i64 = rows
                .iter()
                .zip(&tags)
                .filter(|(_, t)| t.get("team").and_then(|x| x.as_str()) == Some(team))
                .map(|(r, _)| nanos(&r[0]))
                .sum();
            let reported = (v["cost_usd"].as_f64().unwrap() * 1e9).round() as i64;
            assert!(billed > 0, "{team}");
            assert_eq!(billed, reported, "team {team}: FOCUS vs by-tag");
        }
    }
);
