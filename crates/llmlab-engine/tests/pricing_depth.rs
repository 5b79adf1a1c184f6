//! 1-hour cache writes, audio tokens and the Flex/Priority tiers, priced by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use llmlab_engine::providers::Catalog;
use llmlab_engine::{EngineError, ServiceTier, Tokens, Usage, UsageFields, price};

fn priced(provider: &str, model: &str, day: &str, f: UsageFields) -> Result<i64, EngineError> {
    let usage = Usage::parse(f)?;
    let at = format!("{day}T12:00:00Z").parse().unwrap();
    let call = price(Catalog::builtin(), provider, model, &usage, at)?;
    let parts = call.cost.breakdown.parts();
    assert_eq!(
        parts.iter().map(|p| p.nanos()).sum::<i64>(),
        call.cost.total.nanos(),
        "the breakdown adds up to the total"
    );
    Ok(call.cost.total.nanos())
}

/// Asserts the usage was refused, naming `field`.
fn assert_refused(priced: Result<i64, EngineError>, field: &str) {
    match priced {
        Err(EngineError::InvalidUsage { field: named, .. }) => assert_eq!(named, field),
        other => panic!("expected {field} to be refused, got {other:?}"),
    }
}

#[test]
fn one_hour_cache_writes_cost_twice_the_input_rate() {
    // claude-sonnet-4-5: $3 in, $0.30 read, $3.75 5-minute write, $6 1-hour write, $15 out.
    let f = UsageFields::new(Tokens {
        input: 10_000,
        cached_input: 4_000,
        cache_write: 2_000,
        cache_write_1h: 3_000,
        output: 500,
        ..Tokens::default()
    });
    // 1000×3000 + 4000×300 + 2000×3750 + 3000×6000 + 500×15000 nano-dollars.
    let expected = 3_000_000 + 1_200_000 + 7_500_000 + 18_000_000 + 7_500_000;
    assert_eq!(
        priced("anthropic", "claude-sonnet-4-5", "2025-12-01", f),
        Ok(expected)
    );
    let usage = Usage::parse(f).unwrap();
    let at = "2025-12-01T00:00:00Z".parse().unwrap();
    let b = price(
        Catalog::builtin(),
        "anthropic",
        "claude-sonnet-4-5",
        &usage,
        at,
    )
    .unwrap()
    .cost
    .breakdown;
    assert_eq!(b.cache_write_1h.nanos(), 18_000_000);
    assert_eq!(b.input.nanos(), 3_000_000);
    // A model without a 1-hour rate refuses the tokens instead of guessing.
    assert_refused(
        priced("openai", "gpt-4o", "2025-12-01", f),
        "cache_write_1h_tokens",
    );
}

#[test]
fn audio_tokens_are_billed_at_audio_rates() {
    // gpt-4o-audio-preview from 2024-12-17: text $2.50/$10, audio $40/$80.
    let f = UsageFields::new(Tokens {
        input: 1_000,
        input_audio: 600,
        output: 300,
        output_audio: 200,
        ..Tokens::default()
    });
    let expected = 400 * 2_500 + 600 * 40_000 + 100 * 10_000 + 200 * 80_000;
    assert_eq!(expected, 42_000_000);
    assert_eq!(
        priced("openai", "gpt-4o-audio-preview", "2025-01-01", f),
        Ok(expected)
    );
    // Before the 2024-12-17 cut: $100/$200 per million audio tokens.
    assert_eq!(
        priced("openai", "gpt-4o-audio-preview", "2024-11-01", f),
        Ok(400 * 2_500 + 600 * 100_000 + 100 * 10_000 + 200 * 200_000)
    );
    // gemini-2.5-flash: text $0.30, audio $1.00 in, $2.50 out.
    let g = UsageFields::new(Tokens {
        input: 10_000,
        input_audio: 4_000,
        output: 1_000,
        ..Tokens::default()
    });
    assert_eq!(
        priced("google", "gemini-2.5-flash", "2025-12-01", g),
        Ok(6_000 * 300 + 4_000 * 1_000 + 1_000 * 2_500)
    );
    // Gemini publishes no audio output rate for 2.5 Flash, OpenAI no audio rate for gpt-4o.
    assert_refused(
        priced("google", "gemini-2.5-flash", "2025-12-01", f),
        "output_audio_tokens",
    );
    assert_refused(
        priced("openai", "gpt-4o", "2025-12-01", g),
        "input_audio_tokens",
    );
}

