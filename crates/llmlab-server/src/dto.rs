//! Request and response bodies of the HTTP contract (API.md). Field names here are the
//! contract; domain types live in the engine and store.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_engine::Usd;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::KeyScope;

/// `{email, password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    /// Email address (case-insensitive).
    pub email: String,
    /// At least 8 characters.
    pub password: String,
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// User id.
    pub id: i64,
    /// Email, lower-cased.
    pub email: String,
    /// Sign-up time.
    pub created_at: DateTime<Utc>,
}

/// A session.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    /// Session token (JWT).
    pub token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Expiry of `token`.
    pub expires_at: DateTime<Utc>,
    /// The user.
    pub user: UserOut,
}

/// `{name}` of a new API key.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewKeyRequest {
    /// A label for the key.
    pub name: String,
    /// What the key may do (default `["ingest"]`). No key can manage the account.
    pub scopes: Option<Vec<KeyScope>>,
}

/// A freshly created API key: `key` is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// Key id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// The secret key; store it now, it is never shown again.
    pub key: String,
    /// First characters, to recognise the key later.
    pub prefix: String,
    /// What the key may do.
    pub scopes: Vec<KeyScope>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An API key as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    /// Key id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// First characters of the key.
    pub prefix: String,
    /// What the key may do.
    pub scopes: Vec<KeyScope>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last time the key authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `{keys: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// The user's keys.
    pub keys: Vec<KeyOut>,
}

/// One LLM call.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TrackEvent {
    /// Provider id from the catalog (`openai`, `anthropic`, `google`, …).
    pub provider: String,
    /// Model as the provider's API names it; resolved through aliases and snapshots.
    pub model: String,
    /// Every prompt token, cached ones included.
    pub input_tokens: i64,
    /// Every output token, reasoning included.
    pub output_tokens: i64,
    /// Cache-read tokens (part of `input_tokens`).
    pub cached_input_tokens: Option<i64>,
    /// Cache-write tokens (part of `input_tokens`).
    pub cache_write_tokens: Option<i64>,
    /// Reasoning tokens (part of `output_tokens`).
    pub reasoning_tokens: Option<i64>,
    /// Sent through the provider's batch API.
    pub batch: Option<bool>,
    /// A known cost that overrides the catalog.
    #[schema(value_type = Option<f64>)]
    pub cost_usd: Option<Usd>,
    /// RFC 3339; default now.
    pub timestamp: Option<String>,
    /// Call latency.
    pub latency_ms: Option<i64>,
    /// String tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Idempotency key, unique per user.
    pub event_id: Option<String>,
}

/// A stored event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Event id.
    pub id: i64,
    /// Provider id.
    pub provider: String,
    /// Model as sent.
    pub model: String,
    /// Catalog name the model resolved to.
    pub resolved_model: String,
    /// Every prompt token.
    pub input_tokens: i64,
    /// Every output token.
    pub output_tokens: i64,
    /// Cache-read tokens.
    pub cached_input_tokens: i64,
    /// Cache-write tokens.
    pub cache_write_tokens: i64,
    /// Reasoning tokens.
    pub reasoning_tokens: i64,
    /// Batch API call.
    pub batch: bool,
    /// The cost, exact to the nano-dollar.
    #[schema(value_type = f64)]
    pub cost_usd: Usd,
    /// `catalog`, `custom_pricing` or `client`.
    pub cost_source: String,
    /// First day of the price version used.
    pub price_effective_from: Option<NaiveDate>,
    /// When the call happened.
    pub timestamp: DateTime<Utc>,
    /// Call latency.
    pub latency_ms: Option<i64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Idempotency key.
    pub event_id: Option<String>,
}

/// `{events: [...]}`, up to 1000.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchRequest {
    /// The events; each is validated on its own.
    #[schema(value_type = Vec<TrackEvent>)]
    pub events: Vec<Box<serde_json::value::RawValue>>,
}

/// Outcome of one batch item.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// Position in the request.
    pub index: usize,
    /// `accepted`, `duplicate` or `rejected`.
    pub status: &'static str,
    /// Stored event id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Why it was rejected (`{code, message, details}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
}

