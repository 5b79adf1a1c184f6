//! The catalog and custom prices.

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_app::{CustomPriceRow, NewCustomPrice};
use llmlab_engine::providers::{Catalog, Rates};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use llmlab_app::{AppError, pricing};

use super::price_schema::{optional_rate_schema, optional_unit_schema, rate_schema};

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
    /// 1-hour cache writes (absent: such tokens are refused for this model).
    #[schema(schema_with = optional_rate_schema)]
    pub cache_write_1h_per_mtok_usd: Option<serde_json::Value>,
    /// Audio input (absent: audio input tokens are refused for this model).
    #[schema(schema_with = optional_rate_schema)]
    pub input_audio_per_mtok_usd: Option<serde_json::Value>,
    /// Audio output (absent: audio output tokens are refused for this model).
    #[schema(schema_with = optional_rate_schema)]
    pub output_audio_per_mtok_usd: Option<serde_json::Value>,
    /// USD a minute of audio transcribed, billed by the second (absent: refused).
    #[schema(schema_with = optional_unit_schema)]
    pub audio_input_minute_usd: Option<serde_json::Value>,
    /// USD a character of speech (absent: refused).
    #[schema(schema_with = optional_unit_schema)]
    pub output_character_usd: Option<serde_json::Value>,
    /// USD a web search call (absent: refused).
    #[schema(schema_with = optional_unit_schema)]
    pub web_search_call_usd: Option<serde_json::Value>,
    /// USD a code session (absent: refused).
    #[schema(schema_with = optional_unit_schema)]
    pub code_session_usd: Option<serde_json::Value>,
    /// The first day (UTC, `YYYY-MM-DD`) this revision prices; absent: every day, until
    /// a later-dated revision. Each PUT is a new revision; none is overwritten.
    #[schema(value_type = Option<String>, format = Date)]
    pub effective_from: Option<String>,
}

impl PriceFields {
    /// The revision these fields set for `provider`/`model`: each rate, a JSON number or
    /// a decimal string, read as the text it is, so the API and the dashboard's form
    /// meet one set of rules ([`pricing::revision`]).
    pub fn into_revision(
        self,
        provider: String,
        model: String,
    ) -> Result<NewCustomPrice, AppError> {
        let text = |field: &str, v: Value| match v {
            Value::Number(n) => Ok(n.to_string()),
            Value::String(s) => Ok(s),
            _ => Err(AppError::invalid(
                field,
                "must be a number of USD per million tokens",
            )),
        };
        let optional = |field: &str, v: Option<Value>| match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => text(field, v).map(Some),
        };
        let form = pricing::RevisionForm {
            input: text("input_per_mtok_usd", self.input_per_mtok_usd)?,
            output: text("output_per_mtok_usd", self.output_per_mtok_usd)?,
            cached_input: optional("cached_input_per_mtok_usd", self.cached_input_per_mtok_usd)?,
            cache_write: optional("cache_write_per_mtok_usd", self.cache_write_per_mtok_usd)?,
            batch_discount_pct: self.batch_discount_pct,
            cache_write_1h: optional(
                "cache_write_1h_per_mtok_usd",
                self.cache_write_1h_per_mtok_usd,
            )?,
            input_audio: optional("input_audio_per_mtok_usd", self.input_audio_per_mtok_usd)?,
            output_audio: optional("output_audio_per_mtok_usd", self.output_audio_per_mtok_usd)?,
            audio_input_minute: optional("audio_input_minute_usd", self.audio_input_minute_usd)?,
            output_character: optional("output_character_usd", self.output_character_usd)?,
            web_search_call: optional("web_search_call_usd", self.web_search_call_usd)?,
            code_session: optional("code_session_usd", self.code_session_usd)?,
            effective_from: self.effective_from,
        };
        pricing::revision(provider, model, form)
    }
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
    /// Cache writes (5-minute).
    #[schema(value_type = Option<f64>)]
    pub cache_write_per_mtok_usd: Option<serde_json::Value>,
    /// Batch API discount, percent.
    pub batch_discount_pct: Option<i64>,
    /// 1-hour cache writes; absent when the price has none (such tokens are refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub cache_write_1h_per_mtok_usd: Option<serde_json::Value>,
    /// Audio input; absent when the price has none (audio tokens are refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub input_audio_per_mtok_usd: Option<serde_json::Value>,
    /// Audio output; absent when the price has none (audio tokens are refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub output_audio_per_mtok_usd: Option<serde_json::Value>,
    /// USD per image by size and quality (`[{size, quality, usd}]`); absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub images: Option<serde_json::Value>,
    /// USD a minute of audio in; absent when the price has none (refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub audio_input_minute_usd: Option<serde_json::Value>,
    /// USD a character of speech; absent when the price has none (refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub output_character_usd: Option<serde_json::Value>,
    /// USD a web search call; absent when the price has none (refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub web_search_call_usd: Option<serde_json::Value>,
    /// USD a code session; absent when the price has none (refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub code_session_usd: Option<serde_json::Value>,
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
    /// Current rates.
    #[serde(flatten)]
    pub prices: PriceRates,
    /// Long-context tiers.
    pub tiers: Vec<TierOut>,
    /// The service tiers priced (`standard`, `batch`, `flex`, `priority`).
    pub service_tiers: Vec<String>,
    /// Flex rates, where published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flex: Option<PriceRates>,
    /// Priority rates, where published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<PriceRates>,
    /// First day of the current price.
    pub effective_from: NaiveDate,
    /// Where the price is published.
    pub source: String,
    /// When it was checked.
    pub checked: NaiveDate,
    /// Context window.
    pub context_window: Option<u64>,
    /// Tier (`flagship`, `mid`, `small`, `reasoning`, `embedding`).
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
    /// When this revision was set.
    pub updated_at: DateTime<Utc>,
    /// The revision (events priced by it say so in their `price_ref`).
    pub revision: i64,
    /// The first day it prices; `null`: every day until a later-dated revision.
    pub effective_from: Option<chrono::NaiveDate>,
}

