//! A budget as the API and the dashboard send it, and its validation into what the store
//! keeps: one set of rules for both faces.

use llmlab_engine::Usd;
use llmlab_engine::budget::{BudgetSpec, Scope, Threshold};
use llmlab_engine::period::{Period, Zone};
use llmlab_engine::providers::Catalog;
use llmlab_store::NewBudget;

use crate::AppError;

/// A budget as the API or the dashboard sends it, before [`validate`] checks it.
#[derive(Debug, Clone)]
pub struct BudgetForm {
    /// Name, unique in the workspace.
    pub name: String,
    /// Amount per period.
    pub amount_usd: Usd,
    /// `daily`, `weekly`, `monthly` or `total`.
    pub period: String,
    /// What spend counts.
    pub scope: Option<ScopeForm>,
    /// Warning level, percent of the amount (default 80).
    pub alert_threshold_pct: Option<i64>,
    /// http(s) URL that receives alerts.
    pub webhook_url: Option<String>,
    /// IANA zone of the period's calendar boundaries (default UTC).
    pub timezone: Option<String>,
    /// `alert` (the default: it alerts) or `hard` (calls reserved against it are refused
    /// beyond what it has left).
    pub enforce: Option<String>,
}

/// What spend a budget counts, as sent.
#[derive(Debug, Clone, Default)]
pub struct ScopeForm {
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// Only spend tagged `key:value`.
    pub tag: Option<String>,
}

/// A budget as validated: what the store keeps of it, and its webhook.
#[derive(Debug, Clone)]
pub struct BudgetChange {
    /// Its name, amount, period and scope.
    pub budget: NewBudget,
    /// Where its alerts are POSTed (its own channel's target), if anywhere.
    pub webhook_url: Option<String>,
}

/// A budget as the API or the dashboard sends it, validated into what the store keeps.
/// A model scope is stored under the catalog's canonical name, the one events record.
pub fn validate(
    catalog: &Catalog,
    allow_private_webhooks: bool,
    b: BudgetForm,
) -> Result<BudgetChange, AppError> {
    let name = b.name.trim().to_string();
    crate::input::check_text("name", &name)?;
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::invalid("name", "must be 1 to 200 characters"));
    }
    let period = Period::parse(&b.period)?;
    let zone = Zone::parse(b.timezone.as_deref().unwrap_or("UTC"))
        .map_err(|e| AppError::invalid("timezone", e.to_string()))?;
    let threshold = Threshold::parse(b.alert_threshold_pct.unwrap_or(80))?;
    BudgetSpec::new(b.amount_usd, period, zone, threshold)?;
    let scope = b.scope.unwrap_or_default();
    for (field, value) in [
        ("scope.provider", &scope.provider),
        ("scope.model", &scope.model),
        ("scope.tag", &scope.tag),
        ("webhook_url", &b.webhook_url),
        ("timezone", &b.timezone),
    ] {
        if let Some(v) = value {
            crate::input::check_text(field, v)?;
        }
    }
    let provider = scope
        .provider
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty());
    if let Some(p) = &provider
        && catalog.provider(p).is_none()
    {
        return Err(AppError::invalid(
            "scope.provider",
            format!("unknown provider '{p}'"),
        ));
    }
    let model = scope
        .model
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty());
    let tag = scope.tag.as_deref().map(Scope::parse_tag).transpose()?;
    let scope = Scope {
        provider,
        model,
        tag,
    }
    .canonicalized(catalog);
    let webhook_url = b
        .webhook_url
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    if let Some(u) = &webhook_url {
        if u.len() > 2048 {
            return Err(AppError::invalid(
                "webhook_url",
                "must be at most 2048 bytes",
            ));
        }
        crate::webhooks::check_target(u, allow_private_webhooks)
            .map_err(|why| AppError::invalid("webhook_url", why))?;
    }
    let enforce = match b.enforce.as_deref().map(str::trim) {
        None | Some("") | Some(super::ALERT) => super::ALERT,
        Some(super::HARD) => super::HARD,
        Some(_) => {
            return Err(AppError::invalid(
                "enforce",
                "must be \"alert\" (alerts only) or \"hard\" (refuses reservations beyond it)",
            ));
        }
    };
    let budget = NewBudget {
        name,
        amount_nanos: b.amount_usd.nanos(),
        period: b.period.trim().to_ascii_lowercase(),
        timezone: zone.name().to_string(),
        scope_provider: scope.provider,
        scope_model: scope.model,
        scope_tag_key: scope.tag.as_ref().map(|t| t.0.clone()),
        scope_tag_value: scope.tag.map(|t| t.1),
        alert_threshold_pct: i32::from(threshold.pct()),
        enforce: enforce.to_string(),
    };
    Ok(BudgetChange {
        budget,
        webhook_url,
    })
}