/// Batch outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// Items stored.
    pub accepted: usize,
    /// Items whose `event_id` was already stored.
    pub duplicates: usize,
    /// Items rejected.
    pub rejected: usize,
    /// Per item, in request order.
    pub results: Vec<BatchItem>,
}

/// Filters shared by event listing, export and cost reports.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterQuery {
    /// RFC 3339 or `YYYY-MM-DD` (inclusive).
    pub start: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD` (a date includes that whole day).
    pub end: Option<String>,
    /// Provider id.
    pub provider: Option<String>,
    /// Model (resolved name or as sent).
    pub model: Option<String>,
    /// Page size (events: default 50, max 1000; top-models: default 10).
    pub limit: Option<String>,
    /// Keyset cursor from `next_cursor`.
    pub cursor: Option<String>,
    /// `hour|day|week|month` (summary).
    pub granularity: Option<String>,
    /// IANA time zone (summary), default UTC.
    pub tz: Option<String>,
    /// Tag key (by-tag).
    pub key: Option<String>,
    /// `csv` (export).
    pub format: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Newest first.
    pub events: Vec<EventOut>,
    /// Cursor of the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// One bucket of the summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct DateRow {
    /// Bucket label (`YYYY-MM-DD`, or an RFC 3339 hour).
    pub date: String,
    /// Spend.
    #[schema(value_type = f64)]
    pub cost_usd: Usd,
    /// Calls.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
}

/// Cost summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    /// Range start.
    pub start: DateTime<Utc>,
    /// Range end (exclusive).
    pub end: DateTime<Utc>,
    /// Total spend; equals the sum of `by_date`.
    #[schema(value_type = f64)]
    pub total_cost_usd: Usd,
    /// Calls.
    pub total_calls: u64,
    /// Input tokens.
    pub total_input_tokens: u64,
    /// Output tokens.
    pub total_output_tokens: u64,
    /// Mean cost per call.
    #[schema(value_type = f64)]
    pub avg_cost_per_call_usd: Usd,
    /// Bucket granularity.
    pub granularity: String,
    /// Time zone of the buckets.
    pub tz: String,
    /// Spend per bucket.
    pub by_date: Vec<DateRow>,
}

/// Spend of one provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderRow {
    /// Provider id.
    pub provider: String,
    /// Spend.
    #[schema(value_type = f64)]
    pub cost_usd: Usd,
    /// Calls.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Share of the total spend, percent.
    pub share: f64,
}

/// `{providers: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    /// Costliest first.
    pub providers: Vec<ProviderRow>,
}

/// Spend of one model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelRow {
    /// Provider id.
    pub provider: String,
    /// Resolved model name.
    pub model: String,
    /// Spend.
    #[schema(value_type = f64)]
    pub cost_usd: Usd,
    /// Calls.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Mean cost per call.
    #[schema(value_type = f64)]
    pub avg_cost_per_call_usd: Usd,
}

/// `{models: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Costliest first.
    pub models: Vec<ModelRow>,
}

/// Spend of one tag value.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagRow {
    /// Tag value.
    pub value: String,
    /// Spend.
    #[schema(value_type = f64)]
    pub cost_usd: Usd,
    /// Calls.
    pub calls: u64,
}

/// `{key, values: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    /// Tag key.
    pub key: String,
    /// Costliest first.
    pub values: Vec<TagRow>,
}

/// Per-bucket cost of an estimate.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownOut {
    /// Uncached input.
    #[schema(value_type = f64)]
    pub input_usd: Usd,
    /// Cache reads.
    #[schema(value_type = f64)]
    pub cached_input_usd: Usd,
    /// Cache writes.
    #[schema(value_type = f64)]
    pub cache_write_usd: Usd,
    /// Output, reasoning included.
    #[schema(value_type = f64)]
    pub output_usd: Usd,
}

/// A cost estimate.
#[derive(Debug, Serialize, ToSchema)]
pub struct Estimate {
    /// Total; equals the sum of the breakdown.
    #[schema(value_type = f64)]
    pub cost_usd: Usd,
    /// Catalog model used.
    pub resolved_model: String,
    /// `catalog`, `custom_pricing` or `client`.
    pub cost_source: String,
    /// Per bucket.
    pub breakdown: BreakdownOut,
}

