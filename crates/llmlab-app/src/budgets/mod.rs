//! Budgets and their alerts: live status, create or update within the account's limit,
//! the pre-flight check, and the evaluation after ingestion that records each alert once.
//!
//! Where the once-per-level guarantee lives: [`record_alerts`] asks the store to record
//! an alert per budget, period and level crossed; the unique constraint on
//! `(budget_id, period_start, level)` makes every racing request, on every instance,
//! record it once (`Store::record_alert` returns `None` for the losers).

use llmlab_store::{BudgetId, ChannelId, WorkspaceId, budgets};

use crate::auth::Identity;
use crate::{Audit, audited, audited_delete};
use chrono::{DateTime, Utc};
use llmlab_engine::Usd;
use llmlab_engine::budget::{
    BudgetSpec, BudgetStatus, Evaluation, Scope, Threshold, crossed_levels, evaluate,
};
use llmlab_engine::forecast::{Forecast, ForecastMethod, expected_crossing};
use llmlab_engine::period::{Period, Zone, period_window};
use llmlab_store::{
    AlertRow, BudgetRow, DeliveryRow, EventFilter, NewAlert, NewBudget, Store, delivery,
};

use crate::config::Limits;
use crate::{App, AppError, blocking, ensure_room, notifications, reports};
use llmlab_engine::providers::Catalog;

mod form;

pub use form::{BudgetForm, ScopeForm, validate};

/// A budget with its status now.
pub struct Evaluated {
    /// The stored budget.
    pub budget: BudgetRow,
    /// Its spend and status in the current period.
    pub evaluation: Evaluation,
    /// Where its spend is heading by the period's end (`None` for `total` budgets).
    pub forecast: Option<Forecast>,
    /// The channels its alerts go to besides those subscribed to `budget`.
    pub channels: Vec<ChannelId>,
}

/// A stored budget as engine values.
fn spec(b: &BudgetRow) -> Result<(BudgetSpec, Scope), AppError> {
    let zone = Zone::parse(&b.spec.timezone)?;
    let spec = BudgetSpec::new(
        Usd::from_nanos(b.spec.amount_nanos),
        Period::parse(&b.spec.period)?,
        zone,
        Threshold::parse(i64::from(b.spec.alert_threshold_pct))?,
    )?;
    let scope = Scope {
        provider: b.spec.scope_provider.clone(),
        model: b.spec.scope_model.clone(),
        tag: b
            .spec
            .scope_tag_key
            .clone()
            .zip(b.spec.scope_tag_value.clone()),
    };
    Ok((spec, scope))
}

/// The events a budget counts, at any time.
fn scope_filter(scope: Scope) -> EventFilter {
    EventFilter {
        provider: scope.provider,
        model: scope.model,
        tags: scope.tag.into_iter().collect(),
        ..EventFilter::default()
    }
}

/// Evaluates a budget against its spend in the current period (one SQL aggregate).
fn evaluate_row(
    s: &Store,
    workspace: WorkspaceId,
    b: &BudgetRow,
    now: DateTime<Utc>,
) -> Result<(BudgetSpec, Evaluation), AppError> {
    let (spec, scope) = spec(b)?;
    let window = period_window(spec.period, now, spec.zone);
    let filter = EventFilter {
        start_micros: window.start.map(|t| t.timestamp_micros()),
        end_micros: window.end.map(|t| t.timestamp_micros()),
        ..scope_filter(scope)
    };
    let spent = s.spend(workspace, &filter)?;
    let evaluation = evaluate(&spec, Usd::from_nanos(spent), now);
    Ok((spec, evaluation))
}

/// A budget's status and the forecast of its period from the scope's daily history.
fn with_forecast(
    s: &Store,
    workspace: WorkspaceId,
    budget: &BudgetRow,
    now: DateTime<Utc>,
) -> Result<(BudgetSpec, Evaluation, reports::PeriodForecast), AppError> {
    let (spec, evaluation) = evaluate_row(s, workspace, budget, now)?;
    let (_, scope) = self::spec(budget)?;
    let ahead = reports::forecast(
        s,
        workspace,
        &scope_filter(scope),
        (spec.period, spec.zone),
        Some(evaluation.spent),
        now,
    )?;
    Ok((spec, evaluation, ahead))
}

/// A budget with its status, its forecast and its channels.
fn evaluated(
    s: &Store,
    workspace: WorkspaceId,
    budget: BudgetRow,
    now: DateTime<Utc>,
) -> Result<Evaluated, AppError> {
    let (_, evaluation, ahead) = with_forecast(s, workspace, &budget, now)?;
    Ok(Evaluated {
        channels: channels_of(s, workspace, budget.id)?,
        budget,
        evaluation,
        forecast: ahead.forecast,
    })
}

