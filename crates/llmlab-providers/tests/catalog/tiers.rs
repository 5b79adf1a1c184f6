//! Audio rates, 1-hour cache writes and the Flex/Priority service tiers in the catalog.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use llmlab_providers::{Catalog, PerMTok, PriceVersion, ServiceTier};

fn p(s: &str) -> PerMTok {
    PerMTok::parse(s).unwrap()
}

fn current(provider: &str, name: &str) -> &'static PriceVersion {
    Catalog::builtin()
        .resolve(provider, name)
        .unwrap_or_else(|e| panic!("{provider}/{name}: {e}"))
        .entry
        .current_price()
}

#[test]
fn openai_flex_and_priority_rates() {
    let gpt5 = current("openai", "gpt-5");
    let flex = gpt5.flex.unwrap();
    assert_eq!(
        (flex.input, flex.cached_input, flex.output),
        (p("0.625"), Some(p("0.0625")), p("5"))
    );
    let prio = gpt5.priority.unwrap();
    assert_eq!(
        (prio.input, prio.cached_input, prio.output),
        (p("2.50"), Some(p("0.25")), p("20"))
    );
    assert_eq!(
        gpt5.tiers(),
        [
            ServiceTier::Standard,
            ServiceTier::Batch,
            ServiceTier::Flex,
            ServiceTier::Priority
        ]
    );
    // gpt-4o has Priority but no Flex; gpt-5-nano Flex but no Priority.
    let gpt4o = current("openai", "gpt-4o");
    assert!(gpt4o.flex.is_none());
    assert_eq!(gpt4o.priority.unwrap().input, p("4.25"));
    let nano = current("openai", "gpt-5-nano");
    assert_eq!(nano.flex.unwrap().output, p("0.20"));
    assert!(nano.priority.is_none());
    // o3 after its June 2025 price cut.
    assert_eq!(current("openai", "o3").flex.unwrap().input, p("1"));
    assert_eq!(current("openai", "o3").priority.unwrap().output, p("14"));
    // Flex is never dearer than standard, Priority never cheaper.
    for m in Catalog::builtin()
        .providers()
        .iter()
        .flat_map(|p| p.models())
    {
        for v in m.prices() {
            if let Some(f) = v.flex {
                assert!(
                    f.input <= v.rates.input && f.output <= v.rates.output,
                    "{}",
                    m.name
                );
            }
            if let Some(p) = v.priority {
                assert!(
                    p.input >= v.rates.input && p.output >= v.rates.output,
                    "{}",
                    m.name
                );
            }
        }
    }
}

#[test]
fn audio_rates_and_one_hour_cache_writes() {
    let rt = current("openai", "gpt-realtime").rates;
    assert_eq!(
        (rt.input_audio, rt.output_audio),
        (Some(p("32")), Some(p("64")))
    );
    let mini = current("openai", "gpt-4o-mini-audio-preview").rates;
    assert_eq!(mini.input_audio, Some(p("10")));
    // The 2024-12-17 snapshot cut audio prices to $40/$80.
    let preview = Catalog::builtin()
        .resolve("openai", "gpt-4o-audio-preview")
        .unwrap()
        .entry;
    let at = |d: &str| preview.price_at(d.parse().unwrap()).rates.input_audio;
    assert_eq!(at("2024-11-01"), Some(p("100")));
    assert_eq!(at("2025-01-01"), Some(p("40")));
    assert_eq!(current("openai", "gpt-4o").rates.input_audio, None);
    let flash = current("google", "gemini-2.5-flash").rates;
    assert_eq!(
        (flash.input, flash.input_audio),
        (p("0.30"), Some(p("1.00")))
    );
    assert_eq!(flash.output_audio, None);
    let sonnet = current("anthropic", "claude-sonnet-4-5");
    assert_eq!(sonnet.rates.cache_write, Some(p("3.75")));
    assert_eq!(sonnet.rates.cache_write_1h, Some(p("6")));
    assert_eq!(
        sonnet.long_context.unwrap().rates.cache_write_1h,
        Some(p("12"))
    );
    // Anthropic's 1-hour write is 2x input wherever a 5-minute write is listed.
    for m in Catalog::builtin().provider("anthropic").unwrap().models() {
        for v in m.prices() {
            if v.rates.cache_write.is_some() {
                let two_x = PerMTok::from_micros(v.rates.input.micros() * 2);
                assert_eq!(v.rates.cache_write_1h, two_x, "{}", m.name);
            }
        }
    }
}

/// The catalog file of the parent module with a Flex rate.
fn tiered() -> String {
    format!(
        "{}flex = {{ input = \"0.50\", output = \"1.00\" }}\n",
        super::GOOD
    )
}

#[test]
fn tier_rates_are_validated_at_load() {
    let c = Catalog::from_sources([("acme.toml", tiered().as_str())]).unwrap();
    let v = c.resolve("acme", "acme-1").unwrap().entry.current_price();
    assert_eq!(v.flex.unwrap().input, p("0.5"));
    assert_eq!(v.tiers(), [ServiceTier::Standard, ServiceTier::Flex]);
    let bad = tiered().replace("\"0.50\"", "\"half\"");
    let e = Catalog::from_sources([("acme.toml", bad.as_str())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("prices[0].flex.input"), "{e}");
    let both = tiered()
        + "long_context = { threshold_tokens = 1000, input = \"2.00\", output = \"4.00\" }\n";
    let e = Catalog::from_sources([("acme.toml", both.as_str())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("prices[0].flex"), "{e}");
    let audio = tiered().replace("checked =", "input_audio = \"-1\"\nchecked =");
    let e = Catalog::from_sources([("acme.toml", audio.as_str())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("prices[0].input_audio"), "{e}");
}