/// `scope` of a budget.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ScopeDto {
    /// Only this provider's spend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Only this model's spend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Only spend tagged `key:value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Create or update a budget.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BudgetIn {
    /// Update this budget.
    pub id: Option<i64>,
    /// Name, unique per user (an existing name updates that budget).
    pub name: String,
    /// Amount per period, > 0.
    #[schema(value_type = f64)]
    pub amount_usd: Usd,
    /// `daily`, `weekly`, `monthly` or `total`.
    pub period: String,
    /// What spend counts.
    pub scope: Option<ScopeDto>,
    /// Warning level, percent of the amount (1–100, default 80).
    pub alert_threshold_pct: Option<i64>,
    /// http(s) URL that receives alerts.
    pub webhook_url: Option<String>,
    /// IANA zone of the period's calendar boundaries (default UTC).
    pub timezone: Option<String>,
}

/// A budget with its live status.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetOut {
    /// Budget id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Amount per period.
    #[schema(value_type = f64)]
    pub amount_usd: Usd,
    /// Period.
    pub period: String,
    /// Scope.
    pub scope: ScopeDto,
    /// Warning level, percent.
    pub alert_threshold_pct: i64,
    /// Alert receiver.
    pub webhook_url: Option<String>,
    /// Zone of the period boundaries.
    pub timezone: String,
    /// Spend in the current period and scope.
    #[schema(value_type = f64)]
    pub spent_usd: Usd,
    /// Amount left (never negative).
    #[schema(value_type = f64)]
    pub remaining_usd: Usd,
    /// Spent / amount, percent.
    pub percent_used: f64,
    /// `ok`, `warning` or `exceeded`.
    pub status: String,
    /// Current period start (null for `total`).
    pub period_start: Option<DateTime<Utc>>,
    /// Current period end (null for `total`).
    pub period_end: Option<DateTime<Utc>>,
    /// Linear projection of spend at period end (null for `total`).
    #[schema(value_type = Option<f64>)]
    pub forecast_usd: Option<Usd>,
    /// How `forecast_usd` was computed.
    pub forecast_method: &'static str,
}

/// `{budgets: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetList {
    /// The user's budgets.
    pub budgets: Vec<BudgetOut>,
}

/// Pre-flight query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckQuery {
    /// Provider of the intended call.
    pub provider: Option<String>,
    /// Model of the intended call.
    pub model: Option<String>,
    /// A tag of the intended call, `key:value`.
    pub tag: Option<String>,
}

/// One budget in a pre-flight answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBudget {
    /// Budget id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Status.
    pub status: String,
    /// Amount left.
    #[schema(value_type = f64)]
    pub remaining_usd: Usd,
}

/// Pre-flight answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    /// False when any budget covering the call is exceeded.
    pub allowed: bool,
    /// Budgets whose scope covers the call.
    pub budgets: Vec<CheckBudget>,
}

/// A recorded alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOut {
    /// Alert id.
    pub id: i64,
    /// `warning` or `exceeded`.
    pub level: String,
    /// Start of the period it belongs to.
    pub period_start: Option<DateTime<Utc>>,
    /// Spend when it fired.
    #[schema(value_type = f64)]
    pub spent_usd: Usd,
    /// Budget amount.
    #[schema(value_type = f64)]
    pub amount_usd: Usd,
    /// When it fired.
    pub created_at: DateTime<Utc>,
    /// Webhook delivery: `none` (no webhook), `pending`, `delivering`, `delivered`,
    /// `failed` (attempts exhausted) or `cancelled` (webhook removed).
    pub delivery_status: String,
    /// Delivery attempts.
    pub attempts: i64,
    /// Last delivery error.
    pub last_error: Option<String>,
    /// When the next attempt is due (a retry), or the current attempt's lease ends.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first.
    pub deliveries: Vec<DeliveryOut>,
}

/// One webhook delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    /// 1 for the first attempt.
    pub attempt: i32,
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
    /// Where it was sent.
    pub url: String,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Whether the receiver acknowledged it with a 2xx.
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// How to verify webhook deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecret {
    /// This user's signing secret.
    pub secret: String,
    /// The header carrying the signature.
    pub header: &'static str,
    /// How the signature is computed.
    pub scheme: &'static str,
}