/// A budget headed past its amount before its period ends: its status, and the start
/// of the local day its spend is expected to cross the amount.
pub struct Overrun {
    /// The budget, its status and forecast.
    pub budget: Evaluated,
    /// When the amount is expected to be crossed.
    pub crossing: DateTime<Utc>,
}

/// Whether `budget` is forecast, from enough daily history to say (never from the
/// straight-line projection), to exceed its amount in the current period, which it has
/// not yet.
pub fn overrun(
    s: &Store,
    workspace: WorkspaceId,
    budget: BudgetRow,
    now: DateTime<Utc>,
) -> Result<Option<Overrun>, AppError> {
    let (spec, evaluation, ahead) = with_forecast(s, workspace, &budget, now)?;
    let Some(forecast) = ahead.forecast else {
        return Ok(None);
    };
    if forecast.method != ForecastMethod::WeekdayTrend
        || evaluation.spent >= spec.amount
        || forecast.expected <= spec.amount
    {
        return Ok(None);
    }
    let crossing = expected_crossing(
        &ahead.days,
        evaluation.spent,
        spec.amount,
        &evaluation.window,
        now,
        spec.zone,
    );
    Ok(crossing.map(|crossing| Overrun {
        budget: Evaluated {
            budget,
            evaluation,
            forecast: Some(forecast),
            channels: Vec::new(),
        },
        crossing,
    }))
}

/// The channels chosen for budget `id`'s alerts (besides those subscribed to `budget`).
pub fn channels_of(
    s: &Store,
    workspace: WorkspaceId,
    id: BudgetId,
) -> Result<Vec<ChannelId>, AppError> {
    Ok(s.budget_channels(workspace)?
        .into_iter()
        .filter(|(b, _)| *b == id)
        .map(|(_, c)| c)
        .collect())
}

/// The account's budgets with their live status.
pub fn list(
    s: &Store,
    workspace: WorkspaceId,
    now: DateTime<Utc>,
) -> Result<Vec<Evaluated>, AppError> {
    s.list_budgets(workspace)?
        .into_iter()
        .map(|budget| evaluated(s, workspace, budget, now))
        .collect()
}

