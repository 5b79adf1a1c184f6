//! Reconciliation: provider cost reports imported, and billed against tracked.

use chrono::NaiveDate;
use llmlab_app::reconciliation::{Drift, Imported, Reconciliation};
use llmlab_engine::{Discount, Usd};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::{IntoParams, ToSchema};

/// `POST /api/reconciliation/imports`' query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `openai_costs` (OpenAI's organization costs JSON), `anthropic_cost_report`
    /// (Anthropic's cost report JSON) or `focus` (a FOCUS 1.2 CSV).
    #[param(pattern = "^(openai_costs|anthropic_cost_report|focus)$")]
    pub format: Option<String>,
}

/// An imported cost report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    /// Its id (the same for the same content imported again).
    pub id: i64,
    /// Its format.
    pub format: String,
    /// The one provider it bills; null when it bills several (a FOCUS file).
    pub provider: Option<String>,
    /// First day (UTC) it covers.
    pub start: NaiveDate,
    /// Last day (UTC) it covers, inclusive.
    pub end: NaiveDate,
    /// Lines of the report read.
    pub rows: i32,
    /// FOCUS rows skipped: other services, taxes, purchases (0 for a repeated import).
    pub rows_skipped: usize,
    /// Its total.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub billed_usd: Usd,
}

impl From<Imported> for ImportOut {
    fn from(i: Imported) -> Self {
        let spec = i.import.spec;
        ImportOut {
            id: i.import.id,
            format: spec.format,
            provider: spec.provider,
            start: spec.start_date,
            end: spec.end_date,
            rows: spec.rows_read,
            rows_skipped: i.rows_skipped,
            billed_usd: Usd::from_nanos(spec.billed_nanos),
        }
    }
}

/// `GET /api/reconciliation`'s query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    /// First day (UTC), `YYYY-MM-DD`; 29 days before `end` when absent.
    pub start: Option<String>,
    /// Last day (UTC), inclusive; today when absent.
    pub end: Option<String>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Drift beyond which a day is flagged, in percent of the bill (default 5).
    pub threshold_pct: Option<String>,
    /// `model`: a row per day, provider and model (where the report names models).
    #[param(pattern = "^(provider|model)$")]
    pub by: Option<String>,
}

/// A drift in basis points as a percentage with its exact digits (`-12.5`).
fn bp_as_percent<S: Serializer>(bp: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match bp {
        None => s.serialize_none(),
        Some(bp) => {
            let sign = if *bp < 0 { "-" } else { "" };
            let (whole, frac) = (bp.unsigned_abs() / 100, bp.unsigned_abs() % 100);
            let text = match frac {
                0 => format!("{sign}{whole}"),
                f if f % 10 == 0 => format!("{sign}{whole}.{}", f / 10),
                f => format!("{sign}{whole}.{f:02}"),
            };
            match serde_json::value::RawValue::from_string(text) {
                Ok(raw) => raw.serialize(s),
                Err(e) => Err(serde::ser::Error::custom(e)),
            }
        }
    }
}

/// Billed against tracked.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftOut {
    /// What the provider billed.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub billed_usd: Usd,
    /// What LLMLab tracked.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub tracked_usd: Usd,
    /// billed − tracked.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub drift_usd: Usd,
    /// drift ÷ billed × 100, two decimals; null when nothing was billed.
    #[schema(value_type = Option<f64>)]
    #[serde(serialize_with = "bp_as_percent")]
    pub drift_pct: Option<i64>,
}

impl From<Drift> for DriftOut {
    fn from(d: Drift) -> Self {
        DriftOut {
            billed_usd: d.billed,
            tracked_usd: d.tracked,
            drift_usd: d.drift(),
            drift_pct: d.drift_bp(),
        }
    }
}

// The day's fields are listed again rather than flattened from `DriftOut`: the API's
// schemas are flat.
/// One day of one provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftDayOut {
    /// The day (UTC).
    pub date: NaiveDate,
    /// Provider id.
    pub provider: String,
    /// The model (`by=model` only; `""` for what a report billed without naming one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// What the provider billed that day.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub billed_usd: Usd,
    /// What LLMLab tracked that day.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub tracked_usd: Usd,
    /// billed − tracked.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub drift_usd: Usd,
    /// drift ÷ billed × 100, two decimals; null when nothing was billed.
    #[schema(value_type = Option<f64>)]
    #[serde(serialize_with = "bp_as_percent")]
    pub drift_pct: Option<i64>,
    /// The drift passes the threshold (or something was tracked for a day billed 0).
    pub beyond_threshold: bool,
}

/// `GET /api/reconciliation`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationOut {
    /// Each day and provider an imported bill covers, oldest first.
    pub days: Vec<DriftDayOut>,
    /// Their sums.
    pub total: DriftOut,
    /// The discount off what was tracked that would make it the bill (percent), when
    /// the bill is below it; null otherwise.
    #[schema(value_type = Option<f64>)]
    pub suggested_discount_pct: Option<Discount>,
    /// The threshold the days were judged by, percent.
    #[schema(value_type = f64)]
    pub threshold_pct: Discount,
}

impl ReconciliationOut {
    /// `r`, each day judged against `threshold`.
    pub fn new(r: Reconciliation, threshold: Discount) -> ReconciliationOut {
        let limit = i64::from(threshold.basis_points());
        let days = r
            .days
            .into_iter()
            .map(|d| {
                let f = d.figures;
                let beyond = match f.drift_bp() {
                    Some(bp) => bp.abs() > limit,
                    None => f.tracked != Usd::ZERO,
                };
                DriftDayOut {
                    date: d.date,
                    provider: d.provider,
                    model: d.model,
                    billed_usd: f.billed,
                    tracked_usd: f.tracked,
                    drift_usd: f.drift(),
                    drift_pct: f.drift_bp(),
                    beyond_threshold: beyond,
                }
            })
            .collect();
        ReconciliationOut {
            days,
            total: r.total.into(),
            suggested_discount_pct: r.suggested_discount,
            threshold_pct: threshold,
        }
    }
}