/// `{alerts: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    /// Newest first.
    pub alerts: Vec<AlertOut>,
}

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

/// Health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// `ok` or `unreachable`.
    pub database: &'static str,
    /// The event writer thread: `ok` or `stopped`.
    pub writer: &'static str,
    /// Groups of events the writer failed on with a panic since start (their requests
    /// got 500s; the writer went on).
    pub writer_failed_groups: u64,
}

/// Query of the recommendation endpoints.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecsQuery {
    /// Days judged for anomalies, and the window whose token mix is repriced (default 30,
    /// 1–365).
    #[param(minimum = 1, maximum = 365)]
    pub days: Option<u32>,
    /// Anomalies: report days scoring at or above this (default 2.5).
    #[param(minimum = 0.5, maximum = 100.0)]
    pub threshold: Option<f64>,
    /// Anomalies: `zscore` (mean and standard deviation, default) or `robust` (median and
    /// scaled MAD).
    #[param(pattern = "^(zscore|robust)?$")]
    pub method: Option<String>,
}

/// Query of the model-switching endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SwitchQuery {
    /// The window whose token mix is repriced (default 30, 1–365).
    #[param(minimum = 1, maximum = 365)]
    pub days: Option<u32>,
}

/// What drove an anomaly.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriverOut {
    /// `model`, `provider` or `tag`.
    pub dimension: &'static str,
    /// `openai/gpt-4o`, `openai` or `team:growth`.
    pub label: String,
    /// Its spend that day.
    #[schema(value_type = f64)]
    pub cost_usd: Usd,
    /// Its mean daily spend over the baseline days.
    #[schema(value_type = f64)]
    pub baseline_usd: Usd,
    /// `cost_usd − baseline_usd`.
    #[schema(value_type = f64)]
    pub excess_usd: Usd,
    /// Its part of its group's excess (models, providers, or one tag key), percent.
    pub share_pct: f64,
}

/// One abnormal day.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnomalyOut {
    /// UTC day.
    pub date: NaiveDate,
    /// Its spend.
    #[schema(value_type = f64)]
    pub cost_usd: Usd,
    /// Baseline mean (median for `robust`).
    #[schema(value_type = f64)]
    pub mean_usd: Usd,
    /// Baseline sample standard deviation (scaled MAD for `robust`).
    #[schema(value_type = f64)]
    pub stddev_usd: Usd,
    /// `cost_usd − mean_usd`.
    #[schema(value_type = f64)]
    pub excess_usd: Usd,
    /// Score against the trailing baseline (the judged day excluded), 2 decimals.
    pub z_score: f64,
    /// Score against the same weekday of earlier weeks, when 4+ weeks exist.
    pub seasonal_z_score: Option<f64>,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// `zscore` or `robust`.
    pub method: &'static str,
    /// Days in the baseline.
    pub baseline_days: u32,
    /// Models, providers and tag values whose spend rose most, largest first per group.
    pub drivers: Vec<DriverOut>,
}

impl From<&llmlab_recs::Anomaly> for AnomalyOut {
    fn from(a: &llmlab_recs::Anomaly) -> AnomalyOut {
        AnomalyOut {
            date: a.date,
            cost_usd: a.cost,
            mean_usd: a.mean,
            stddev_usd: a.stddev,
            excess_usd: a.excess,
            z_score: a.z_score,
            seasonal_z_score: a.seasonal_z_score,
            severity: enum_name(&a.severity),
            method: method_name(a.method),
            baseline_days: a.baseline_days,
            drivers: a
                .drivers
                .iter()
                .map(|d| DriverOut {
                    dimension: d.dimension.kind(),
                    label: d.dimension.label(),
                    cost_usd: d.cost,
                    baseline_usd: d.baseline,
                    excess_usd: d.excess,
                    share_pct: d.share_pct,
                })
                .collect(),
        }
    }
}

/// The API's name of an anomaly scoring method (the `method` query parameter's values).
pub fn method_name(m: llmlab_recs::Method) -> &'static str {
    match m {
        llmlab_recs::Method::ZScore => "zscore",
        llmlab_recs::Method::Robust => "robust",
    }
}

