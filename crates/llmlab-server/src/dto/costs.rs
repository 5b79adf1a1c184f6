//! Cost reports and estimates.

use chrono::{DateTime, Utc};
use llmlab_app::fx::Amount;
use llmlab_app::{GroupTotals, ModelTotals};
use llmlab_engine::Usd;

use super::FxRateUsed;
use llmlab_engine::aggregate::share_pct;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use llmlab_app::reports::totals;

/// A store count (never negative) on the wire.
pub(super) fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl ProviderRow {
    /// The provider's row, its share of `total` (every provider's spend).
    pub fn new(r: &GroupTotals, total: Usd) -> ProviderRow {
        let t = totals(
            r.sums.cost_nanos,
            r.sums.calls,
            r.sums.input_tokens,
            r.sums.output_tokens,
        );
        ProviderRow {
            provider: r.provider.clone(),
            share: share_pct(t.cost, total),
            cost_usd: t.cost,
            calls: t.calls,
            input_tokens: unsigned(t.tokens.input),
            output_tokens: unsigned(t.tokens.output),
            unpriced_calls: unsigned(r.sums.unpriced_calls),
            cost: None,
        }
    }
}

impl From<&ModelTotals> for ModelRow {
    fn from(r: &ModelTotals) -> ModelRow {
        let t = totals(
            r.sums.cost_nanos,
            r.sums.calls,
            r.sums.input_tokens,
            r.sums.output_tokens,
        );
        ModelRow {
            provider: r.provider.clone(),
            model: r.model.clone(),
            avg_cost_per_call_usd: t.avg_cost_per_call(),
            cost_usd: t.cost,
            calls: t.calls,
            input_tokens: unsigned(t.tokens.input),
            output_tokens: unsigned(t.tokens.output),
            unpriced_calls: unsigned(r.sums.unpriced_calls),
            cost: None,
        }
    }
}

/// Spend of one provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderRow {
    /// Provider id.
    pub provider: String,
    /// Spend.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// Calls.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Calls stored without a price.
    pub unpriced_calls: u64,
    /// Share of the total spend, percent.
    pub share: f64,
    /// Spend in `currency`, when one was asked for.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
}

/// Each group's row, made by `row` with the group and the groups' total spend (for its
/// share): the breakdowns by provider and by API key.
pub fn with_shares<R, T>(
    groups: &[R],
    cost_nanos: impl Fn(&R) -> i64,
    row: impl Fn(&R, Usd) -> T,
) -> Vec<T> {
    let total: Usd = groups.iter().map(|g| Usd::from_nanos(cost_nanos(g))).sum();
    groups.iter().map(|g| row(g, total)).collect()
}

// `ProviderRow` and `KeySpendRow` each list a group's figures (`cost_usd` to `share`)
// instead of flattening one shared struct: utoipa draws a flattened field as an
// `allOf`, and these schemas are published flat (as the re-pricing ones are).
/// Spend sent with one API key, or by people's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeySpendRow {
    /// The API key's id; `null` for events sent with a person's session (and events
    /// stored before senders were recorded).
    pub api_key_id: Option<i64>,
    /// The key's name (`null` for sessions).
    pub name: Option<String>,
    /// Spend.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// Calls.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Calls stored without a price.
    pub unpriced_calls: u64,
    /// Share of the total spend, percent.
    pub share: f64,
    /// Spend in `currency`, when one was asked for.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
}

impl KeySpendRow {
    /// The sender's row, its share of `total` (every sender's spend).
    pub fn new(r: &llmlab_app::SenderTotals, total: Usd) -> KeySpendRow {
        let t = totals(
            r.sums.cost_nanos,
            r.sums.calls,
            r.sums.input_tokens,
            r.sums.output_tokens,
        );
        KeySpendRow {
            api_key_id: match r.sender {
                llmlab_app::Sender::Key(id) => Some(id.get()),
                _ => None,
            },
            name: r.name.clone(),
            share: share_pct(t.cost, total),
            cost_usd: t.cost,
            calls: t.calls,
            input_tokens: unsigned(t.tokens.input),
            output_tokens: unsigned(t.tokens.output),
            unpriced_calls: unsigned(r.sums.unpriced_calls),
            cost: None,
        }
    }
}

/// `{keys: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeySpendList {
    /// Costliest first.
    pub keys: Vec<KeySpendRow>,
    /// The currency asked for (`currency=`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The rates used, by the day each took effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fx_rates_used: Option<Vec<FxRateUsed>>,
}

