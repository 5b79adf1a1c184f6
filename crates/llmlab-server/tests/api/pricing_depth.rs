//! 1-hour cache writes, audio tokens and the Flex/Priority tiers over HTTP: hand-computed
//! costs, the same costs from the providers' usage objects, the refusals, and re-pricing
//! at the tier an event was stored with.

use serde_json::{Value, json};

use crate::{TestApp, assert_error, assert_invalid, both, usd_nanos as nanos};

/// A day on which every price used here is in effect.
pub(crate) const TS: &str = "2025-12-01T10:00:00Z";

both!(
    new_buckets_and_tiers_price_like_hand_computed,
    |app: TestApp| {
        let token = app.signup("depth@example.com");
        let track = |body: Value| {
            let mut body = body;
            body["timestamp"] = json!(TS);
            let r = app.post("/api/events/track", &token, body);
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()
        };
        // (event by hand, the provider's usage object, the cost in nano-dollars)
        let cases = [
            // claude-sonnet-4-5: $3 in, $0.30 read, $3.75 5-minute write, $6 1-hour write,
            // $15 out: 50×3000 + 2000×300 + 300×3750 + 600×6000 + 80×15000.
            (
                json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 2950,
                   "cached_input_tokens": 2000, "cache_write_tokens": 300,
                   "cache_write_1h_tokens": 600, "output_tokens": 80}),
                json!({"input_tokens": 50, "cache_read_input_tokens": 2000,
                   "cache_creation_input_tokens": 900, "output_tokens": 80,
                   "cache_creation": {"ephemeral_5m_input_tokens": 300,
                                      "ephemeral_1h_input_tokens": 600}}),
                150_000 + 600_000 + 1_125_000 + 3_600_000 + 1_200_000,
            ),
            // gpt-4o-audio-preview: text $2.50/$10, audio $40/$80:
            // 300×2500 + 600×40000 + 150×10000 + 250×80000.
            (
                json!({"provider": "openai", "model": "gpt-4o-audio-preview", "input_tokens": 900,
                   "input_audio_tokens": 600, "output_tokens": 400,
                   "output_audio_tokens": 250}),
                json!({"prompt_tokens": 900, "completion_tokens": 400,
                   "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 600},
                   "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 250}}),
                750_000 + 24_000_000 + 1_500_000 + 20_000_000,
            ),
            // gemini-2.5-flash: text $0.30, audio $1.00, output $2.50:
            // 2500×300 + 1500×1000 + 1000×2500.
            (
                json!({"provider": "google", "model": "gemini-2.5-flash", "input_tokens": 4000,
                   "input_audio_tokens": 1500, "output_tokens": 1000,
                   "reasoning_tokens": 700}),
                json!({"promptTokenCount": 4000, "candidatesTokenCount": 300,
                   "thoughtsTokenCount": 700, "totalTokenCount": 5000,
                   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2500},
                                           {"modality": "AUDIO", "tokenCount": 1500}]}),
                750_000 + 1_500_000 + 2_500_000,
            ),
        ];
        for (by_hand, usage, expected) in cases {
            let model = by_hand["model"].clone();
            let stored = track(by_hand.clone());
            assert_eq!(nanos(&stored["cost_usd"]), expected, "{model}: by hand");
            let sent = json!({"provider": by_hand["provider"], "model": model, "usage": usage});
            let got = track(sent.clone());
            assert_eq!(nanos(&got["cost_usd"]), expected, "{model}: usage object");
            for field in [
                "input_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "cache_write_1h_tokens",
                "input_audio_tokens",
                "output_tokens",
                "output_audio_tokens",
            ] {
                assert_eq!(got[field], stored[field], "{model}: {field}");
            }
            let mut estimate = sent;
            estimate["timestamp"] = json!(TS);
            let e = app.post("/api/costs/estimate", &token, estimate).json();
            assert_eq!(nanos(&e["cost_usd"]), expected, "{model}: estimate");
            let b = &e["breakdown"];
            let parts: i64 = [
                "input_usd",
                "cached_input_usd",
                "cache_write_usd",
                "cache_write_1h_usd",
                "input_audio_usd",
                "output_usd",
                "output_audio_usd",
            ]
            .iter()
            .map(|k| nanos(&b[*k]))
            .sum();
            assert_eq!(parts, expected, "{model}: breakdown adds up");
        }

        // gpt-5: standard $1.25/$0.125/$10, Flex $0.625/$0.0625/$5, Priority $2.50/$0.25/$20.
        let gpt5 = |tier: &str| {
            json!({"provider": "openai", "model": "gpt-5", "input_tokens": 1_000_000,
               "cached_input_tokens": 200_000, "output_tokens": 100_000,
               "service_tier": tier})
        };
        for (tier, expected) in [
            ("standard", 2_025_000_000),
            ("batch", 1_012_500_000),
            ("flex", 500_000_000 + 12_500_000 + 500_000_000),
            ("priority", 2_000_000_000 + 50_000_000 + 2_000_000_000),
        ] {
            let e = track(gpt5(tier));
            assert_eq!(nanos(&e["cost_usd"]), expected, "{tier}");
            assert_eq!(e["service_tier"], tier);
            assert_eq!(e["batch"], tier == "batch");
            let listed = app.get("/api/events?limit=1", &token).json();
            assert_eq!(listed["events"][0]["service_tier"], tier);
        }
        // Re-pricing reads the stored tier and buckets: nothing changes.
        let r = app.post("/api/pricing/reprice", &token, json!({"dry_run": true}));
        assert_eq!(r.status, 200, "{}", r.text());
        let r = r.json();
        assert_eq!(r["events_matched"], 10, "{r}");
        assert_eq!(r["events_changed"], 0, "{r}");
        // The event export carries the new columns.
        let csv = app.get("/api/events/export", &token).text();
        let header = csv.lines().next().unwrap();
        assert!(
            header.contains(
                ",tags,cache_write_1h_tokens,input_audio_tokens,output_audio_tokens,service_tier,"
            ),
            "{header}"
        );
        assert!(csv.lines().nth(1).unwrap().contains(",0,0,0,priority,"));
    }
);

