//! Contracts: negotiated discounts off catalog prices.

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_app::contracts::{ContractForm, ContractRow};
use llmlab_engine::Discount;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/contracts`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ContractIn {
    /// Name, unique in the workspace.
    pub name: String,
    /// The provider it is with (catalog id).
    pub provider: String,
    /// Only the catalog models whose name starts with this (`gpt-4o` covers
    /// `gpt-4o-mini` too); absent for every model of the provider.
    pub model_prefix: Option<String>,
    /// Off list prices, in percent: more than 0, at most 100, at most two decimals.
    #[schema(value_type = f64)]
    pub discount_pct: Discount,
    /// First day (UTC), `YYYY-MM-DD`.
    pub effective_from: String,
    /// Last day (UTC), inclusive; absent for open-ended.
    pub effective_to: Option<String>,
}

impl From<ContractIn> for ContractForm {
    fn from(c: ContractIn) -> Self {
        ContractForm {
            name: c.name,
            provider: c.provider,
            model_prefix: c.model_prefix,
            discount: c.discount_pct,
            effective_from: c.effective_from,
            effective_to: c.effective_to,
        }
    }
}

/// A contract.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractOut {
    /// Its id (what `price_ref.contract.id` names).
    pub id: i64,
    /// Name.
    pub name: String,
    /// The provider it is with.
    pub provider: String,
    /// The model-name prefix it covers; null for every model of the provider.
    pub model_prefix: Option<String>,
    /// Off list prices, in percent.
    #[schema(value_type = f64)]
    pub discount_pct: Discount,
    /// First day (UTC).
    pub effective_from: NaiveDate,
    /// Last day (UTC), inclusive; null when open-ended.
    pub effective_to: Option<NaiveDate>,
    /// When it was ended: it prices nothing from then on; null while not ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<ContractRow> for ContractOut {
    fn from(c: ContractRow) -> Self {
        let bp = u16::try_from(c.spec.discount_bp).unwrap_or(0);
        ContractOut {
            id: c.id,
            name: c.spec.name,
            provider: c.spec.provider,
            model_prefix: c.spec.model_prefix,
            discount_pct: Discount::from_basis_points(bp).unwrap_or_default(),
            effective_from: c.spec.effective_from,
            effective_to: c.spec.effective_to,
            ended_at: c.ended_at.map(|t| t.and_utc()),
            created_at: c.created_at.and_utc(),
        }
    }
}

/// `{contracts: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractList {
    /// The workspace's contracts, ended ones included, oldest first.
    pub contracts: Vec<ContractOut>,
}
