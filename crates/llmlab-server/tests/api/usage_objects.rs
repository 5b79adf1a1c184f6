//! Provider usage objects over HTTP: each provider's object, as its API returns it,
//! reads into the same buckets as the hand-mapped fields and prices at the figure
//! worked out by hand from the catalog's rates.

use serde_json::{Value, json};

use crate::{TestApp, assert_error, assert_invalid, both};

both!(
    usage_objects_price_like_hand_computed_buckets,
    |app: TestApp| {
        let token = app.signup("usage@example.com");
        let cases = [
            (
                "openai",
                "gpt-4o",
                json!({"prompt_tokens": 1200, "completion_tokens": 350,
                   "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}),
                json!({"input_tokens": 1200, "cached_input_tokens": 1000, "output_tokens": 350}),
                // $2.50/M × 200 + $1.25/M × 1,000 cached + $10/M × 350
                // = 500,000 + 1,250,000 + 3,500,000 nano-dollars.
                5_250_000,
            ),
            (
                "openai",
                "o4-mini",
                json!({"input_tokens": 900, "output_tokens": 1200,
                   "input_tokens_details": {"cached_tokens": 300},
                   "output_tokens_details": {"reasoning_tokens": 1000}, "total_tokens": 2100}),
                json!({"input_tokens": 900, "cached_input_tokens": 300, "output_tokens": 1200,
                   "reasoning_tokens": 1000}),
                // $1.10/M × 600 + $0.275/M × 300 cached + $4.40/M × 1,200 (reasoning is
                // output) = 660,000 + 82,500 + 5,280,000.
                6_022_500,
            ),
            (
                "anthropic",
                "claude-sonnet-4-5",
                json!({"input_tokens": 50, "cache_read_input_tokens": 2000,
                   "cache_creation_input_tokens": 500, "output_tokens": 80,
                   "cache_creation": {"ephemeral_5m_input_tokens": 500,
                                      "ephemeral_1h_input_tokens": 0}}),
                json!({"input_tokens": 2550, "cached_input_tokens": 2000, "cache_write_tokens": 500,
                   "output_tokens": 80}),
                // $3/M × 50 + $0.30/M × 2,000 read + $3.75/M × 500 written (5 minutes)
                // + $15/M × 80 = 150,000 + 600,000 + 1,875,000 + 1,200,000.
                3_825_000,
            ),
            (
                "google",
                "gemini-2.5-pro",
                json!({"promptTokenCount": 4000, "cachedContentTokenCount": 1000,
                   "candidatesTokenCount": 300, "thoughtsTokenCount": 700,
                   "totalTokenCount": 5000}),
                json!({"input_tokens": 4000, "cached_input_tokens": 1000, "output_tokens": 1000,
                   "reasoning_tokens": 700}),
                // No cached rate in the catalog, so cached tokens bill as input:
                // $1.25/M × 4,000 + $10/M × 1,000 (300 + 700 thoughts) = 5,000,000 + 10,000,000.
                15_000_000,
            ),
        ];
        for (provider, model, usage, buckets, nanos) in cases {
            // The figure worked out by hand, as the API writes dollars.
            let dollars = json!(nanos as f64 / 1e9);
            let mut by_hand = json!({"provider": provider, "model": model});
            for (k, v) in buckets.as_object().unwrap() {
                by_hand[k] = v.clone();
            }
            let expected = app.post("/api/events/track", &token, by_hand.clone());
            assert_eq!(expected.status, 201, "{}", expected.text());
            let expected = expected.json();
            let sent = json!({"provider": provider, "model": model, "usage": usage});
            let got = app.post("/api/events/track", &token, sent.clone());
            assert_eq!(got.status, 201, "{model}: {}", got.text());
            let got = got.json();
            for field in [
                "cost_usd",
                "input_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "output_tokens",
                "reasoning_tokens",
            ] {
                assert_eq!(got[field], expected[field], "{model}: {field}");
            }
            assert_eq!(got["cost_usd"], dollars, "{model}");
            // The estimate reads the same object.
            let estimate = app.post("/api/costs/estimate", &token, sent).json();
            assert_eq!(estimate["cost_usd"], dollars, "{model}: estimate");
        }

        let bad = |body: Value, field: &str| {
            assert_invalid(&app.post("/api/events/track", &token, body), field)
        };
        // {input_tokens, output_tokens} alone is both Anthropic's and the Responses API's.
        let v = bad(
            json!({"provider": "anthropic", "model": "claude-sonnet-4-5",
               "usage": {"input_tokens": 10, "output_tokens": 5}}),
            "usage_format",
        );
        assert!(
            v.to_string().contains("openai_responses and anthropic"),
            "{v}"
        );
        let named = json!({"provider": "anthropic", "model": "claude-sonnet-4-5",
                       "usage_format": "anthropic", "usage": {"input_tokens": 10, "output_tokens": 5}});
        assert_eq!(app.post("/api/events/track", &token, named).status, 201);
        bad(
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 3,
               "usage": {"prompt_tokens": 3, "completion_tokens": 1}}),
            "usage",
        );
        bad(
            json!({"provider": "openai", "model": "gpt-4o", "output_tokens": 3}),
            "input_tokens",
        );
        // Anthropic's 5-minute and 1-hour writes must add up to its cache_creation total.
        bad(
            json!({"provider": "anthropic", "model": "claude-sonnet-4-5",
               "usage": {"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 9,
                         "cache_creation": {"ephemeral_5m_input_tokens": 1,
                                            "ephemeral_1h_input_tokens": 9}}}),
            "usage",
        );
        // Service tiers: batch is the batch flag; a tier the model has no price for is refused.
        let tier = |t: &str| {
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
               "output_tokens": 100, "service_tier": t})
        };
        let as_batch = app.post("/api/events/track", &token, tier("batch")).json();
        let flagged = app
            .post(
                "/api/events/track",
                &token,
                json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
                   "output_tokens": 100, "batch": true}),
            )
            .json();
        assert_eq!(as_batch["cost_usd"], flagged["cost_usd"]);
        assert_eq!(as_batch["batch"], true);
        let v = assert_error(
            &app.post("/api/events/track", &token, tier("flex")),
            422,
            "unsupported_service_tier",
        );
        assert_eq!(v["error"]["details"]["field"], "service_tier");
        assert_eq!(
            v["error"]["details"]["offered"],
            json!(["standard", "batch", "priority"])
        );
        bad(tier("turbo"), "service_tier");
        // In a batch, a bad object rejects its item only.
        let r = app.post(
        "/api/events/batch",
        &token,
        json!({"events": [
            {"provider": "openai", "model": "gpt-4o", "usage": {"prompt_tokens": 5, "completion_tokens": 5}},
            {"provider": "openai", "model": "gpt-4o", "usage": {"nothing": 1}},
        ]}),
    );
        assert_eq!(r.json()["accepted"], 1, "{}", r.text());
    }
);
