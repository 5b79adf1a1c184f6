//! Recommendations: anomalies, model switches, optimizations.

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_app::money::usd_numbers;
use llmlab_engine::Usd;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Query of the recommendation endpoints.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecsQuery {
    /// Days judged for anomalies, and the window whose token mix is repriced (default 30,
    /// 1–365).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 365)]
    pub days: Option<String>,
    /// Anomalies: report days scoring at or above this (default 2.5).
    #[param(value_type = Option<f64>, minimum = 0.5, maximum = 100.0)]
    pub threshold: Option<String>,
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
    #[param(value_type = Option<u32>, minimum = 1, maximum = 365)]
    pub days: Option<String>,
}

/// What drove an anomaly.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriverOut {
    /// `model`, `provider` or `tag`.
    pub dimension: &'static str,
    /// `openai/gpt-4o`, `openai` or `team:growth`; `team (other values)` when `other`.
    pub label: String,
    /// True for the values of a tag key that attribution does not look at one by one
    /// (beyond the 100 costliest of each anomalous day), added up: not a tag value.
    pub other: bool,
    /// Its spend that day.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// Its mean daily spend over the baseline days.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub baseline_usd: Usd,
    /// `cost_usd − baseline_usd`.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
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
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// The day's expected spend: the trailing baseline's trend (least squares, or a
    /// median-based fit for `robust`) times the day's weekday factor.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub mean_usd: Usd,
    /// The spread of that expectation (standard deviation, or scaled MAD for `robust`).
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub stddev_usd: Usd,
    /// `cost_usd − mean_usd`.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub excess_usd: Usd,
    /// `(cost − expected) / spread`, deseasonalised, the judged day excluded from its
    /// baseline; severity follows it. 2 decimals.
    pub z_score: f64,
    /// Score against the other days of the same weekday (shown, not deciding).
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
                    other: d.dimension.is_other(),
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
    #[serde(with = "llmlab_engine::as_json_number")]
    pub current_monthly_cost_usd: Usd,
    /// The same mix at the suggested model's price, per 30 days.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub projected_monthly_cost_usd: Usd,
    /// Difference.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
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
            evidence: usd_numbers(serde_json::to_value(&s.evidence).unwrap_or_default()),
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

/// A change in how a model is used, priced from this workspace's data.
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
    #[serde(with = "llmlab_engine::as_json_number")]
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
            evidence: usd_numbers(serde_json::to_value(&o.evidence).unwrap_or_default()),
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
    #[serde(with = "llmlab_engine::as_json_number")]
    pub total_potential_monthly_savings_usd: Usd,
    /// Days of traffic the savings were projected from.
    pub window_days: u32,
    /// When this was computed.
    pub generated_at: DateTime<Utc>,
}