/// `{providers: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    /// Costliest first.
    pub providers: Vec<ProviderRow>,
    /// The currency asked for (`currency=`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The rates used, by the day each took effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fx_rates_used: Option<Vec<FxRateUsed>>,
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
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// Calls.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Mean cost per call.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub avg_cost_per_call_usd: Usd,
    /// Calls stored without a price.
    pub unpriced_calls: u64,
    /// Spend in `currency`, when one was asked for.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
}

/// `{models: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Costliest first.
    pub models: Vec<ModelRow>,
    /// The currency asked for (`currency=`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The rates used, by the day each took effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fx_rates_used: Option<Vec<FxRateUsed>>,
}

/// Per-bucket cost of an estimate.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownOut {
    /// Uncached input.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub input_usd: Usd,
    /// Cache reads.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cached_input_usd: Usd,
    /// 5-minute cache writes.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cache_write_usd: Usd,
    /// Output at the text rate, reasoning included.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub output_usd: Usd,
    /// 1-hour cache writes.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cache_write_1h_usd: Usd,
    /// Uncached audio input.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub input_audio_usd: Usd,
    /// Audio output.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub output_audio_usd: Usd,
    /// Images.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub images_usd: Usd,
    /// Audio transcribed, at the per-minute price.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub transcription_usd: Usd,
    /// Characters of speech.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub speech_usd: Usd,
    /// Web search calls.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub web_search_usd: Usd,
    /// Code sessions.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub code_sessions_usd: Usd,
}

/// A cost estimate.
#[derive(Debug, Serialize, ToSchema)]
pub struct Estimate {
    /// Total; equals the sum of the breakdown.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// Catalog model used.
    pub resolved_model: String,
    /// `catalog`, `custom_pricing` or `client`.
    pub cost_source: String,
    /// Per bucket.
    pub breakdown: BreakdownOut,
}

/// Which currency a breakdown is also given in.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CurrencyQuery {
    /// ISO 4217 code: each row's spend also in that currency, each UTC day at the
    /// workspace's rate in effect that day (`PUT /api/fx-rates`).
    pub currency: Option<String>,
}

/// How many models.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopQuery {
    /// Models returned (default 10, at most 1000).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// Which tag key to group by.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagKeyQuery {
    /// The tag key (required).
    pub key: Option<String>,
}

/// Which period to forecast.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// `daily`, `weekly` or `monthly` (default).
    pub period: Option<String>,
    /// IANA time zone of the period's calendar (default UTC).
    pub tz: Option<String>,
    /// ISO 4217 code: the figures also in that currency (spent: each day at its rate;
    /// what is still expected: at today's).
    pub currency: Option<String>,
}

/// The current period's spend and where it is heading.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastOut {
    /// Period start.
    pub period_start: DateTime<Utc>,
    /// Period end (exclusive).
    pub period_end: DateTime<Utc>,
    /// Spend so far.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub spent_usd: Usd,
    /// Projected total at the period's end.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub forecast_usd: Usd,
    /// Lower end of the 80 % interval (null without enough history).
    #[schema(value_type = Option<f64>)]
    #[serde(default, with = "llmlab_engine::as_json_number::option")]
    pub forecast_low_usd: Option<Usd>,
    /// Upper end of the 80 % interval (null without enough history).
    #[schema(value_type = Option<f64>)]
    #[serde(default, with = "llmlab_engine::as_json_number::option")]
    pub forecast_high_usd: Option<Usd>,
    /// `weekday_trend` or `insufficient_history` (see docs/forecasts.md).
    #[schema(value_type = String)]
    pub forecast_method: llmlab_engine::forecast::ForecastMethod,
    /// The currency asked for (`currency=`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `spent_usd` in `currency`.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spent: Option<Amount>,
    /// `forecast_usd` in `currency`.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Amount>,
    /// `forecast_low_usd` in `currency`.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_low: Option<Amount>,
    /// `forecast_high_usd` in `currency`.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_high: Option<Amount>,
    /// The rates used, by the day each took effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fx_rates_used: Option<Vec<FxRateUsed>>,
}

/// The cost export's format.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostExportQuery {
    /// `focus` (FinOps FOCUS 1.2 CSV; the only format).
    #[param(pattern = "^focus$")]
    pub format: Option<String>,
    /// ISO 4217 code: the amounts in that currency (`BillingCurrency`), each day's rows
    /// at the workspace's rate in effect that day.
    pub currency: Option<String>,
}
