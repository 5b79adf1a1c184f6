//! The engine's one error type.

use llmlab_providers::{CatalogError, ServiceTier};

/// Everything the engine rejects. Each variant names the input that was wrong (the
/// field, or the amount as given), so a caller can point its own user at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A token count is out of range or the buckets are inconsistent.
    #[error("{field}: {message}")]
    InvalidUsage {
        /// The offending field (`cached_input_tokens`, …).
        field: &'static str,
        /// Why.
        message: String,
    },
    /// A money amount is not a decimal with at most 9 decimals.
    #[error("'{0}' is not a USD amount (a decimal number with at most 9 decimals)")]
    InvalidAmount(String),
    /// A cost does not fit the money type (more than ±$9.2 billion).
    #[error("cost out of range")]
    CostOverflow,
    /// An IANA time zone name that is not known.
    #[error("'{0}' is not an IANA time zone")]
    InvalidTimeZone(String),
    /// A period, granularity or scope that does not parse.
    #[error("{field}: {message}")]
    InvalidValue {
        /// The offending field.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// A service tier the price in effect has no rates for.
    #[error("the {tier} service tier has no published price for this model; it offers {}", tiers(.offered))]
    UnsupportedServiceTier {
        /// The tier asked for.
        tier: ServiceTier,
        /// The tiers the price does offer.
        offered: Vec<ServiceTier>,
    },
    /// The catalog could not resolve the provider or the model.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

fn tiers(offered: &[ServiceTier]) -> String {
    let names: Vec<&str> = offered.iter().map(|t| t.as_str()).collect();
    names.join(", ")
}
