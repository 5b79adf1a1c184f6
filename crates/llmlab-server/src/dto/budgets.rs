//! Budgets, the pre-flight check and alerts.

use chrono::{DateTime, Utc};
use llmlab_app::budgets::{BudgetForm, ScopeForm};
use llmlab_engine::Usd;
use llmlab_engine::forecast::ForecastMethod;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `scope` of a budget.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ScopeDto {
    /// Only this provider's spend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Only this model's spend, under any of its names: stored as the catalog's name for
    /// it (`gpt-4o-2024-08-06` becomes `gpt-4o`), which needs `provider` when providers
    /// name the model differently.
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
    /// Name, unique per workspace (an existing name updates that budget).
    pub name: String,
    /// Amount per period, > 0.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
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
    /// Channels its alerts and forecast warnings go to, besides those subscribed to
    /// `budget` / `forecast` (replaces the previous list; unchanged when absent).
    pub channel_ids: Option<Vec<i64>>,
    /// `alert` (default: it alerts) or `hard` (`POST /api/budgets/reserve` refuses calls
    /// beyond what it has left).
    pub enforce: Option<String>,
}

impl From<BudgetIn> for BudgetForm {
    fn from(b: BudgetIn) -> BudgetForm {
        BudgetForm {
            name: b.name,
            amount_usd: b.amount_usd,
            period: b.period,
            scope: b.scope.map(|s| ScopeForm {
                provider: s.provider,
                model: s.model,
                tag: s.tag,
            }),
            alert_threshold_pct: b.alert_threshold_pct,
            webhook_url: b.webhook_url,
            timezone: b.timezone,
            enforce: b.enforce,
        }
    }
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
    #[serde(with = "llmlab_engine::as_json_number")]
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
    #[serde(with = "llmlab_engine::as_json_number")]
    pub spent_usd: Usd,
    /// Amount left (never negative).
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub remaining_usd: Usd,
    /// `alert` or `hard`.
    pub enforce: String,
    /// Held by live reservations (a hard budget's; 0 for an alert-only one).
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub reserved_usd: Usd,
    /// Amount − spent − reserved, never negative: what reservations may still take.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub available_usd: Usd,
    /// Spent / amount, percent.
    pub percent_used: f64,
    /// `ok`, `warning` or `exceeded`.
    pub status: String,
    /// Current period start (null for `total`).
    pub period_start: Option<DateTime<Utc>>,
    /// Current period end (null for `total`).
    pub period_end: Option<DateTime<Utc>>,
    /// Projected spend at period end (null for `total`).
    #[schema(value_type = Option<f64>)]
    #[serde(default, with = "llmlab_engine::as_json_number::option")]
    pub forecast_usd: Option<Usd>,
    /// Lower end of the forecast's 80 % interval (null without enough history).
    #[schema(value_type = Option<f64>)]
    #[serde(default, with = "llmlab_engine::as_json_number::option")]
    pub forecast_low_usd: Option<Usd>,
    /// Upper end of the forecast's 80 % interval (null without enough history).
    #[schema(value_type = Option<f64>)]
    #[serde(default, with = "llmlab_engine::as_json_number::option")]
    pub forecast_high_usd: Option<Usd>,
    /// How `forecast_usd` was made: `weekday_trend` (the daily history's weekday profile
    /// and trend) or `insufficient_history` (under two weeks of history: spend so far ×
    /// period length ÷ time elapsed, flagged as such).
    #[schema(value_type = Option<String>)]
    pub forecast_method: Option<ForecastMethod>,
    /// When the forecast has the spend cross `amount_usd` in this period, which it has
    /// not yet: the start of that local day by the weekday trend, or the instant on the
    /// straight line of an `insufficient_history` projection. `null` when the forecast
    /// stays within the amount (or the budget is exceeded already).
    pub expected_crossing: Option<DateTime<Utc>>,
    /// Channels chosen for its alerts.
    pub channel_ids: Vec<i64>,
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
    /// A tag of the intended call, `key:value` (given more than once, the last counts).
    #[serde(default)]
    pub tag: Vec<String>,
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
    #[serde(with = "llmlab_engine::as_json_number")]
    pub remaining_usd: Usd,
    /// `alert` or `hard`.
    pub enforce: String,
    /// Held by live reservations.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub reserved_usd: Usd,
    /// Amount − spent − reserved, never negative.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub available_usd: Usd,
}

/// Pre-flight answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    /// False when any budget covering the call is exceeded, or a hard one has nothing
    /// available once its live reservations are counted.
    pub allowed: bool,
    /// Budgets whose scope covers the call.
    pub budgets: Vec<CheckBudget>,
}

