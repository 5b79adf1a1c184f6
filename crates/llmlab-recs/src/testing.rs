//! A small hand-written catalog and mix builders for the unit tests.

use llmlab_engine::aggregate::Totals;
use llmlab_engine::{Tokens, Usd};
use llmlab_providers::Catalog;

use crate::mix::{LongPrompts, ModelMix};

mod usage;
pub use usage::usage;

/// The test provider's catalog, kept as a TOML file like the built-in catalog files.
pub const CATALOG: &str = include_str!("testing/catalog.toml");

#[allow(clippy::expect_used)]
pub fn catalog() -> Catalog {
    Catalog::from_sources([("test.toml", CATALOG)]).expect("the test catalog is valid")
}

/// `calls` calls with these token sums (and no cost).
pub fn totals(calls: u64, input: i64, cached: i64, output: i64) -> Totals {
    Totals {
        calls,
        tokens: Tokens {
            input,
            cached_input: cached,
            output,
            ..Tokens::default()
        },
        ..Totals::default()
    }
}

/// A mix of `model` with only non-batch calls, which cost `cost`.
pub fn mix(model: &str, standard: Totals, cost: Usd, max_input: u64) -> ModelMix {
    ModelMix {
        provider: "test".into(),
        model: model.into(),
        standard: Totals { cost, ..standard },
        batch: Totals::default(),
        max_input_tokens: max_input,
        long_prompts: Vec::new(),
    }
}

/// `gem`: 10 calls, 1M prompt tokens and 200k output; 2 of the calls (600k prompt,
/// 100k output) above 128k.
pub fn gem_mix(with_long_prompts: bool) -> ModelMix {
    let mut m = mix("gem", totals(10, 1_000_000, 0, 200_000), Usd::ZERO, 300_000);
    if with_long_prompts {
        m.long_prompts.push(LongPrompts {
            threshold_tokens: 128_000,
            standard: totals(2, 600_000, 0, 100_000),
            batch: Totals::default(),
        });
    }
    m
}

pub fn usd(s: &str) -> Usd {
    Usd::parse(s).unwrap_or(Usd::from_nanos(i64::MIN))
}
