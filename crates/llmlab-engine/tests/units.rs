//! Images, audio minutes, characters of speech, web searches and code sessions, priced by
//! hand in nano-dollars.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use llmlab_engine::providers::{
    Catalog, ImageQuality, ImageSize, PerMTok, Rates, UnitPrice, UnitRates,
};
use llmlab_engine::{
    Cost, Discount, EngineError, Tokens, Units, Usage, UsageFields, cost_at_rates, price,
    price_under_contract,
};

const DAY: &str = "2025-11-03T12:00:00Z";

fn call(provider: &str, model: &str, f: UsageFields) -> Result<Cost, EngineError> {
    let usage = Usage::parse(f)?;
    let cost = price(
        Catalog::builtin(),
        provider,
        model,
        &usage,
        DAY.parse().unwrap(),
    )?
    .cost;
    let parts = cost.breakdown.parts();
    assert_eq!(
        parts.iter().map(|p| p.nanos()).sum::<i64>(),
        cost.total.nanos(),
        "the breakdown adds up to the total"
    );
    Ok(cost)
}

fn units(units: Units) -> UsageFields {
    UsageFields::new(Tokens::default()).with_units(units)
}

fn images(n: i64, size: ImageSize, quality: Option<ImageQuality>) -> UsageFields {
    units(Units {
        images: n,
        ..Units::default()
    })
    .with_image(size, quality)
}

fn assert_refused(priced: Result<Cost, EngineError>, field: &str) {
    match priced {
        Err(EngineError::InvalidUsage {
            field: named,
            message,
        }) => {
            assert_eq!(named, field, "{message}")
        }
        other => panic!("expected {field} to be refused, got {other:?}"),
    }
}

#[test]
fn images_are_priced_by_size_and_quality() {
    // dall-e-3: two HD 1792x1024 images at $0.12 = $0.24.
    let c = call(
        "openai",
        "dall-e-3",
        images(2, ImageSize::S1792x1024, Some(ImageQuality::Hd)),
    )
    .unwrap();
    assert_eq!(c.total.nanos(), 240_000_000);
    assert_eq!(c.breakdown.images.nanos(), 240_000_000);
    // No quality is standard: 3 × $0.04.
    let c = call("openai", "dall-e-3", images(3, ImageSize::S1024, None)).unwrap();
    assert_eq!(c.total.nanos(), 120_000_000);
    // dall-e-2 at 256x256: $0.016 each.
    let c = call("openai", "dall-e-2", images(5, ImageSize::S256, None)).unwrap();
    assert_eq!(c.total.nanos(), 80_000_000);
    // Imagen 4 bills every size alike, $0.04 an image: with a size or without.
    let c = call(
        "google",
        "imagen-4.0-generate-001",
        images(3, ImageSize::S1792x1024, None),
    );
    assert_eq!(c.unwrap().total.nanos(), 120_000_000);
    let unsized_ = units(Units {
        images: 4,
        ..Units::default()
    });
    assert_eq!(
        call("google", "imagen-4.0-fast-generate-001", unsized_)
            .unwrap()
            .total
            .nanos(),
        80_000_000
    );
}

#[test]
fn audio_is_priced_by_the_second_at_the_per_minute_rate() {
    // whisper-1 at $0.006 a minute: 95 s = $0.0095.
    let seconds = |n| {
        units(Units {
            audio_input_seconds: n,
            ..Units::default()
        })
    };
    let c = call("openai", "whisper-1", seconds(95)).unwrap();
    assert_eq!(c.total.nanos(), 9_500_000);
    assert_eq!(c.breakdown.transcription.nanos(), 9_500_000);
    // A minute's price that sixty does not divide: $0.005 a minute, 7 s =
    // $0.035 / 60 = $0.000583333…, rounded once to $0.000583333.
    let rates = Rates::text(PerMTok::ZERO, PerMTok::ZERO).with_units(
        UnitRates::default().with_audio_input_minute(UnitPrice::parse("0.005").unwrap()),
    );
    let usage = Usage::parse(seconds(7)).unwrap();
    assert_eq!(
        cost_at_rates(&rates, None, &usage).unwrap().total.nanos(),
        583_333
    );
    // 9 s: $0.045 / 60 = $0.00075 exactly.
    let usage = Usage::parse(seconds(9)).unwrap();
    assert_eq!(
        cost_at_rates(&rates, None, &usage).unwrap().total.nanos(),
        750_000
    );
}

#[test]
fn speech_is_priced_per_character() {
    // tts-1 at $15 per million characters: 1,234 characters = $0.01851; tts-1-hd twice that.
    let chars = units(Units {
        output_characters: 1_234,
        ..Units::default()
    });
    assert_eq!(
        call("openai", "tts-1", chars)
            .unwrap()
            .breakdown
            .speech
            .nanos(),
        18_510_000
    );
    assert_eq!(
        call("openai", "tts-1-hd", chars).unwrap().total.nanos(),
        37_020_000
    );
    // gpt-4o-mini-tts bills tokens: 100 text tokens in at $0.60/M, 2,000 audio tokens out at $12/M
    // = 0.00006 + 0.024.
    let tokens = Tokens {
        input: 100,
        output: 2_000,
        output_audio: 2_000,
        ..Tokens::default()
    };
    let c = call("openai", "gpt-4o-mini-tts", UsageFields::new(tokens)).unwrap();
    assert_eq!(c.total.nanos(), 24_060_000);
}