/// The snake_case name serde gives a unit enum variant.
fn enum_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `GET /api/recommendations/anomalies`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnomalyList {
    /// In date order.
    pub anomalies: Vec<AnomalyOut>,
    /// Days judged (ending today, UTC).
    pub days: u32,
    /// Reporting threshold.
    pub threshold: f64,
    /// `zscore` or `robust`.
    pub method: &'static str,
}

/// A cheaper model for the same work.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelSwitchOut {
    /// Provider of the model in use.
    pub provider: String,
    /// Model in use (catalog name).
    pub current_model: String,
    /// Provider of the suggestion.
    pub suggested_provider: String,
    /// Suggested model.
    pub suggested_model: String,
    /// The window's token mix at the current model's current price, per 30 days.
    #[schema(value_type = f64)]
    pub current_monthly_cost_usd: Usd,
    /// The same mix at the suggested model's price, per 30 days.
    #[schema(value_type = f64)]
    pub projected_monthly_cost_usd: Usd,
    /// Difference.
    #[schema(value_type = f64)]
    pub monthly_savings_usd: Usd,
    /// Savings as a percentage of the current cost.
    pub savings_pct: f64,
    /// `same_tier_newer` or `lower_tier`.
    pub relation: String,
    /// Why this model (a lower tier starts with "lower capability: ").
    pub rationale: String,
    /// The token sums, prices and context check the projection used.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

impl From<&llmlab_recs::ModelSwitch> for ModelSwitchOut {
    fn from(s: &llmlab_recs::ModelSwitch) -> ModelSwitchOut {
        ModelSwitchOut {
            provider: s.provider.clone(),
            current_model: s.current_model.clone(),
            suggested_provider: s.suggested_provider.clone(),
            suggested_model: s.suggested_model.clone(),
            current_monthly_cost_usd: s.current_monthly_cost,
            projected_monthly_cost_usd: s.projected_monthly_cost,
            monthly_savings_usd: s.monthly_savings,
            savings_pct: s.savings_pct,
            relation: enum_name(&s.relation),
            rationale: s.rationale.clone(),
            evidence: serde_json::to_value(&s.evidence).unwrap_or_default(),
        }
    }
}

/// `GET /api/recommendations/model-switching`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelSwitchList {
    /// Same-tier suggestions first, then by savings.
    pub recommendations: Vec<ModelSwitchOut>,
    /// Days of traffic repriced.
    pub window_days: u32,
}

/// A change in how a model is used, priced from this user's data.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptimizationOut {
    /// `prompt_caching`, `batch_api`, `output_heavy` or `long_context_surcharge`.
    pub kind: String,
    /// Provider.
    pub provider: String,
    /// Model (catalog name).
    pub model: String,
    /// Short title.
    pub title: String,
    /// What to do and why.
    pub description: String,
    /// Per 30 days.
    #[schema(value_type = f64)]
    pub estimated_monthly_savings_usd: Usd,
    /// The token sums, prices and assumptions the estimate used.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

impl From<&llmlab_recs::Optimization> for OptimizationOut {
    fn from(o: &llmlab_recs::Optimization) -> OptimizationOut {
        OptimizationOut {
            kind: enum_name(&o.kind),
            provider: o.provider.clone(),
            model: o.model.clone(),
            title: o.title.clone(),
            description: o.description.clone(),
            estimated_monthly_savings_usd: o.estimated_monthly_savings,
            evidence: serde_json::to_value(&o.evidence).unwrap_or_default(),
        }
    }
}

/// `GET /api/recommendations`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recommendations {
    /// Abnormal days.
    pub anomalies: Vec<AnomalyOut>,
    /// Cheaper models.
    pub model_switches: Vec<ModelSwitchOut>,
    /// Usage changes.
    pub optimizations: Vec<OptimizationOut>,
    /// Per model the larger of its best switch and its tips together, summed: no spend
    /// counted twice.
    #[schema(value_type = f64)]
    pub total_potential_monthly_savings_usd: Usd,
    /// Days of traffic the savings were projected from.
    pub window_days: u32,
    /// When this was computed.
    pub generated_at: DateTime<Utc>,
}
