#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod aggregate;
pub mod budget;
mod cost;
mod discount;
mod error;
pub mod forecast;
mod money;
pub mod period;
#[cfg(test)]
mod testing;
mod tokens;
mod units;
mod usage;
pub mod usage_object;

pub use cost::{
    Breakdown, Cost, PricedCall, cost_at_rates, cost_at_version, cost_under_contract, price,
    price_under_contract,
};
pub use discount::Discount;
pub use error::EngineError;
pub use llmlab_providers::ServiceTier;
pub use money::{NANOS_PER_USD, Usd, as_json_number};
pub use tokens::Tokens;
pub use units::Units;
pub use usage::{MAX_TOKENS, Usage, UsageFields};

/// Re-exported so linking services need only this crate for the catalog.
pub use llmlab_providers as providers;
