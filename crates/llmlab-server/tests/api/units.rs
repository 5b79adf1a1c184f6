//! Images, transcription minutes, speech characters, web searches and code sessions over
//! HTTP: hand-computed costs, from the fields and from the providers' usage objects, the
//! summary's sums, re-pricing, the exports, and the refusals.

use llmlab_engine::Usd;
use serde_json::{Value, json};

use crate::{TestApp, assert_invalid, both, usd_nanos as nanos};

use crate::pricing_depth::TS;

both!(
    units_are_priced_stored_summed_and_exported,
    |app: TestApp| {
        let token = app.signup("units@example.com");
        let track = |body: Value| {
            let mut body = body;
            body["timestamp"] = json!(TS);
            body["tags"] = json!({"team": "media"});
            let r = app.post("/api/events/track", &token, body);
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()
        };
        // (event, cost in nano-dollars)
        let cases = [
            // dall-e-3: two HD 1792x1024 images at $0.12; no token fields needed.
            (
                json!({"provider": "openai", "model": "dall-e-3", "images": 2,
                   "image_size": "1792x1024", "image_quality": "hd"}),
                240_000_000,
            ),
            // whisper-1 at $0.006 a minute, from the transcription's usage object: 95 s.
            (
                json!({"provider": "openai", "model": "whisper-1",
                   "usage": {"type": "duration", "seconds": 95}}),
                9_500_000,
            ),
            // tts-1 at $15 per million characters: 1,234 characters.
            (
                json!({"provider": "openai", "model": "tts-1", "output_characters": 1234}),
                18_510_000,
            ),
            // claude-sonnet-4-5 from its usage object: 10,000 in at $3/M, 500 out at $15/M and
            // three searches at $10 per 1,000: 0.03 + 0.0075 + 0.03.
            (
                json!({"provider": "anthropic", "model": "claude-sonnet-4-5",
                   "usage": {"input_tokens": 10000, "output_tokens": 500,
                             "server_tool_use": {"web_search_requests": 3}}}),
                67_500_000,
            ),
            // gpt-5: a $0.03 container and two $0.01 searches, no tokens reported.
            (
                json!({"provider": "openai", "model": "gpt-5", "code_sessions": 1,
                   "web_search_calls": 2}),
                50_000_000,
            ),
        ];
        let mut total = 0;
        for (event, expected) in &cases {
            let stored = track(event.clone());
            assert_eq!(nanos(&stored["cost_usd"]), *expected, "{event}");
            total += expected;
            let mut estimate = event.clone();
            estimate["timestamp"] = json!(TS);
            let e = app.post("/api/costs/estimate", &token, estimate).json();
            assert_eq!(nanos(&e["cost_usd"]), *expected, "estimate of {event}");
            let parts: i64 = e["breakdown"]
                .as_object()
                .unwrap()
                .values()
                .map(nanos)
                .sum();
            assert_eq!(parts, *expected, "the breakdown of {event} adds up");
        }
        let e = app
            .post(
                "/api/costs/estimate",
                &token,
                json!({"provider": "openai", "model": "dall-e-3",
               "images": 2, "image_size": "1792x1024", "image_quality": "hd", "timestamp": TS}),
            )
            .json();
        assert_eq!(nanos(&e["breakdown"]["images_usd"]), 240_000_000, "{e}");

        // The events say what they were billed for.
        let listed = app.get("/api/events?limit=10", &token).json();
        let events = listed["events"].as_array().unwrap();
        let by_model = |m: &str| events.iter().find(|e| e["model"] == m).unwrap().clone();
        let dalle = by_model("dall-e-3");
        assert_eq!(
            (
                &dalle["images"],
                &dalle["image_size"],
                &dalle["image_quality"]
            ),
            (&json!(2), &json!("1792x1024"), &json!("hd"))
        );
        assert_eq!(by_model("whisper-1")["audio_input_seconds"], 95);
        assert_eq!(by_model("claude-sonnet-4-5")["web_search_calls"], 3);
        assert!(by_model("tts-1").get("image_size").is_none());

        // The summary sums each unit beside the tokens, from the rollups and from the tag
        // rollups alike.
        for filter in ["", "&tag=team:media"] {
            let s = app
                .get(
                    &format!("/api/costs/summary?start=2025-11-30&end=2025-12-02{filter}"),
                    &token,
                )
                .json();
            assert_eq!(nanos(&s["total_cost_usd"]), total, "{s}");
            assert_eq!(s["total_images"], 2, "{s}");
            assert_eq!(s["total_audio_input_seconds"], 95, "{s}");
            assert_eq!(s["total_output_characters"], 1234, "{s}");
            assert_eq!(s["total_web_search_calls"], 5, "{s}");
            assert_eq!(s["total_code_sessions"], 1, "{s}");
        }

        // Re-pricing reads the stored units back: nothing changes.
        let r = app.post("/api/pricing/reprice", &token, json!({"dry_run": true}));
        assert_eq!(r.status, 200, "{}", r.text());
        let r = r.json();
        assert_eq!(
            (&r["events_matched"], &r["events_changed"]),
            (&json!(5), &json!(0)),
            "{r}"
        );

        // The CSV export carries them; the FOCUS export prices each unit in its own row.
        let csv = app.get("/api/events/export", &token).text();
        let header = csv.lines().next().unwrap();
        assert!(
        header.ends_with(
            ",service_tier,images,image,audio_input_seconds,output_characters,web_search_calls,code_sessions"
        ),
        "{header}"
    );
        assert!(csv.contains(",standard,2,1792x1024/hd,0,0,0,0\n"), "{csv}");
        let focus = app
            .get(
                "/api/costs/export?format=focus&start=2025-11-30&end=2025-12-02",
                &token,
            )
            .text();
        // One tag, so no field holds a comma: the rows split on them.
        let mut lines = focus.lines();
        let head: Vec<String> = lines
            .next()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        let rows: Vec<Vec<String>> = lines
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        let col = |row: &Vec<String>, name: &str| {
            row[head.iter().position(|h| h == name).unwrap()].clone()
        };
        let billed: i64 = rows
            .iter()
            .map(|r| Usd::parse(&col(r, "BilledCost")).unwrap().nanos())
            .sum();
        assert_eq!(billed, total, "{focus}");
        let row = |model: &str, class: &str| {
            rows.iter()
                .find(|r| col(r, "x_Model") == model && col(r, "x_TokenClass") == class)
                .unwrap_or_else(|| panic!("{model} {class}: {focus}"))
        };
        let images = row("dall-e-3", "images");
        assert_eq!(
            [
                "ConsumedQuantity",
                "ConsumedUnit",
                "PricingUnit",
                "ListUnitPrice"
            ]
            .map(|c| col(images, c)),
            ["2", "Images", "Images", "0.12"]
        );
        let whisper = row("whisper-1", "transcription");
        assert_eq!(
            (
                col(whisper, "ConsumedQuantity"),
                col(whisper, "ConsumedUnit")
            ),
            ("95".into(), "Seconds".into())
        );
        assert_eq!(col(whisper, "ListUnitPrice"), "0.0001");
        assert_eq!(
            col(row("claude-sonnet-4-5", "web_search"), "BilledCost"),
            "0.03"
        );
        assert_eq!(
            col(row("gpt-5", "code_sessions"), "ConsumedUnit"),
            "Sessions"
        );
        assert_eq!(col(row("tts-1", "speech"), "ConsumedQuantity"), "1234");
    }
);

