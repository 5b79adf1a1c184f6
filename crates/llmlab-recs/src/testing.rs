//! A small hand-written catalog and mix builders for the unit tests.

use llmlab_engine::Usd;
use llmlab_providers::Catalog;

use crate::mix::{LongPrompts, ModelMix, TokenTotals};

pub const CATALOG: &str = r#"
provider = "test"

[[models]]
name = "big"
tier = "flagship"
context_window = 128000
alternatives = [
  { model = "big-new", relation = "same_tier_newer", rationale = "big-new is the newer flagship" },
  { model = "small", relation = "lower_tier", rationale = "small handles short answers" },
  { model = "narrow", relation = "same_tier_newer", rationale = "narrow has a short context" },
  { model = "pricier", relation = "same_tier_newer", rationale = "pricier is stronger" },
  { model = "retired", relation = "same_tier_newer", rationale = "retired is gone" },
  { model = "mystery", relation = "same_tier_newer", rationale = "mystery has an unknown window" },
]

[[models.prices]]
effective_from = "2024-01-01"
input = "20.00"
output = "60.00"
source = "test"
checked = "2025-01-01"

[[models.prices]]
effective_from = "2025-01-01"
input = "10.00"
output = "30.00"
cached_input = "5.00"
batch_discount_pct = 50
source = "test"
checked = "2025-01-01"

[[models]]
name = "big-new"
tier = "flagship"
context_window = 1000000

[[models.prices]]
effective_from = "2025-01-01"
input = "2.50"
output = "10.00"
cached_input = "1.25"
batch_discount_pct = 50
source = "test"
checked = "2025-01-01"

[[models]]
name = "small"
tier = "small"
context_window = 128000

[[models.prices]]
effective_from = "2025-01-01"
input = "0.15"
output = "0.60"
cached_input = "0.075"
batch_discount_pct = 50
source = "test"
checked = "2025-01-01"

[[models]]
name = "narrow"
tier = "flagship"
context_window = 8192

[[models.prices]]
effective_from = "2025-01-01"
input = "1.00"
output = "2.00"
source = "test"
checked = "2025-01-01"

[[models]]
name = "pricier"
tier = "flagship"
context_window = 200000

[[models.prices]]
effective_from = "2025-01-01"
input = "15.00"
output = "60.00"
source = "test"
checked = "2025-01-01"

[[models]]
name = "retired"
tier = "flagship"
context_window = 1000000
deprecated = true

[[models.prices]]
effective_from = "2025-01-01"
input = "0.10"
output = "0.10"
source = "test"
checked = "2025-01-01"

[[models]]
name = "mystery"
tier = "flagship"

[[models.prices]]
effective_from = "2025-01-01"
input = "1.00"
output = "4.00"
source = "test"
checked = "2025-01-01"

[[models]]
name = "cachey"
tier = "mid"
context_window = 200000

[[models.prices]]
effective_from = "2025-01-01"
input = "3.00"
output = "15.00"
cached_input = "0.30"
cache_write = "3.75"
batch_discount_pct = 50
source = "test"
checked = "2025-01-01"

[[models]]
name = "reasoner"
tier = "reasoning"
context_window = 200000

[[models.prices]]
effective_from = "2025-01-01"
input = "1.10"
output = "4.40"
batch_discount_pct = 50
source = "test"
checked = "2025-01-01"

[[models]]
name = "gem"
tier = "flagship"
context_window = 2000000
alternatives = [
  { model = "gem-flash", relation = "lower_tier", rationale = "gem-flash is fast and cheap" },
]

[[models.prices]]
effective_from = "2025-01-01"
input = "1.25"
output = "5.00"
long_context = { threshold_tokens = 128000, input = "2.50", output = "10.00" }
source = "test"
checked = "2025-01-01"

[[models]]
name = "gem-flash"
tier = "small"
context_window = 1000000

[[models.prices]]
effective_from = "2025-01-01"
input = "0.075"
output = "0.30"
long_context = { threshold_tokens = 128000, input = "0.15", output = "0.60" }
source = "test"
checked = "2025-01-01"
"#;

#[allow(clippy::expect_used)]
pub fn catalog() -> Catalog {
    Catalog::from_sources([("test.toml", CATALOG)]).expect("the test catalog is valid")
}

pub fn totals(calls: u64, input: u64, cached: u64, output: u64) -> TokenTotals {
    TokenTotals {
        calls,
        input_tokens: input,
        cached_input_tokens: cached,
        output_tokens: output,
        ..TokenTotals::default()
    }
}

/// A mix of `model` with only non-batch calls.
pub fn mix(model: &str, standard: TokenTotals, cost: Usd, max_input: u64) -> ModelMix {
    ModelMix {
        provider: "test".into(),
        model: model.into(),
        standard,
        batch: TokenTotals::default(),
        cost,
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
            batch: TokenTotals::default(),
        });
    }
    m
}

pub fn usd(s: &str) -> Usd {
    Usd::parse(s).unwrap_or(Usd::from_nanos(i64::MIN))
}