both!(unpriceable_buckets_and_tiers_are_refused, |app: TestApp| {
    let token = app.signup("refuse@example.com");
    let post = |body: Value| app.post("/api/events/track", &token, body);
    // A tier the model does not offer names the ones it does.
    let tier = |model: &str, t: &str| {
        json!({"provider": if model.starts_with("claude") { "anthropic" } else { "openai" },
               "model": model, "input_tokens": 10, "output_tokens": 1, "service_tier": t})
    };
    for (model, t, offered) in [
        ("gpt-4o", "flex", json!(["standard", "batch", "priority"])),
        (
            "gpt-5-nano",
            "priority",
            json!(["standard", "batch", "flex"]),
        ),
        (
            "claude-sonnet-4-5",
            "priority",
            json!(["standard", "batch"]),
        ),
    ] {
        let v = assert_error(&post(tier(model, t)), 422, "unsupported_service_tier");
        assert_eq!(v["error"]["details"]["field"], "service_tier", "{v}");
        assert_eq!(v["error"]["details"]["offered"], offered, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(model) && message.contains(t), "{message}");
    }
    assert_error(
        &post(tier("gpt-4o", "scale")),
        422,
        "unsupported_service_tier",
    );
    let field = |body: Value, field: &str| assert_invalid(&post(body), field);
    let mut contradicting = tier("gpt-5", "flex");
    contradicting["batch"] = json!(true);
    field(contradicting, "service_tier");
    field(tier("gpt-5", "turbo"), "service_tier");
    // No audio rate, no 1-hour write rate: refused, not priced at the text rate.
    let v = field(
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 100,
               "input_audio_tokens": 40, "output_tokens": 1}),
        "input_audio_tokens",
    );
    assert!(v.to_string().contains("no rate"), "{v}");
    field(
        json!({"provider": "google", "model": "gemini-2.5-flash", "input_tokens": 100,
               "output_tokens": 10, "output_audio_tokens": 5}),
        "output_audio_tokens",
    );
    field(
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 100,
               "cache_write_1h_tokens": 40, "output_tokens": 1}),
        "cache_write_1h_tokens",
    );
    // The buckets are validated like the old ones.
    field(
        json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 100,
               "cache_write_1h_tokens": 101, "output_tokens": 1}),
        "cache_write_1h_tokens",
    );
    field(
        json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 100,
               "cached_input_tokens": 50, "cache_write_tokens": 30,
               "cache_write_1h_tokens": 21, "output_tokens": 1}),
        "cache_write_1h_tokens",
    );
    field(
        json!({"provider": "openai", "model": "gpt-realtime", "input_tokens": 10,
               "output_tokens": 10, "reasoning_tokens": 6, "output_audio_tokens": 5}),
        "output_audio_tokens",
    );
    // Token fields and a usage object together are refused, the new fields included.
    field(
        json!({"provider": "openai", "model": "gpt-realtime", "input_audio_tokens": 1,
               "usage": {"prompt_tokens": 3, "completion_tokens": 1}}),
        "usage",
    );
    // A custom price has no tier rates: flex is refused for it.
    let r = app.call(
        "PUT",
        "/api/pricing/custom/openai/gpt-5",
        Some(&token),
        Some(&json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "2"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = assert_error(
        &post(tier("gpt-5", "flex")),
        422,
        "unsupported_service_tier",
    );
    assert_eq!(
        v["error"]["details"]["offered"],
        json!(["standard", "batch"])
    );
    assert_eq!(post(tier("gpt-5", "standard")).status, 201);
    // Nothing refused was stored.
    let listed = app.get("/api/events", &token).json();
    assert_eq!(listed["events"].as_array().unwrap().len(), 1);
});

