//! Contracts: a workspace's negotiated discount off catalog prices for a provider (and
//! optionally the models whose name starts with a prefix) over a period. Pricing applies
//! the one in effect at each event's timestamp (`ledger::price_call`); a contract added
//! for days already tracked reaches their events through a re-pricing run.

use chrono::{DateTime, Utc};
use llmlab_engine::Discount;
use llmlab_engine::providers::Catalog;
use llmlab_store::contracts;
pub use llmlab_store::contracts::{ContractRow, NewContract};
use llmlab_store::{Store, StoreError, WorkspaceId};

use crate::auth::Identity;
use crate::{AppError, Audit, audited, ensure_room};

/// Contracts one workspace may hold (ended ones count: they keep pricing their past).
pub const MAX_CONTRACTS: usize = 100;

/// A contract as the API sends it.
#[derive(Debug, Clone)]
pub struct ContractForm {
    /// Name, unique in the workspace.
    pub name: String,
    /// The provider it is with.
    pub provider: String,
    /// Only models whose catalog name starts with this.
    pub model_prefix: Option<String>,
    /// Off list prices.
    pub discount: Discount,
    /// First day (UTC), `YYYY-MM-DD`.
    pub effective_from: String,
    /// Last day (UTC), inclusive.
    pub effective_to: Option<String>,
}

/// Checks a contract as sent: a provider of the catalog (contracts discount its prices),
/// a prefix that names at least one of its models, a discount above 0.
pub fn validate(catalog: &Catalog, form: ContractForm) -> Result<NewContract, AppError> {
    let name = form.name.trim().to_string();
    crate::input::check_text("name", &name)?;
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::invalid("name", "must be 1 to 200 characters"));
    }
    let provider = form.provider.trim().to_ascii_lowercase();
    crate::input::check_text("provider", &provider)?;
    let Some(known) = catalog.provider(&provider) else {
        return Err(AppError::invalid(
            "provider",
            format!(
                "'{provider}' is not a provider of the catalog: a contract discounts its prices"
            ),
        ));
    };
    let prefix = form
        .model_prefix
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty());
    if let Some(p) = &prefix {
        crate::input::check_text("model_prefix", p)?;
        if !known
            .models()
            .iter()
            .any(|m| m.name.starts_with(p.as_str()))
        {
            return Err(AppError::invalid(
                "model_prefix",
                format!("no model of {provider} in the catalog starts with '{p}'"),
            ));
        }
    }
    if form.discount == Discount::NONE {
        return Err(AppError::invalid(
            "discount_pct",
            "must be more than 0 (and at most 100)",
        ));
    }
    let day = |field: &str, s: &str| {
        let d = crate::input::parse_day(s)
            .map_err(|_| AppError::invalid(field, "must be a date such as 2026-01-31"))?;
        let at = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default();
        crate::input::in_supported_years(field, at)?;
        Ok::<_, AppError>(d)
    };
    let from = day("effective_from", &form.effective_from)?;
    let to = form
        .effective_to
        .as_deref()
        .map(|s| day("effective_to", s))
        .transpose()?;
    if to.is_some_and(|to| to < from) {
        return Err(AppError::invalid(
            "effective_to",
            "must be on or after effective_from",
        ));
    }
    Ok(NewContract {
        name,
        provider,
        model_prefix: prefix,
        discount_bp: i32::from(form.discount.basis_points()),
        effective_from: from,
        effective_to: to,
    })
}

/// Creates a contract (at most [`MAX_CONTRACTS`] per workspace): events stored from now
/// on are priced under it; earlier ones when re-priced.
pub fn create(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    new: NewContract,
) -> Result<ContractRow, AppError> {
    ensure_room(
        "contracts",
        s.list_contracts(workspace)?.len(),
        MAX_CONTRACTS,
    )?;
    audited(s, workspace, &by.actor(), |c| {
        let row = contracts::create(c, workspace, &new)?;
        let audit = Audit {
            action: "contract.create",
            target_kind: "contract",
            target_id: row.id.to_string(),
            details: serde_json::json!({
                "name": row.spec.name,
                "provider": row.spec.provider,
                "model_prefix": row.spec.model_prefix,
                "discount_bp": row.spec.discount_bp,
                "effective_from": row.spec.effective_from,
                "effective_to": row.spec.effective_to,
            }),
        };
        Ok((row, audit))
    })
}

/// The workspace's contracts, ended ones included, oldest first.
pub fn list(s: &Store, workspace: WorkspaceId) -> Result<Vec<ContractRow>, AppError> {
    Ok(s.list_contracts(workspace)?)
}

/// Ends a contract at `now`: events from then on are priced at list (or under another
/// contract); the events it priced keep it, and so does re-pricing them.
pub fn end(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    id: i64,
    now: DateTime<Utc>,
) -> Result<ContractRow, AppError> {
    audited(s, workspace, &by.actor(), |c| {
        let row = contracts::end(c, workspace, id, now.naive_utc())?.ok_or(StoreError::NotFound)?;
        let audit = Audit {
            action: "contract.end",
            target_kind: "contract",
            target_id: id.to_string(),
            details: serde_json::json!({ "ended_at": row.ended_at }),
        };
        Ok((row, audit))
    })
}
