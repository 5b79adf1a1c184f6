//! Commitments: amounts prepaid or committed to a provider over a period.

use chrono::NaiveDate;
use llmlab_app::commitments::{CommitmentForm, Standing};
use llmlab_engine::Usd;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/commitments`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CommitmentIn {
    /// Name, unique in the workspace.
    pub name: String,
    /// The provider it is with (catalog id); absent for all providers.
    pub provider: Option<String>,
    /// The amount prepaid or committed.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub amount_usd: Usd,
    /// First day (UTC), `YYYY-MM-DD`.
    pub start: String,
    /// Last day (UTC), inclusive.
    pub end: String,
}

impl From<CommitmentIn> for CommitmentForm {
    fn from(c: CommitmentIn) -> Self {
        CommitmentForm {
            name: c.name,
            provider: c.provider,
            amount_usd: c.amount_usd,
            start: c.start,
            end: c.end,
        }
    }
}

/// A commitment and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommitmentOut {
    /// Its id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The provider it is with; null for all.
    pub provider: Option<String>,
    /// The amount.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub amount_usd: Usd,
    /// First day (UTC).
    pub start: NaiveDate,
    /// Last day (UTC), inclusive.
    pub end: NaiveDate,
    /// Tracked spend in its scope from its start to now (or its end).
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub consumed_usd: Usd,
    /// Amount − consumed, never negative.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub remaining_usd: Usd,
    /// Expected spend by its end, by the same forecast as budgets' (the consumed amount
    /// once it has ended; null before it starts).
    #[schema(value_type = Option<f64>)]
    #[serde(default, with = "llmlab_engine::as_json_number::option")]
    pub forecast_end_usd: Option<Usd>,
    /// What the forecast leaves unused at its end (amount − forecast, when positive): a
    /// commitment headed for underuse.
    #[schema(value_type = Option<f64>)]
    #[serde(default, with = "llmlab_engine::as_json_number::option")]
    pub projected_unused_usd: Option<Usd>,
    /// The day (UTC) the amount is expected to be used up, when that is before its end.
    pub projected_exhaustion_date: Option<NaiveDate>,
}

impl From<Standing> for CommitmentOut {
    fn from(s: Standing) -> Self {
        let c = s.commitment;
        let amount = Usd::from_nanos(c.spec.amount_nanos);
        CommitmentOut {
            id: c.id,
            name: c.spec.name,
            provider: c.spec.provider,
            amount_usd: amount,
            start: c.spec.start_date,
            end: c.spec.end_date,
            consumed_usd: s.consumed,
            remaining_usd: s.remaining,
            projected_unused_usd: s
                .forecast_end
                .map(|f| amount.saturating_sub(f))
                .filter(|unused| *unused > Usd::ZERO),
            forecast_end_usd: s.forecast_end,
            projected_exhaustion_date: s.exhaustion,
        }
    }
}

/// `{commitments: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommitmentList {
    /// The workspace's commitments, oldest first.
    pub commitments: Vec<CommitmentOut>,
}