fn tiered(tier: ServiceTier) -> UsageFields {
    UsageFields::new(Tokens {
        input: 1_000_000,
        cached_input: 200_000,
        output: 100_000,
        reasoning: 60_000,
        ..Tokens::default()
    })
    .with_service_tier(tier)
}

#[test]
fn flex_and_priority_use_the_tier_rates() {
    let gpt5 = |t| priced("openai", "gpt-5", "2025-12-01", tiered(t));
    // Standard $1.25/$0.125/$10: 800k×1250 + 200k×125 + 100k×10000.
    assert_eq!(gpt5(ServiceTier::Standard), Ok(2_025_000_000));
    // Batch: half of standard.
    assert_eq!(gpt5(ServiceTier::Batch), Ok(1_012_500_000));
    // Flex $0.625/$0.0625/$5: 800k×625 + 200k×62.5 + 100k×5000.
    assert_eq!(
        gpt5(ServiceTier::Flex),
        Ok(500_000_000 + 12_500_000 + 500_000_000)
    );
    // Priority $2.50/$0.25/$20: 800k×2500 + 200k×250 + 100k×20000.
    assert_eq!(
        gpt5(ServiceTier::Priority),
        Ok(2_000_000_000 + 50_000_000 + 2_000_000_000)
    );
    // o4-mini Flex publishes a cached rate of $0.138: 7 tokens × 138 nano-dollars,
    // plus 3 × 550 input and 1 × 2200 output.
    let small = UsageFields::new(Tokens {
        input: 10,
        cached_input: 7,
        output: 1,
        ..Tokens::default()
    })
    .with_service_tier(ServiceTier::Flex);
    assert_eq!(
        priced("openai", "o4-mini", "2025-12-01", small),
        Ok(7 * 138 + 3 * 550 + 2_200)
    );
}

#[test]
fn a_tier_the_model_does_not_offer_is_refused_naming_the_offered_ones() {
    let e = priced("openai", "gpt-4o", "2025-12-01", tiered(ServiceTier::Flex)).unwrap_err();
    assert_eq!(
        e,
        EngineError::UnsupportedServiceTier {
            tier: ServiceTier::Flex,
            offered: vec![
                ServiceTier::Standard,
                ServiceTier::Batch,
                ServiceTier::Priority
            ],
        }
    );
    assert!(e.to_string().contains("standard, batch, priority"), "{e}");
    // Anthropic offers no Flex or Priority tier; fine-tunes have their own rates and no
    // tier rates.
    for (provider, model) in [
        ("anthropic", "claude-sonnet-4-5"),
        ("openai", "ft:gpt-4o-2024-08-06:acme::abc"),
    ] {
        let e = priced(provider, model, "2025-12-01", tiered(ServiceTier::Priority));
        assert!(
            matches!(e, Err(EngineError::UnsupportedServiceTier { .. })),
            "{model}: {e:?}"
        );
    }
}