/// `{prices: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomPriceList {
    /// Every live revision, by provider, model and revision.
    pub prices: Vec<CustomPriceOut>,
}

/// A model with events stored without a price.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnpricedModelOut {
    /// Provider id.
    pub provider: String,
    /// The model as sent.
    pub model: String,
    /// Its unpriced calls.
    pub calls: i64,
    /// Their input tokens.
    pub input_tokens: i64,
    /// Their output tokens.
    pub output_tokens: i64,
    /// The first one.
    pub first_seen: DateTime<Utc>,
    /// The last one.
    pub last_seen: DateTime<Utc>,
}

/// `{models: [...]}`: what needs a price, most calls first.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnpricedList {
    /// At most 1,000 models.
    pub models: Vec<UnpricedModelOut>,
}

/// What to re-price.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RepriceRequest {
    /// RFC 3339 or `YYYY-MM-DD` (inclusive); absent: from the first event.
    pub start: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD` (a date includes that day); absent: to the last event.
    pub end: Option<String>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this (resolved) model.
    pub model: Option<String>,
    /// Only report what would change (the default); `false` applies it.
    pub dry_run: Option<bool>,
}

// `RepriceModelOut`, `RepriceOut` and `RepriceRunOut` each list the cost change
// (`events_changed` to `delta_usd`) instead of flattening one shared struct: utoipa
// draws a flattened field as an `allOf`, and these schemas are published flat.
/// A re-pricing's figures for one model.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepriceModelOut {
    /// Provider id.
    pub provider: String,
    /// Resolved model.
    pub model: String,
    /// Events whose price changed (or would).
    pub events_changed: i64,
    /// Their cost before.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub old_cost_usd: llmlab_engine::Usd,
    /// Their cost after.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub new_cost_usd: llmlab_engine::Usd,
    /// After minus before.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub delta_usd: llmlab_engine::Usd,
}

/// What a re-pricing found or did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepriceOut {
    /// The recorded run (applied runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Events in the range.
    pub events_matched: i64,
    /// Events whose price changed (or would).
    pub events_changed: i64,
    /// Their cost before.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub old_cost_usd: llmlab_engine::Usd,
    /// Their cost after.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub new_cost_usd: llmlab_engine::Usd,
    /// After minus before.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub delta_usd: llmlab_engine::Usd,
    /// Per model, most changed first.
    pub by_model: Vec<RepriceModelOut>,
    /// How many times the workspace's prices changed while the run went through its
    /// events; each time it started over with the new ones, so it ends with the newest.
    /// Its figures then add up every pass's changes (`delta_usd` is still the net).
    pub price_changes_met: u32,
    /// Events before this instant were deleted by retention: re-pricing cannot reach
    /// them, and reports over that time keep the prices they were stored with. Null when
    /// retention never deleted anything.
    pub retained_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// A recorded re-pricing run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepriceRunOut {
    /// Run id.
    pub id: i64,
    /// `running`, `done` or `failed` (a run interrupted by a crash stays `running`;
    /// running it again finishes it).
    pub status: String,
    /// Who ran it: `{kind: "user", id, label}`.
    pub actor: crate::dto::AuditActor,
    /// What it was asked.
    #[schema(value_type = Object)]
    pub scope: serde_json::Value,
    /// Events in the range.
    pub events_matched: i64,
    /// Events changed.
    pub events_changed: i64,
    /// Their cost before.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub old_cost_usd: llmlab_engine::Usd,
    /// Their cost after.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub new_cost_usd: llmlab_engine::Usd,
    /// After minus before.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub delta_usd: llmlab_engine::Usd,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: Option<DateTime<Utc>>,
}

/// `{runs: [...]}`, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepriceRunList {
    /// The last 100 runs.
    pub runs: Vec<RepriceRunOut>,
}

/// A rate as a JSON number with its published digits.
fn rate_json(r: impl std::fmt::Display) -> Value {
    r.to_string()
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The rates of a price as the API shows them.
fn price_fields(r: &Rates, batch: Option<i32>) -> PriceRates {
    PriceRates {
        input_per_mtok_usd: rate_json(r.input),
        output_per_mtok_usd: rate_json(r.output),
        cached_input_per_mtok_usd: r.cached_input.map(rate_json),
        cache_write_per_mtok_usd: r.cache_write.map(rate_json),
        batch_discount_pct: batch.map(i64::from),
        cache_write_1h_per_mtok_usd: r.cache_write_1h.map(rate_json),
        input_audio_per_mtok_usd: r.input_audio.map(rate_json),
        output_audio_per_mtok_usd: r.output_audio.map(rate_json),
        images: (!r.units.images.is_empty())
            .then(|| serde_json::to_value(r.units.images).unwrap_or(Value::Null)),
        audio_input_minute_usd: r.units.audio_input_minute.map(rate_json),
        output_character_usd: r.units.output_character.map(rate_json),
        web_search_call_usd: r.units.web_search_call.map(rate_json),
        code_session_usd: r.units.code_session.map(rate_json),
    }
}

impl From<&Catalog> for CatalogOut {
    fn from(catalog: &Catalog) -> Self {
        let providers = catalog
            .providers()
            .iter()
            .map(|p| CatalogProvider {
                provider: p.id.clone(),
                models: p
                    .models()
                    .iter()
                    .map(|m| {
                        let v = m.current_price();
                        CatalogModel {
                            model: m.name.clone(),
                            aliases: m.aliases.clone(),
                            snapshots: m.snapshots.clone(),
                            prices: price_fields(&v.rates, v.batch_discount_pct.map(i32::from)),
                            tiers: v
                                .long_context
                                .iter()
                                .map(|t| TierOut {
                                    threshold_tokens: t.threshold_tokens,
                                    input_per_mtok_usd: rate_json(t.rates.input),
                                    output_per_mtok_usd: rate_json(t.rates.output),
                                    cached_input_per_mtok_usd: t.rates.cached_input.map(rate_json),
                                })
                                .collect(),
                            service_tiers: v.tiers().iter().map(|t| t.to_string()).collect(),
                            flex: v.flex.as_ref().map(|r| price_fields(r, None)),
                            priority: v.priority.as_ref().map(|r| price_fields(r, None)),
                            effective_from: v.effective_from,
                            source: v.source.clone(),
                            checked: v.checked,
                            context_window: m.context_window,
                            tier: format!("{:?}", m.tier).to_lowercase(),
                            deprecated: m.deprecated,
                        }
                    })
                    .collect(),
            })
            .collect();
        CatalogOut { providers }
    }
}

impl From<CustomPriceRow> for CustomPriceOut {
    fn from(c: CustomPriceRow) -> Self {
        let r = llmlab_app::ingest::custom_rates(&c);
        let revision = c.revision();
        CustomPriceOut {
            prices: price_fields(&r, c.price.batch_discount_pct),
            provider: c.price.provider,
            model: c.price.model,
            updated_at: c.updated_at.and_utc(),
            revision,
            effective_from: c.price.effective_from,
        }
    }
}