/// Creates a budget (within `limits`), or updates the one named by `id`, else by the
/// same name; `true` when created.
pub fn upsert(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    id: Option<BudgetId>,
    (form, channel_ids): (&NewBudget, Option<&[ChannelId]>),
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<(Evaluated, bool), AppError> {
    let existing = match id {
        Some(id) => Some(s.get_budget(workspace, id)?),
        None => s.find_budget_by_name(workspace, &form.name)?,
    };
    if existing.is_none() {
        ensure_room("budgets", s.list_budgets(workspace)?.len(), limits.budgets)?;
    }
    if let Some(ids) = channel_ids {
        let known = s.list_channels(workspace)?;
        if let Some(id) = ids.iter().find(|id| !known.iter().any(|c| c.id == **id)) {
            return Err(AppError::invalid(
                "channel_ids",
                format!("{id} is not one of this workspace's channels"),
            ));
        }
    }
    let (budget, created) = audited(s, workspace, &by.actor(), |c| {
        let (budget, created, action) = match &existing {
            Some(b) => (
                budgets::update(c, workspace, b.id, form)?,
                false,
                "budget.update",
            ),
            None => (budgets::create(c, workspace, form)?, true, "budget.create"),
        };
        if let Some(ids) = channel_ids {
            llmlab_store::channels::set_budget_channels(c, workspace, budget.id, ids)?;
        }
        let audit = Audit {
            action,
            target_kind: "budget",
            target_id: budget.id.to_string(),
            details: serde_json::json!({
                "name": budget.spec.name,
                "amount_nanos": budget.spec.amount_nanos,
                "period": budget.spec.period,
            }),
        };
        Ok(((budget, created), audit))
    })?;
    Ok((evaluated(s, workspace, budget, now)?, created))
}

/// Deletes a budget of the account.
pub fn remove(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    id: BudgetId,
) -> Result<(), AppError> {
    let audit = Audit {
        action: "budget.delete",
        target_kind: "budget",
        target_id: id.to_string(),
        details: serde_json::json!({}),
    };
    audited_delete(s, workspace, &by.actor(), "budget", audit, |c| {
        budgets::delete(c, workspace, id)
    })
}

/// The secret `workspace`'s webhook receivers verify deliveries with; each read is
/// recorded in the audit log.
pub fn webhook_secret(
    app: &App,
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
) -> Result<String, AppError> {
    audited(s, workspace, &by.actor(), |_| {
        let audit = Audit {
            action: "webhook_secret.read",
            target_kind: "workspace",
            target_id: workspace.to_string(),
            details: serde_json::json!({}),
        };
        Ok((app.webhooks.secret_for(workspace), audit))
    })
}

/// What the pre-flight check answers.
pub struct Check {
    /// False when a budget covering the call is exceeded.
    pub allowed: bool,
    /// The budgets covering the call, with their status (no forecast: the check is on
    /// the gateway's path to every call).
    pub budgets: Vec<(BudgetRow, Evaluation)>,
}

/// Pre-flight: may a gateway make a call to `provider`/`model` with `tag`? Answered
/// from the database, so every instance agrees.
/// The call's model is canonicalized as a budget scope's is ([`Scope::canonicalized`]),
/// so a budget for `gpt-4o` covers a call to a snapshot of it.
pub fn check(
    s: &Store,
    catalog: &Catalog,
    workspace: WorkspaceId,
    call: Scope,
    now: DateTime<Utc>,
) -> Result<Check, AppError> {
    let call = call.canonicalized(catalog);
    let tags: Vec<(String, String)> = call.tag.iter().cloned().collect();
    let (provider, model) = (call.provider.as_deref(), call.model.as_deref());
    let mut budgets = Vec::new();
    let mut allowed = true;
    for budget in s.list_budgets(workspace)? {
        let (_, scope) = spec(&budget)?;
        if !scope.covers(provider, model, &tags) {
            continue;
        }
        let (_, evaluation) = evaluate_row(s, workspace, &budget, now)?;
        allowed &= evaluation.status != BudgetStatus::Exceeded;
        budgets.push((budget, evaluation));
    }
    Ok(Check { allowed, budgets })
}

/// A budget's alerts, newest first, and every delivery attempt of them.
pub fn alerts(
    s: &Store,
    workspace: WorkspaceId,
    budget_id: BudgetId,
) -> Result<(Vec<AlertRow>, Vec<DeliveryRow>), AppError> {
    s.get_budget(workspace, budget_id)?;
    Ok((
        s.list_alerts(workspace, budget_id)?,
        s.list_deliveries(workspace, budget_id)?,
    ))
}

/// Shortest time between two budget evaluations of one account under sustained ingestion.
const EVALUATION_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// After ingestion: records an alert for every budget of the account whose spend has
/// reached its threshold or amount in the current period, and wakes the webhook worker
/// for the new ones. Runs off the request path (coalesced per account, see
/// [`AlertChecks`](crate::state::AlertChecks)); a failure is logged, never returned to
/// the ingesting client.
pub fn after_ingest(app: &App, workspace: WorkspaceId) {
    if !app.alert_checks.begin(workspace) {
        return;
    }
    let app = app.clone();
    tokio::spawn(async move {
        loop {
            let started = std::time::Instant::now();
            match blocking(&app, move |s| record_alerts(s, workspace, Utc::now())).await {
                Ok(true) => app.webhooks.wake(),
                Ok(false) => {}
                Err(e) => log::warn!("budget alert evaluation failed for user {workspace}: {e}"),
            }
            if !app.alert_checks.finish(workspace) {
                break;
            }
            // Events arrived meanwhile: evaluate again, but under sustained ingestion at
            // most every EVALUATION_INTERVAL (an alert is then at most that late), not
            // once per request.
            tokio::time::sleep(EVALUATION_INTERVAL.saturating_sub(started.elapsed())).await;
        }
    });
}

/// Records the alerts due now; `true` when one with a webhook to call was created.
fn record_alerts(s: &Store, workspace: WorkspaceId, now: DateTime<Utc>) -> Result<bool, AppError> {
    let mut to_deliver = false;
    for b in s.list_budgets(workspace)? {
        let (spec, e) = evaluate_row(s, workspace, &b, now)?;
        let period_start = e.window.start.map_or(0, |t| t.timestamp_micros());
        for level in crossed_levels(&spec, Usd::ZERO, e.spent) {
            let alert = NewAlert {
                budget_id: b.id,
                period_start,
                level: level.as_str().to_string(),
                spent_nanos: e.spent.nanos(),
                amount_nanos: b.spec.amount_nanos,
                delivery_status: if b.spec.webhook_url.is_some() {
                    delivery::PENDING
                } else {
                    delivery::NONE
                }
                .to_string(),
            };
            let created = s.record_alert(workspace, &alert)?;
            to_deliver |= created.is_some() && b.spec.webhook_url.is_some();
            if let Some(alert) = created {
                // The channels hear of it now; a failure here is caught up by the next
                // notification tick, so it must not stop the webhook.
                if let Err(e) = notifications::budget_alert(s, workspace, &b, &alert) {
                    log::warn!("budget {} alert {}: channels: {e}", b.id, alert.id);
                }
            }
        }
    }
    Ok(to_deliver)
}
