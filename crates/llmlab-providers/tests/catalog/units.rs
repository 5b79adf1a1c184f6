//! What the catalog bills beside tokens: images, audio minutes, characters, tool calls.

use llmlab_providers::{Catalog, ImageQuality, ImageSize, UnitPrice, UnitRates};

fn units(provider: &str, name: &str) -> UnitRates {
    Catalog::builtin()
        .resolve(provider, name)
        .unwrap_or_else(|e| panic!("{provider}/{name}: {e}"))
        .entry
        .current_price()
        .rates
        .units
}

fn usd(s: &str) -> Option<UnitPrice> {
    Some(UnitPrice::parse(s).unwrap())
}

#[test]
fn media_models_and_tool_fees_carry_their_published_unit_prices() {
    let dalle3 = units("openai", "dall-e-3").images;
    assert_eq!(
        dalle3.get(Some(ImageSize::S1024), ImageQuality::Standard),
        usd("0.04")
    );
    assert_eq!(
        dalle3.get(Some(ImageSize::S1792x1024), ImageQuality::Hd),
        usd("0.12")
    );
    assert_eq!(
        dalle3.get(Some(ImageSize::S256), ImageQuality::Standard),
        None
    );
    assert_eq!(dalle3.iter().count(), 6);
    let dalle2 = units("openai", "dall-e-2").images;
    assert_eq!(
        dalle2.get(Some(ImageSize::S256), ImageQuality::Standard),
        usd("0.016")
    );
    assert_eq!(dalle2.get(Some(ImageSize::S1024), ImageQuality::Hd), None);
    assert_eq!(
        units("openai", "whisper-1").audio_input_minute,
        usd("0.006")
    );
    assert_eq!(units("openai", "tts-1").output_character, usd("0.000015"));
    assert_eq!(units("openai", "tts-1-hd").output_character, usd("0.00003"));
    assert_eq!(units("openai", "gpt-5").web_search_call, usd("0.01"));
    assert_eq!(units("openai", "gpt-5").code_session, usd("0.03"));
    assert_eq!(units("openai", "gpt-4o").web_search_call, None);
    assert_eq!(
        units("anthropic", "claude-sonnet-4-5").web_search_call,
        usd("0.01")
    );
    assert_eq!(units("anthropic", "claude-3-haiku").web_search_call, None);
    assert_eq!(units("xai", "grok-4").web_search_call, usd("0.025"));
    // Tiers and long prompts bill the same fees: Sonnet 4's long-context rates keep them.
    let sonnet = Catalog::builtin()
        .resolve("anthropic", "claude-sonnet-4")
        .unwrap()
        .entry
        .current_price();
    assert_eq!(
        sonnet.rates_for(300_000).0.units.web_search_call,
        usd("0.01")
    );
    let gpt5 = Catalog::builtin()
        .resolve("openai", "gpt-5")
        .unwrap()
        .entry
        .current_price();
    assert_eq!(gpt5.flex.unwrap().units.code_session, usd("0.03"));
}

#[test]
fn a_bad_unit_price_names_its_field() {
    let with = |units: &str| format!("{}units = {units}\n", crate::GOOD);
    for (units, field) in [
        (
            r#"{ web_search_call = "ten" }"#,
            "prices[0].units.web_search_call",
        ),
        (
            r#"{ images = [{ size = "9x9", quality = "hd", usd = "1" }] }"#,
            "prices[0].units.images[0].size",
        ),
        (
            r#"{ images = [{ size = "1024x1024", quality = "ultra", usd = "1" }] }"#,
            "prices[0].units.images[0].quality",
        ),
        (
            r#"{ images = [{ size = "1024x1024", quality = "hd", usd = "1" }, { size = "1024x1024", quality = "hd", usd = "2" }] }"#,
            "prices[0].units.images[1].size",
        ),
        (r#"{ code_session = "-1" }"#, "prices[0].units.code_session"),
    ] {
        let text = with(units);
        let e = Catalog::from_sources([("acme.toml", text.as_str())])
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{units}: {e}");
    }
    let e = Catalog::from_sources([("acme.toml", with(r#"{ per_fax = "1" }"#).as_str())]);
    assert!(e.is_err(), "an unknown unit is refused");
}