#[test]
fn new_buckets_are_validated_like_the_old_ones() {
    let field = |f: UsageFields| match Usage::parse(f) {
        Err(EngineError::InvalidUsage { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let base = UsageFields::new(Tokens {
        input: 100,
        output: 50,
        ..Tokens::default()
    });
    for (f, expected) in [
        (
            UsageFields::new(Tokens {
                cache_write_1h: 101,
                ..base.tokens
            }),
            "cache_write_1h_tokens",
        ),
        (
            UsageFields::new(Tokens {
                input_audio: -1,
                ..base.tokens
            }),
            "input_audio_tokens",
        ),
        (
            UsageFields::new(Tokens {
                output_audio: 51,
                ..base.tokens
            }),
            "output_audio_tokens",
        ),
        (
            UsageFields::new(Tokens {
                cached_input: 40,
                cache_write: 30,
                cache_write_1h: 31,
                ..base.tokens
            }),
            "cache_write_1h_tokens",
        ),
        (
            UsageFields::new(Tokens {
                cache_write_1h: 50,
                input_audio: 51,
                ..base.tokens
            }),
            "input_audio_tokens",
        ),
        (
            UsageFields::new(Tokens {
                reasoning: 30,
                output_audio: 21,
                ..base.tokens
            }),
            "output_audio_tokens",
        ),
        (
            base.with_batch(true).with_service_tier(ServiceTier::Flex),
            "service_tier",
        ),
    ] {
        assert_eq!(field(f), expected, "{f:?}");
    }
    let full = Usage::parse(UsageFields::new(Tokens {
        cached_input: 10,
        cache_write: 20,
        cache_write_1h: 30,
        input_audio: 40,
        reasoning: 25,
        output_audio: 25,
        ..base.tokens
    }))
    .unwrap();
    assert_eq!(full.uncached_input_tokens(), 0);
    assert_eq!(full.text_output_tokens(), 25);
    let batch = Usage::parse(base.with_batch(true)).unwrap();
    assert_eq!(batch.service_tier(), ServiceTier::Batch);
    let tier = Usage::parse(base.with_service_tier(ServiceTier::Batch)).unwrap();
    assert!(tier.batch());
}

#[test]
fn embedding_models_bill_their_input_tokens() {
    let embed = |provider, model, input, batch| {
        let f = UsageFields::new(Tokens {
            input,
            ..Tokens::default()
        })
        .with_batch(batch);
        priced(provider, model, "2025-12-01", f)
    };
    // $0.02/M is 20 nano-dollars a token: 1,234,567 × 20.
    assert_eq!(
        embed("openai", "text-embedding-3-small", 1_234_567, false),
        Ok(24_691_340)
    );
    // The batch API at half price.
    assert_eq!(
        embed("openai", "text-embedding-3-small", 1_234_567, true),
        Ok(12_345_670)
    );
    // $0.13/M: 130 a token; $0.10/M: 100.
    assert_eq!(
        embed("openai", "text-embedding-3-large", 1_000, false),
        Ok(130_000)
    );
    assert_eq!(embed("azure", "text-embedding-ada-002", 7, false), Ok(700));
    // $0.15/M on Gemini, $0.10/M on Mistral, $0.12/M for Cohere's Embed v4.
    assert_eq!(
        embed("google", "gemini-embedding-001", 1_000, false),
        Ok(150_000)
    );
    assert_eq!(embed("mistral", "mistral-embed", 3, false), Ok(300));
    assert_eq!(embed("cohere", "embed-v4.0", 10, false), Ok(1_200));
    // Bedrock's Titan v2 at $0.02/M, by its model id and its short name.
    assert_eq!(
        embed("bedrock", "amazon.titan-embed-text-v2:0", 50, false),
        Ok(1_000)
    );
    assert_eq!(
        embed("bedrock", "titan-embed-text-v2", 50, false),
        Ok(1_000)
    );
    // 1 token at $0.02/M is 20 nano-dollars, not rounded away.
    assert_eq!(embed("openai", "text-embedding-3-small", 1, false), Ok(20));
    // Output tokens have no rate to be priced at: refused, naming the field.
    let with_output = UsageFields::new(Tokens {
        input: 10,
        output: 1,
        ..Tokens::default()
    });
    assert_refused(
        priced(
            "openai",
            "text-embedding-3-small",
            "2025-12-01",
            with_output,
        ),
        "output_tokens",
    );
}
