#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tiers;
mod units;

use chrono::NaiveDate;
use llmlab_providers::{Catalog, CatalogError, PerMTok};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn resolves(provider: &str, name: &str) -> String {
    match Catalog::builtin().resolve(provider, name) {
        Ok(r) => r.entry.name.clone(),
        Err(e) => panic!("{provider}/{name}: {e}"),
    }
}

#[test]
fn builtin_catalog_is_valid() {
    // Every file in catalog/ as it is on disk: the embedded catalog must be all of them.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 9, "{} catalog files", files.len());
    let c = Catalog::from_sources(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .expect("built-in catalog parses and validates");
    let embedded: usize = Catalog::builtin()
        .providers()
        .iter()
        .map(|p| p.models().len())
        .sum();
    let listed: usize = c.providers().iter().map(|p| p.models().len()).sum();
    assert_eq!(embedded, listed, "every catalog file is embedded");
    for p in c.providers() {
        for m in p.models() {
            for v in m.prices() {
                assert!(
                    v.source.starts_with("https://"),
                    "{}/{}: source",
                    p.id,
                    m.name
                );
                assert!(v.rates.output >= PerMTok::ZERO);
            }
        }
    }
}

#[test]
fn every_seed_model_resolves() {
    for m in [
        "gpt-4",
        "gpt-4-turbo",
        "gpt-3.5-turbo",
        "gpt-4o",
        "gpt-4o-mini",
    ] {
        resolves("openai", m);
    }
    for m in [
        "claude-3-opus",
        "claude-3-sonnet",
        "claude-3-haiku",
        "claude-2.1",
        "claude-2",
    ] {
        resolves("anthropic", m);
    }
    for m in ["gemini-pro", "gemini-1.5-pro", "gemini-1.5-flash"] {
        resolves("google", m);
    }
}

#[test]
fn resolution_forms() {
    assert_eq!(resolves("openai", "GPT-4o"), "gpt-4o");
    assert_eq!(resolves("OpenAI", "openai/gpt-4o"), "gpt-4o");
    assert_eq!(resolves("openai", "gpt-4o-2024-08-06"), "gpt-4o");
    assert_eq!(resolves("openai", "gpt-4o-2024-05-13"), "gpt-4o-2024-05-13");
    assert_eq!(
        resolves("anthropic", "claude-3-haiku-20240307"),
        "claude-3-haiku"
    );
    assert_eq!(
        resolves("anthropic", "claude-3-5-sonnet@20240620"),
        "claude-3-5-sonnet"
    );
    assert_eq!(
        resolves("anthropic", "claude-3-5-sonnet-latest"),
        "claude-3-5-sonnet"
    );
    assert_eq!(
        resolves("google", "models/gemini-1.5-pro-002"),
        "gemini-1.5-pro"
    );
    let ft = Catalog::builtin()
        .resolve("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123")
        .unwrap();
    assert_eq!(ft.entry.name, "gpt-4o-mini");
    assert!(ft.fine_tuned);
}

#[test]
fn gpt4o_price_history() {
    let e = Catalog::builtin()
        .resolve("openai", "gpt-4o")
        .unwrap()
        .entry;
    assert_eq!(
        e.price_at(day("2024-07-01")).rates.input,
        PerMTok::parse("5").unwrap()
    );
    assert_eq!(
        e.price_at(day("2024-09-01")).rates.input,
        PerMTok::parse("2.5").unwrap()
    );
    assert_eq!(
        e.price_at(day("2024-09-01")).rates.output,
        PerMTok::parse("10").unwrap()
    );
}

#[test]
fn unknown_names_carry_suggestions() {
    match Catalog::builtin().resolve("openai", "gpt-4x") {
        Err(CatalogError::UnknownModel { suggestions, .. }) => {
            assert!(
                suggestions.iter().any(|s| s == "gpt-4o" || s == "gpt-4"),
                "{suggestions:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Catalog::builtin().resolve("nope", "gpt-4o"),
        Err(CatalogError::UnknownProvider { .. })
    ));
    assert!(Catalog::builtin().resolve("openai", "gpt-4o/../x").is_err());
}

pub(crate) const GOOD: &str = r#"
provider = "acme"
[[models]]
name = "acme-1"
tier = "mid"
[[models.prices]]
effective_from = "2025-01-01"
input = "1.00"
output = "2.00"
source = "https://acme.example/pricing"
checked = "2025-01-02"
"#;

#[test]
fn bad_files_name_file_model_and_field() {
    let bad = GOOD.replace("\"2.00\"", "\"two\"");
    let e = Catalog::from_sources([("acme.toml", bad.as_str())])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("acme.toml") && e.contains("acme-1") && e.contains("prices[0].output"),
        "{e}"
    );
    let e = Catalog::from_sources([("x.toml", "provider = ")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.toml"), "{e}");
    let unsorted = GOOD.to_string()
        + &GOOD[GOOD.find("[[models.prices]]").unwrap()..].replace("2025-01-01", "2024-01-01");
    let e = Catalog::from_sources([("acme.toml", unsorted.as_str())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("effective_from"), "{e}");
}

#[test]
fn runtime_files_extend_and_override() {
    let dir = std::env::temp_dir().join(format!("llmlab-cat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("acme.toml"), GOOD).unwrap();
    let over = GOOD
        .replace("acme", "openai")
        .replace("openai-1", "gpt-4o")
        .replace("\"1.00\"", "\"0.01\"");
    std::fs::write(dir.join("openai.toml"), over).unwrap();
    let c = Catalog::builtin().extended_with_path(&dir).unwrap();
    assert_eq!(c.resolve("acme", "acme-1").unwrap().entry.name, "acme-1");
    let gpt = c.resolve("openai", "gpt-4o-2024-08-06").unwrap().entry;
    assert_eq!(
        gpt.current_price().rates.input,
        PerMTok::parse("0.01").unwrap()
    );
    assert!(
        c.resolve("openai", "gpt-4.1").is_ok(),
        "built-in models stay"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn p(s: &str) -> PerMTok {
    PerMTok::parse(s).unwrap()
}

/// `(input, output, cached_input, cache_write)` of the current price, as decimal strings.
fn current(provider: &str, name: &str) -> (String, String, Option<String>, Option<String>) {
    let r = &Catalog::builtin()
        .resolve(provider, name)
        .unwrap_or_else(|e| panic!("{provider}/{name}: {e}"))
        .entry
        .current_price()
        .rates;
    (
        r.input.to_string(),
        r.output.to_string(),
        r.cached_input.map(|c| c.to_string()),
        r.cache_write.map(|c| c.to_string()),
    )
}

fn s(v: &str) -> String {
    v.to_string()
}

/// A model and its current input, output, cache read and cache write rates.
type Rates<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// Asserts each model's current rates.
fn assert_rates(provider: &str, table: &[Rates<'_>]) {
    for &(model, input, output, cached, write) in table {
        let expected = (s(input), s(output), cached.map(s), write.map(s));
        assert_eq!(current(provider, model), expected, "{provider}/{model}");
    }
}

#[test]
fn catalog_size() {
    let c = Catalog::builtin();
    let models: usize = c.providers().iter().map(|p| p.models().len()).sum();
    assert!(models >= 150, "{models} models");
    assert!(
        c.providers().len() >= 9,
        "{} providers",
        c.providers().len()
    );
    for id in [
        "openai",
        "anthropic",
        "google",
        "mistral",
        "deepseek",
        "xai",
        "cohere",
        "azure",
        "bedrock",
    ] {
        let provider = c.provider(id).unwrap_or_else(|| panic!("{id} missing"));
        assert!(!provider.display_name.is_empty());
        assert!(!provider.models().is_empty());
    }
}

#[test]
fn every_price_is_sourced_and_dated() {
    let newest_check = day("2025-12-02");
    for p in Catalog::builtin().providers() {
        for m in p.models() {
            for v in m.prices() {
                assert!(v.source.starts_with("https://"), "{}/{}", p.id, m.name);
                assert!(v.checked <= newest_check, "{}/{}: checked", p.id, m.name);
                assert!(
                    v.effective_from <= v.checked,
                    "{}/{}: effective_from after checked",
                    p.id,
                    m.name
                );
            }
        }
    }
}

#[test]
fn bedrock_ids_resolve_with_and_without_cross_region_prefixes() {
    for (id, canonical) in [
        (
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        (
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
        (
            "anthropic.claude-sonnet-4-20250514-v1:0",
            "anthropic.claude-sonnet-4-20250514-v1:0",
        ),
        (
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
        ),
        ("amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        (
            "meta.llama3-3-70b-instruct-v1:0",
            "meta.llama3-3-70b-instruct-v1:0",
        ),
    ] {
        assert_eq!(resolves("bedrock", id), canonical, "{id}");
        for prefix in ["us.", "eu.", "apac.", "global.", "US."] {
            assert_eq!(
                resolves("bedrock", &format!("{prefix}{id}")),
                canonical,
                "{prefix}{id}"
            );
        }
        assert_eq!(
            resolves("bedrock", &format!("bedrock/us.{id}")),
            canonical,
            "bedrock/us.{id}"
        );
    }
    // Short vendor names are aliases of the Bedrock entries.
    assert_eq!(
        resolves("bedrock", "claude-3-5-haiku-20241022"),
        "anthropic.claude-3-5-haiku-20241022-v1:0"
    );
    assert_eq!(
        resolves("bedrock", "amazon/nova-lite-v1"),
        "amazon.nova-lite-v1:0"
    );
    // A prefix is stripped once and only at the start; unknown prefixes do not resolve.
    for bad in [
        "us.us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "xx.anthropic.claude-3-5-haiku-20241022-v1:0",
        "us.",
    ] {
        assert!(Catalog::builtin().resolve("bedrock", bad).is_err(), "{bad}");
    }
    // Other providers do not strip Bedrock's prefixes.
    assert!(
        Catalog::builtin()
            .resolve("anthropic", "us.claude-3-5-haiku")
            .is_err()
    );
}

#[test]
fn bedrock_global_profiles_of_claude_4_5_have_their_own_price() {
    let sonnet = "anthropic.claude-sonnet-4-5-20250929-v1:0";
    // Regional (geographic and in-region) endpoints: 10% above global.
    for name in [
        sonnet.to_string(),
        format!("us.{sonnet}"),
        format!("eu.{sonnet}"),
        format!("apac.{sonnet}"),
        s("claude-sonnet-4-5"),
    ] {
        assert_eq!(resolves("bedrock", &name), sonnet, "{name}");
        assert_eq!(
            current("bedrock", &name),
            (s("3.3"), s("16.5"), Some(s("0.33")), Some(s("4.125")))
        );
    }
    let global = format!("global.{sonnet}");
    assert_eq!(resolves("bedrock", &global), global);
    assert_eq!(
        current("bedrock", &global),
        (s("3"), s("15"), Some(s("0.3")), Some(s("3.75")))
    );
    let haiku = "anthropic.claude-haiku-4-5-20251001-v1:0";
    assert_eq!(current("bedrock", &format!("us.{haiku}")).0, "1.1");
    assert_eq!(current("bedrock", &format!("global.{haiku}")).0, "1");
}

#[test]
fn bedrock_prices() {
    assert_rates(
        "bedrock",
        &[
            (
                "anthropic.claude-3-haiku-20240307-v1:0",
                "0.25",
                "1.25",
                None,
                None,
            ),
            (
                "anthropic.claude-opus-4-1-20250805-v1:0",
                "15",
                "75",
                Some("1.5"),
                Some("18.75"),
            ),
            (
                "amazon.nova-micro-v1:0",
                "0.035",
                "0.14",
                Some("0.00875"),
                None,
            ),
            (
                "amazon.nova-premier-v1:0",
                "2.5",
                "12.5",
                Some("0.625"),
                None,
            ),
        ],
    );
    assert_eq!(
        current("bedrock", "meta.llama3-1-8b-instruct-v1:0").0,
        "0.22"
    );
    assert_eq!(
        current("bedrock", "mistral.mixtral-8x7b-instruct-v0:1"),
        (s("0.45"), s("0.7"), None, None)
    );
    let sonnet4 = Catalog::builtin()
        .resolve("bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0")
        .unwrap()
        .entry
        .current_price();
    let (rates, long) = sonnet4.rates_for(250_000);
    assert!(long);
    assert_eq!(rates.input, p("6"));
    assert_eq!(sonnet4.batch_discount_pct, Some(50));
}

#[test]
fn vertex_ai_claude_names_resolve() {
    for (name, canonical) in [
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-haiku-4-5@20251001", "claude-haiku-4-5"),
        ("claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("vertex_ai/claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
    ] {
        assert_eq!(resolves("anthropic", name), canonical, "{name}");
    }
}

#[test]
fn xai_models_and_prices() {
    assert_eq!(resolves("xai", "x-ai/grok-4"), "grok-4");
    assert_eq!(resolves("xai", "grok-4-0709"), "grok-4");
    assert_eq!(resolves("xai", "xai/grok-4-fast"), "grok-4-fast-reasoning");
    assert_eq!(
        resolves("xai", "x-ai/grok-4.1-fast"),
        "grok-4-1-fast-reasoning"
    );
    assert_eq!(resolves("xai", "grok-2-1212"), "grok-2");
    assert_eq!(resolves("xai", "grok-3-mini-beta"), "grok-3-mini");
    assert_rates(
        "xai",
        &[
            ("grok-4", "3", "15", Some("0.75"), None),
            ("grok-code-fast-1", "0.2", "1.5", Some("0.02"), None),
            ("grok-3-mini", "0.3", "0.5", Some("0.075"), None),
        ],
    );
    let fast = Catalog::builtin()
        .resolve("xai", "grok-4-fast-non-reasoning")
        .unwrap()
        .entry
        .current_price();
    assert_eq!(fast.rates_for(100_000).0.input, p("0.2"));
    assert_eq!(fast.rates_for(200_000).0.input, p("0.4"));
}

#[test]
fn cohere_models_and_prices() {
    assert_eq!(resolves("cohere", "cohere/command-a"), "command-a-03-2025");
    assert_rates(
        "cohere",
        &[
            ("command-a-03-2025", "2.5", "10", None, None),
            ("command-r-08-2024", "0.15", "0.6", None, None),
            ("command-r-plus", "3", "15", None, None),
        ],
    );
    assert_eq!(current("cohere", "command-r7b-12-2024").0, "0.0375");
}

#[test]
fn azure_uses_openai_names_at_global_standard_prices() {
    assert_eq!(resolves("azure", "gpt-35-turbo-0125"), "gpt-35-turbo");
    assert_eq!(resolves("azure", "gpt-3.5-turbo"), "gpt-35-turbo");
    assert_eq!(resolves("azure", "azure/gpt-4o-2024-11-20"), "gpt-4o");
    assert_eq!(resolves("azure", "gpt-4o-2024-05-13"), "gpt-4o-2024-05-13");
    for name in [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-nano",
        "gpt-5",
        "gpt-5-nano",
        "o4-mini",
    ] {
        let azure = Catalog::builtin().resolve("azure", name).unwrap().entry;
        let openai = Catalog::builtin().resolve("openai", name).unwrap().entry;
        // The token rates match; OpenAI's tool fees are OpenAI's (Azure's are not listed).
        let tokens =
            |r: &llmlab_providers::Rates| r.with_units(llmlab_providers::UnitRates::default());
        assert!(azure.current_price().rates.units.is_empty(), "{name}");
        assert_eq!(
            azure.current_price().rates,
            tokens(&openai.current_price().rates),
            "{name}"
        );
        assert_eq!(
            azure.price_at(day("2024-07-01")).rates,
            tokens(&openai.price_at(day("2024-07-01")).rates),
            "{name}"
        );
    }
    assert_eq!(
        current("azure", "gpt-5-mini"),
        (s("0.25"), s("2"), Some(s("0.025")), None)
    );
}

#[test]
fn newest_models_of_the_first_providers() {
    for (provider, name) in [
        ("openai", "gpt-5-pro"),
        ("openai", "gpt-5-codex"),
        ("openai", "gpt-5-chat"),
        ("openai", "gpt-realtime-2025-08-28"),
        ("openai", "gpt-4o-audio-preview-2024-12-17"),
        ("openai", "o3-deep-research-2025-06-26"),
        ("google", "gemini-2.5-flash-preview-09-2025"),
        ("mistral", "magistral-medium-2509"),
    ] {
        resolves(provider, name);
    }
    assert_rates(
        "openai",
        &[
            ("gpt-5-pro", "15", "120", None, None),
            ("gpt-realtime", "4", "16", Some("0.4"), None),
        ],
    );
}

const STRIP: &str = r#"
provider = "acme"
strip_prefixes = ["us.", "Global."]
[[models]]
name = "acme.model-v1:0"
aliases = ["acme-model"]
snapshots = ["20250101"]
tier = "mid"
[[models.prices]]
effective_from = "2025-01-01"
input = "1.00"
output = "2.00"
source = "https://acme.example/pricing"
checked = "2025-01-02"
[[models]]
name = "global.acme.model-v1:0"
tier = "mid"
[[models.prices]]
effective_from = "2025-01-01"
input = "0.90"
output = "1.80"
source = "https://acme.example/pricing"
checked = "2025-01-02"
"#;

#[test]
fn strip_prefixes_apply_after_exact_names() {
    let c = Catalog::from_sources([("acme.toml", STRIP)]).unwrap();
    let name = |m: &str| c.resolve("acme", m).unwrap().entry.name.clone();
    assert_eq!(name("us.acme.model-v1:0"), "acme.model-v1:0");
    assert_eq!(name("acme/us.acme-model"), "acme.model-v1:0");
    assert_eq!(name("us.acme-model-20250101"), "acme.model-v1:0");
    assert_eq!(name("US.acme-model@20250101"), "acme.model-v1:0");
    // The exact `global.` entry wins over stripping (prefixes are lower-cased at load).
    assert_eq!(name("global.acme.model-v1:0"), "global.acme.model-v1:0");
    assert!(c.resolve("acme", "eu.acme.model-v1:0").is_err());

    for bad in [r#"[""]"#, r#"["us/"]"#] {
        let text = STRIP.replace(r#"["us.", "Global."]"#, bad);
        let e = Catalog::from_sources([("acme.toml", text.as_str())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("strip_prefixes"), "{e}");
    }
}