#[test]
fn tool_fees_and_tokens_add_up_in_one_cost() {
    // claude-sonnet-4-5: 10,000 in at $3/M, 500 out at $15/M, 3 searches at $10 per 1,000:
    // 0.03 + 0.0075 + 0.03.
    let tokens = Tokens {
        input: 10_000,
        output: 500,
        ..Tokens::default()
    };
    let searched = UsageFields::new(tokens).with_units(Units {
        web_search_calls: 3,
        ..Units::default()
    });
    let c = call("anthropic", "claude-sonnet-4-5", searched).unwrap();
    assert_eq!(c.total.nanos(), 67_500_000);
    assert_eq!(c.breakdown.web_search.nanos(), 30_000_000);
    // Through the batch API the tokens are halved, the searches are not: 0.01875 + 0.03.
    let c = call("anthropic", "claude-sonnet-4-5", searched.with_batch(true)).unwrap();
    assert_eq!(c.total.nanos(), 48_750_000);
    // gpt-5: a code-interpreter container ($0.03) and 2 searches ($0.01 each).
    let tools = units(Units {
        code_sessions: 1,
        web_search_calls: 2,
        ..Units::default()
    });
    let c = call("openai", "gpt-5", tools).unwrap();
    assert_eq!(
        (c.breakdown.code_sessions.nanos(), c.total.nanos()),
        (30_000_000, 50_000_000)
    );
    // xAI's live search: 7 sources at $0.025.
    let sources = units(Units {
        web_search_calls: 7,
        ..Units::default()
    });
    assert_eq!(
        call("xai", "grok-4", sources).unwrap().total.nanos(),
        175_000_000
    );
}

#[test]
fn a_contract_discounts_the_fees_too() {
    // 12.5 % off gpt-5's $0.03 container and two $0.01 searches: 0.05 × 0.875.
    let usage = Usage::parse(units(Units {
        code_sessions: 1,
        web_search_calls: 2,
        ..Units::default()
    }))
    .unwrap();
    let off = "12.5".parse::<Discount>().unwrap();
    let c = price_under_contract(
        Catalog::builtin(),
        "openai",
        "gpt-5",
        &usage,
        DAY.parse().unwrap(),
        off,
    )
    .unwrap()
    .cost;
    assert_eq!(c.total.nanos(), 43_750_000);
}

#[test]
fn a_unit_without_a_rate_is_refused_naming_its_field() {
    let one = |u: Units| units(u);
    assert_refused(
        call(
            "openai",
            "gpt-4o",
            one(Units {
                web_search_calls: 1,
                ..Units::default()
            }),
        ),
        "web_search_calls",
    );
    assert_refused(
        call(
            "anthropic",
            "claude-sonnet-4-5",
            one(Units {
                code_sessions: 1,
                ..Units::default()
            }),
        ),
        "code_sessions",
    );
    assert_refused(
        call(
            "openai",
            "tts-1",
            one(Units {
                audio_input_seconds: 1,
                ..Units::default()
            }),
        ),
        "audio_input_seconds",
    );
    assert_refused(
        call(
            "openai",
            "whisper-1",
            one(Units {
                output_characters: 1,
                ..Units::default()
            }),
        ),
        "output_characters",
    );
    assert_refused(
        call("openai", "gpt-4o", images(1, ImageSize::S1024, None)),
        "images",
    );
    assert_refused(
        call("openai", "dall-e-3", images(1, ImageSize::S256, None)),
        "image_size",
    );
    assert_refused(
        call(
            "openai",
            "dall-e-2",
            images(1, ImageSize::S1024, Some(ImageQuality::Hd)),
        ),
        "image_quality",
    );
    // Images say their size.
    assert_refused(
        call(
            "openai",
            "dall-e-3",
            one(Units {
                images: 1,
                ..Units::default()
            }),
        ),
        "image_size",
    );
    assert_refused(
        call(
            "openai",
            "dall-e-3",
            one(Units {
                images: -1,
                ..Units::default()
            }),
        ),
        "images",
    );
}

#[test]
fn the_event_format_reads_the_units_by_name() {
    let f: UsageFields = serde_json::from_value(serde_json::json!({
        "input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 0, "cache_write_tokens": 0,
        "reasoning_tokens": 0, "batch": false,
        "images": 2, "image_size": "1024x1792", "image_quality": "hd", "web_search_calls": 1
    }))
    .unwrap();
    assert_eq!(
        f.units,
        Units {
            images: 2,
            web_search_calls: 1,
            ..Units::default()
        }
    );
    assert_eq!(f.image_size, Some(ImageSize::S1024x1792));
    assert_eq!(
        Usage::parse(f).unwrap().image(),
        Some((ImageSize::S1024x1792, ImageQuality::Hd))
    );
    // A size without images is not kept.
    let sized = UsageFields::new(Tokens::default()).with_image(ImageSize::S1024, None);
    assert_eq!(Usage::parse(sized).unwrap().image(), None);
    assert_eq!(
        call(
            "openai",
            "dall-e-3",
            f.with_units(Units {
                images: 2,
                ..Units::default()
            })
        )
        .unwrap()
        .total
        .nanos(),
        240_000_000
    );
    let bad = serde_json::from_value::<UsageFields>(serde_json::json!({
        "input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 0, "cache_write_tokens": 0,
        "reasoning_tokens": 0, "batch": false, "image_size": "huge"
    }));
    assert!(bad.unwrap_err().to_string().contains("1024x1024"));
}
