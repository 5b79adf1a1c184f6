#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod catalog;
mod error;
mod file;
mod model;
mod price;
mod units;

pub use catalog::{Catalog, Provider, Resolved};
pub use error::CatalogError;
pub use model::{Alternative, ModelEntry, Relation, Tier};
pub use price::{LongContextTier, PerMTok, PriceParseError, PriceVersion, Rates, ServiceTier};
pub use units::{ImagePrices, ImageQuality, ImageSize, UnitPrice, UnitPriceParseError, UnitRates};
