//! The catalog and custom prices.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Prices of a model, per million tokens, as a client sets them: each a decimal string
/// (`"2.50"`, exact) or a JSON number, non-negative, at most 6 decimals.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PriceFields {
    /// Uncached input.
    #[schema(schema_with = rate_schema)]
    pub input_per_mtok_usd: serde_json::Value,
    /// Output.
    #[schema(schema_with = rate_schema)]
    pub output_per_mtok_usd: serde_json::Value,
    /// Cache reads (default: the input rate).
    #[schema(schema_with = optional_rate_schema)]
    pub cached_input_per_mtok_usd: Option<serde_json::Value>,
    /// Cache writes (default: the input rate).
    #[schema(schema_with = optional_rate_schema)]
    pub cache_write_per_mtok_usd: Option<serde_json::Value>,
    /// Batch API discount, percent.
    #[schema(minimum = 0, maximum = 100)]
    pub batch_discount_pct: Option<i64>,
}

/// A rate in a request: a decimal string or a number.
fn rate_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::Schema::OneOf(rate_one_of())
}

fn rate_one_of() -> utoipa::openapi::schema::OneOf {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^ *([0-9]{1,7}(\.[0-9]{0,6})?|\.[0-9]{1,6}) *$")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0.0))
                .maximum(Some(9_999_999.0))
                .multiple_of(Some(0.000_001)),
        )
        .description(Some("USD per million tokens: a decimal string or a number"))
        .build()
}

/// [`rate_schema`] or null.
fn optional_rate_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut schema = rate_one_of();
    schema
        .items
        .push(ObjectBuilder::new().schema_type(Type::Null).into());
    utoipa::openapi::schema::Schema::OneOf(schema)
}

/// Prices of a model, per million tokens, as the API returns them (JSON numbers, exact
/// to the micro-dollar).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriceRates {
    /// Uncached input.
    #[schema(value_type = f64)]
    pub input_per_mtok_usd: serde_json::Value,
    /// Output.
    #[schema(value_type = f64)]
    pub output_per_mtok_usd: serde_json::Value,
    /// Cache reads.
    #[schema(value_type = Option<f64>)]
    pub cached_input_per_mtok_usd: Option<serde_json::Value>,
    /// Cache writes.
    #[schema(value_type = Option<f64>)]
    pub cache_write_per_mtok_usd: Option<serde_json::Value>,
    /// Batch API discount, percent.
    pub batch_discount_pct: Option<i64>,
}

/// A long-context tier.
#[derive(Debug, Serialize, ToSchema)]
pub struct TierOut {
    /// Prompt tokens above which the whole request uses these rates.
    pub threshold_tokens: u64,
    /// Input rate.
    #[schema(value_type = f64)]
    pub input_per_mtok_usd: serde_json::Value,
    /// Output rate.
    #[schema(value_type = f64)]
    pub output_per_mtok_usd: serde_json::Value,
    /// Cache-read rate.
    #[schema(value_type = Option<f64>)]
    pub cached_input_per_mtok_usd: Option<serde_json::Value>,
}

/// A catalog model.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogModel {
    /// Canonical name.
    pub model: String,
    /// Other names.
    pub aliases: Vec<String>,
    /// Dated snapshots covered.
    pub snapshots: Vec<String>,
    /// Input rate.
    #[schema(value_type = f64)]
    pub input_per_mtok_usd: serde_json::Value,
    /// Output rate.
    #[schema(value_type = f64)]
    pub output_per_mtok_usd: serde_json::Value,
    /// Cache-read rate.
    #[schema(value_type = Option<f64>)]
    pub cached_input_per_mtok_usd: Option<serde_json::Value>,
    /// Cache-write rate.
    #[schema(value_type = Option<f64>)]
    pub cache_write_per_mtok_usd: Option<serde_json::Value>,
    /// Batch discount, percent.
    pub batch_discount_pct: Option<u8>,
    /// Long-context tiers.
    pub tiers: Vec<TierOut>,
    /// First day of the current price.
    pub effective_from: NaiveDate,
    /// Where the price is published.
    pub source: String,
    /// When it was checked.
    pub checked: NaiveDate,
    /// Context window.
    pub context_window: Option<u64>,
    /// Tier (`flagship`, `mid`, `small`, `reasoning`).
    pub tier: String,
    /// Retired.
    pub deprecated: bool,
}

/// A provider's models.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogProvider {
    /// Provider id.
    pub provider: String,
    /// Its models.
    pub models: Vec<CatalogModel>,
}

/// The catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogOut {
    /// Providers.
    pub providers: Vec<CatalogProvider>,
}

/// Custom pricing for one model.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomPriceOut {
    /// Provider id.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Rates.
    #[serde(flatten)]
    pub prices: PriceRates,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// `{prices: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomPriceList {
    /// The user's custom prices.
    pub prices: Vec<CustomPriceOut>,
}