both!(
    units_without_a_rate_are_refused_naming_the_field,
    |app: TestApp| {
        let token = app.signup("units-refused@example.com");
        let post = |body: Value| app.post("/api/events/track", &token, body);
        let field = |body: Value, field: &str| assert_invalid(&post(body), field);
        let openai = |model: &str, extra: Value| {
            let mut body = json!({"provider": "openai", "model": model});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        let v = field(
            openai("gpt-4o", json!({"web_search_calls": 1})),
            "web_search_calls",
        );
        assert!(v.to_string().contains("no rate"), "{v}");
        field(
            openai("gpt-4o", json!({"images": 1, "image_size": "1024x1024"})),
            "images",
        );
        field(openai("dall-e-3", json!({"images": 1})), "image_size");
        let v = field(
            openai("dall-e-3", json!({"images": 1, "image_size": "256x256"})),
            "image_size",
        );
        assert!(
            v.to_string().contains("1024x1792"),
            "the priced sizes are named: {v}"
        );
        field(
            openai(
                "dall-e-2",
                json!({"images": 1, "image_size": "1024x1024", "image_quality": "hd"}),
            ),
            "image_quality",
        );
        field(
            openai("dall-e-3", json!({"images": 1, "image_size": "huge"})),
            "image_size",
        );
        field(
            openai(
                "dall-e-3",
                json!({"images": 1, "image_size": "1024x1024", "image_quality": "ultra"}),
            ),
            "image_quality",
        );
        field(
            openai("dall-e-3", json!({"image_quality": "hd"})),
            "image_size",
        );
        field(
            openai("dall-e-3", json!({"images": -1, "image_size": "1024x1024"})),
            "images",
        );
        field(
            openai("tts-1", json!({"audio_input_seconds": 60})),
            "audio_input_seconds",
        );
        field(
            openai("whisper-1", json!({"output_characters": 10})),
            "output_characters",
        );
        field(
            json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 1,
               "output_tokens": 1, "code_sessions": 1}),
            "code_sessions",
        );
        field(
            openai(
                "whisper-1",
                json!({"usage": {"type": "minutes", "seconds": 3}}),
            ),
            "usage",
        );
        // Without a unit, the token fields are still required.
        field(openai("gpt-4o", json!({})), "input_tokens");
        // Nothing refused was stored.
        let listed = app.get("/api/events", &token).json();
        assert_eq!(listed["events"].as_array().unwrap().len(), 0, "{listed}");
    }
);