// A negotiated price for an audio model, and a self-hosted one with a 1-hour cache: the
// custom price's own rates for audio and 1-hour writes price those tokens; a revision
// without them refuses the tokens as the catalog does, instead of pricing them as text.
both!(
    custom_prices_price_audio_and_one_hour_writes,
    |app: TestApp| {
        let token = app.signup("custom-depth@example.com");
        let put = |model: &str, body: Value| {
            let r = app.call(
                "PUT",
                &format!("/api/pricing/custom/openai/{model}"),
                Some(&token),
                Some(&body),
            );
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        };
        let set = put(
            "gpt-4o-audio-preview",
            json!({"input_per_mtok_usd": "2", "output_per_mtok_usd": "8",
               "input_audio_per_mtok_usd": "32", "output_audio_per_mtok_usd": "64",
               "cache_write_1h_per_mtok_usd": "4"}),
        );
        assert_eq!(set["input_audio_per_mtok_usd"], 32, "{set}");
        assert_eq!(set["output_audio_per_mtok_usd"], 64, "{set}");
        assert_eq!(set["cache_write_1h_per_mtok_usd"], 4, "{set}");
        let listed = app.get("/api/pricing/custom", &token).json();
        assert_eq!(
            listed["prices"][0]["input_audio_per_mtok_usd"], 32,
            "{listed}"
        );

        let track = |body: Value| app.post("/api/events/track", &token, body);
        let r = track(
            json!({"provider": "openai", "model": "gpt-4o-audio-preview",
        "input_tokens": 1000, "input_audio_tokens": 600, "cache_write_1h_tokens": 100,
        "output_tokens": 300, "output_audio_tokens": 200}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let e = r.json();
        // Text in: 300 × $2; audio in: 600 × $32; 1-hour writes: 100 × $4; text out:
        // 100 × $8; audio out: 200 × $64 (per million tokens, in nano-dollars).
        let expected = 300 * 2_000 + 600 * 32_000 + 100 * 4_000 + 100 * 8_000 + 200 * 64_000;
        assert_eq!(nanos(&e["cost_usd"]), expected, "{e}");
        assert_eq!(e["cost_source"], "custom_pricing", "{e}");

        // A revision without the audio rates refuses audio tokens, naming the bucket.
        put(
            "gpt-4o-audio-preview",
            json!({"input_per_mtok_usd": "2", "output_per_mtok_usd": "8"}),
        );
        let v = assert_invalid(
            &track(
                json!({"provider": "openai", "model": "gpt-4o-audio-preview",
            "input_tokens": 1000, "input_audio_tokens": 600, "output_tokens": 1}),
            ),
            "input_audio_tokens",
        );
        assert!(v.to_string().contains("no rate"), "{v}");
        // A negative or malformed rate is refused like the others.
        let r = app.call(
            "PUT",
            "/api/pricing/custom/openai/gpt-4o-audio-preview",
            Some(&token),
            Some(
                &json!({"input_per_mtok_usd": "2", "output_per_mtok_usd": "8",
                    "input_audio_per_mtok_usd": "-1"}),
            ),
        );
        assert_invalid(&r, "input_audio_per_mtok_usd");
    }
);

both!(
    an_embedding_call_is_priced_not_stored_unpriced,
    |app: TestApp| {
        let token = app.signup("embed@example.com");
        // What was seen: this call stored `unpriced`, costing $0 in every report.
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "text-embedding-3-small",
                   "input_tokens": 1_234_567, "output_tokens": 0}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let event = r.json();
        assert_eq!(event["cost_source"], "catalog", "{event}");
        assert_eq!(event["resolved_model"], "text-embedding-3-small");
        // $0.02 per million input tokens: 1,234,567 × 20 nano-dollars.
        assert_eq!(nanos(&event["cost_usd"]), 24_691_340);
        assert!(
            event.get("warnings").is_none_or(|w| w == &json!([])),
            "{event}"
        );
        // Through the batch API at half price, and in the reports.
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "text-embedding-3-large", "batch": true,
                   "input_tokens": 1_000, "output_tokens": 0}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(nanos(&r.json()["cost_usd"]), 65_000);
        // The embeddings response's own usage object, as OpenAI returns it.
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "text-embedding-3-small",
                   "usage": {"prompt_tokens": 1_000, "total_tokens": 1_000}}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(nanos(&r.json()["cost_usd"]), 20_000);
        let summary = app.get("/api/costs/summary", &token).json();
        assert_eq!(nanos(&summary["total_cost_usd"]), 24_776_340, "{summary}");
        // Output tokens for an embedding model have no rate: refused, naming the field.
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "text-embedding-3-small",
                   "input_tokens": 10, "output_tokens": 5}),
        );
        assert_invalid(&r, "output_tokens");
        // No cheaper chat model is offered in an embedding model's place.
        let switches = app
            .get("/api/recommendations/model-switching?days=30", &token)
            .json();
        assert_eq!(switches["recommendations"], json!([]), "{switches}");
    }
);
