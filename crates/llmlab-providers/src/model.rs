//! What the catalog knows about one model besides its prices.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::price::PriceVersion;

/// Capability tier, used to tell a like-for-like switch from a downgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Tier {
    /// A provider's most capable general models.
    Flagship,
    /// Balanced price and capability.
    Mid,
    /// Small, fast, cheap models.
    Small,
    /// Models that spend reasoning tokens before answering.
    Reasoning,
    /// Embedding models: billed per input token, with no output tokens.
    Embedding,
    /// Image generation models: billed per image (by size and quality) or per token.
    Image,
    /// Speech-to-text models: billed per minute of audio or per token.
    Transcription,
    /// Text-to-speech models: billed per character or per token.
    Speech,
}

/// How a suggested alternative relates to the model it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// A newer model of the same capability tier.
    SameTierNewer,
    /// An explicitly lower-capability option.
    LowerTier,
}

/// A model-switch equivalence kept as catalog data, with its rationale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alternative {
    /// Provider of the alternative.
    pub provider: String,
    /// Canonical name of the alternative.
    pub model: String,
    /// Same tier or lower tier.
    pub relation: Relation,
    /// Why this is a sensible switch.
    pub rationale: String,
}

/// One priced model of a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelEntry {
    /// Provider id (`openai`).
    pub provider: String,
    /// Canonical name (`gpt-4o`).
    pub name: String,
    /// Other names that resolve to this entry exactly.
    pub aliases: Vec<String>,
    /// Dated snapshot suffixes this entry covers (`2024-08-06`, `20240307`, `002`).
    pub snapshots: Vec<String>,
    /// Model family (`gpt-4o`, `claude-3`).
    pub family: String,
    /// Capability tier.
    pub tier: Tier,
    /// Context window in tokens, where known.
    pub context_window: Option<u64>,
    /// Maximum output tokens, where known.
    pub max_output_tokens: Option<u64>,
    /// Accepts images, where known.
    pub vision: Option<bool>,
    /// Supports tool calls, where known.
    pub tools: Option<bool>,
    /// Retired by the provider; kept to price historical events.
    pub deprecated: bool,
    /// Suggested switches.
    pub alternatives: Vec<Alternative>,
    /// Price history, sorted by `effective_from`, never empty: private so that holds
    /// (an entry is made only by loading a catalog file, which refuses a model without
    /// prices); read it with [`ModelEntry::prices`].
    pub(crate) prices: Vec<PriceVersion>,
}

impl ModelEntry {
    /// Every price version the model has had, oldest first; never empty.
    pub fn prices(&self) -> &[PriceVersion] {
        &self.prices
    }

    /// The price version in effect on `day` (UTC). Before the first version, the first
    /// version applies: events dated before a model's listing are priced at its launch price.
    pub fn price_at(&self, day: NaiveDate) -> &PriceVersion {
        let idx = self.prices.partition_point(|p| p.effective_from <= day);
        // `prices` is never empty (checked at load), so index 0 exists.
        &self.prices[idx.saturating_sub(1)]
    }

    /// The newest price version.
    pub fn current_price(&self) -> &PriceVersion {
        // Never empty (see `prices`), so the last version exists.
        &self.prices[self.prices.len() - 1]
    }

    /// Whether the model has prompt-caching rates in its current price.
    pub fn supports_caching(&self) -> bool {
        self.current_price().rates.cached_input.is_some()
    }
}