// The batch path writes the same columns and rollups as the single-event one.
both!(a_batch_stores_and_sums_the_units_too, |app: TestApp| {
    let token = app.signup("units-batch@example.com");
    let events = json!({"events": [
        {"provider": "openai", "model": "dall-e-2", "images": 5, "image_size": "256x256",
         "timestamp": TS, "tags": {"team": "art"}},
        {"provider": "openai", "model": "whisper-1", "audio_input_seconds": 7, "timestamp": TS},
        // Imagen bills every size alike: no size needed.
        {"provider": "google", "model": "imagen-4", "images": 2, "timestamp": TS},
        {"provider": "xai", "model": "grok-4", "input_tokens": 0, "output_tokens": 0,
         "web_search_calls": 7, "timestamp": TS, "tags": {"team": "art"}},
    ]});
    let r = app.post("/api/events/batch", &token, events);
    assert_eq!(r.json()["accepted"], 4, "{}", r.text());
    // 5 × $0.016 + 7 s × $0.0001 + 2 × $0.04 + 7 sources × $0.025.
    let s = app
        .get("/api/costs/summary?start=2025-11-30&end=2025-12-02", &token)
        .json();
    assert_eq!(
        nanos(&s["total_cost_usd"]),
        80_000_000 + 700_000 + 80_000_000 + 175_000_000,
        "{s}"
    );
    assert_eq!(
        (&s["total_images"], &s["total_audio_input_seconds"]),
        (&json!(7), &json!(7))
    );
    assert_eq!(s["total_web_search_calls"], 7, "{s}");
    let art = app
        .get(
            "/api/costs/summary?start=2025-11-30&end=2025-12-02&tag=team:art",
            &token,
        )
        .json();
    assert_eq!(
        (&art["total_images"], &art["total_audio_input_seconds"]),
        (&json!(5), &json!(0))
    );
    let listed = app.get("/api/events?limit=10", &token).json();
    let dalle = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["model"] == "dall-e-2")
        .unwrap()
        .clone();
    assert_eq!(
        (&dalle["image_size"], &dalle["image_quality"]),
        (&json!("256x256"), &json!("standard"))
    );
});

// A negotiated price for a model with tool fees, and a self-hosted transcription model: a
// custom price's per-unit prices price those units; without them the units are refused.
both!(custom_prices_set_unit_prices, |app: TestApp| {
    let token = app.signup("units-custom@example.com");
    let put = |model: &str, body: Value| {
        app.call(
            "PUT",
            &format!("/api/pricing/custom/openai/{model}"),
            Some(&token),
            Some(&body),
        )
    };
    let r = put(
        "gpt-5",
        json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "8",
               "web_search_call_usd": "0.008", "code_session_usd": 0.025,
               "audio_input_minute_usd": "0.0045", "output_character_usd": "0.00001"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let set = r.json();
    assert_eq!(set["web_search_call_usd"], 0.008, "{set}");
    assert_eq!(set["audio_input_minute_usd"], 0.0045, "{set}");
    let track = |body: Value| app.post("/api/events/track", &token, body);
    // 1,000 in at $1/M, 100 out at $8/M, 4 searches at $0.008, a $0.025 session,
    // 10 s at $0.0045/min ($0.00075) and 200 characters at $0.00001 ($0.002):
    // 0.001 + 0.0008 + 0.032 + 0.025 + 0.00075 + 0.002.
    let r = track(
        json!({"provider": "openai", "model": "gpt-5", "timestamp": TS,
        "input_tokens": 1000, "output_tokens": 100, "web_search_calls": 4, "code_sessions": 1,
        "audio_input_seconds": 10, "output_characters": 200}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let e = r.json();
    assert_eq!(e["cost_source"], "custom_pricing", "{e}");
    assert_eq!(
        nanos(&e["cost_usd"]),
        1_000_000 + 800_000 + 32_000_000 + 25_000_000 + 750_000 + 2_000_000,
        "{e}"
    );
    // A revision without them refuses the units, naming each.
    put(
        "gpt-5",
        json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "8"}),
    );
    let v = assert_invalid(
        &track(
            json!({"provider": "openai", "model": "gpt-5", "input_tokens": 1,
            "output_tokens": 1, "web_search_calls": 1}),
        ),
        "web_search_calls",
    );
    assert!(v.to_string().contains("no rate"), "{v}");
    // A malformed unit price is refused, naming the field.
    for bad in [
        json!("-0.01"),
        json!("0.0000000001"),
        json!("ten"),
        json!(true),
    ] {
        let r = put(
            "gpt-5",
            json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "8",
                   "web_search_call_usd": bad}),
        );
        assert_invalid(&r, "web_search_call_usd");
    }
});