impl From<llmlab_app::budgets::Check> for CheckResponse {
    fn from(found: llmlab_app::budgets::Check) -> Self {
        let budgets = found
            .budgets
            .into_iter()
            .map(|(budget, evaluation, reserved)| CheckBudget {
                id: budget.id.get(),
                name: budget.spec.name,
                status: evaluation.status.as_str().into(),
                remaining_usd: evaluation.remaining,
                enforce: budget.spec.enforce,
                reserved_usd: reserved,
                available_usd: llmlab_app::budgets::available(&evaluation, reserved),
            })
            .collect();
        CheckResponse {
            allowed: found.allowed,
            budgets,
        }
    }
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
    #[serde(with = "llmlab_engine::as_json_number")]
    pub spent_usd: Usd,
    /// Budget amount.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
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

impl From<llmlab_app::AlertDelivery> for AlertOut {
    fn from(d: llmlab_app::AlertDelivery) -> Self {
        let delivery_status = d.status().to_string();
        let (a, webhook) = (d.alert, d.webhook);
        AlertOut {
            deliveries: d.attempts.into_iter().map(DeliveryOut::from).collect(),
            next_attempt_at: webhook
                .as_ref()
                .and_then(|n| n.next_attempt_at)
                .map(|t| t.and_utc()),
            attempts: webhook.as_ref().map_or(0, |n| i64::from(n.attempts)),
            last_error: webhook.and_then(|n| n.last_error),
            id: a.id,
            level: a.level,
            period_start: DateTime::from_timestamp_micros(a.period_start),
            spent_usd: Usd::from_nanos(a.spent_nanos),
            amount_usd: Usd::from_nanos(a.amount_nanos),
            created_at: a.created_at.and_utc(),
            delivery_status,
        }
    }
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

impl From<llmlab_app::NotificationDeliveryRow> for DeliveryOut {
    fn from(d: llmlab_app::NotificationDeliveryRow) -> Self {
        DeliveryOut {
            attempt: d.attempt,
            attempted_at: d.attempted_at.and_utc(),
            url: d.target,
            status_code: d.status_code,
            ok: d.ok,
            error: d.error,
            duration_ms: d.duration_ms,
        }
    }
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

/// `POST /api/budgets/reserve`: a call about to be made.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReserveIn {
    /// Provider id from the catalog.
    pub provider: String,
    /// Model as the provider's API names it.
    pub model: String,
    /// The prompt's tokens.
    pub input_tokens: i64,
    /// The most the call may answer (the request's `max_tokens`): the worst case is
    /// priced with it.
    pub max_output_tokens: i64,
    /// The tags its event will carry (they choose the budgets that cover it).
    pub tags: Option<std::collections::BTreeMap<String, String>>,
    /// Seconds the reservation lives unless settled or released (default 300, 1–3600).
    pub ttl_seconds: Option<i64>,
}

impl From<ReserveIn> for llmlab_app::budgets::ReserveIn {
    fn from(r: ReserveIn) -> Self {
        llmlab_app::budgets::ReserveIn {
            provider: r.provider,
            model: r.model,
            input_tokens: r.input_tokens,
            max_output_tokens: r.max_output_tokens,
            tags: r.tags,
            ttl_seconds: r.ttl_seconds,
        }
    }
}

/// A hard budget a reservation holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldBudget {
    /// Budget id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// What it has left after this reservation.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub available_usd: Usd,
}

/// A reservation made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationOut {
    /// Send it with the call's event (`reservation_id`) to settle it, or release it with
    /// `DELETE /api/budgets/reservations/{reservation_id}`.
    pub reservation_id: String,
    /// The call's worst case, held against each budget below.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub reserved_usd: Usd,
    /// When it is released by itself if neither settled nor released.
    pub expires_at: DateTime<Utc>,
    /// The hard budgets covering the call (empty: none, so nothing is held).
    pub budgets: Vec<HeldBudget>,
}

impl From<llmlab_app::budgets::Reservation> for ReservationOut {
    fn from(r: llmlab_app::budgets::Reservation) -> Self {
        ReservationOut {
            reservation_id: r.id,
            reserved_usd: r.amount,
            expires_at: r.expires_at,
            budgets: r
                .budgets
                .into_iter()
                .map(|h| HeldBudget {
                    id: h.budget.id.get(),
                    name: h.budget.spec.name,
                    available_usd: h.available,
                })
                .collect(),
        }
    }
}
