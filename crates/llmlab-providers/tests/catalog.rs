#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    let c = Catalog::from_sources([
        ("openai.toml", include_str!("../catalog/openai.toml")),
        ("anthropic.toml", include_str!("../catalog/anthropic.toml")),
        ("google.toml", include_str!("../catalog/google.toml")),
        ("mistral.toml", include_str!("../catalog/mistral.toml")),
        ("deepseek.toml", include_str!("../catalog/deepseek.toml")),
    ])
    .expect("built-in catalog parses and validates");
    for p in c.providers() {
        for m in p.models() {
            for v in &m.prices {
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

const GOOD: &str = r#"
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
