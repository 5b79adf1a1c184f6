//! Budgets: live status, create or update within the account's limit (with the
//! budget's webhook, a channel of its own), and the pre-flight check. Their alerts are
//! [`crate::alerts`]' (re-exported here: [`after_ingest`], [`alerts`]).

use std::collections::BTreeMap;

use llmlab_store::{BudgetId, ChannelId, WorkspaceId, budgets};

use crate::auth::Identity;
use crate::{Audit, audited, audited_delete};
use chrono::{DateTime, Utc};
use llmlab_engine::Usd;
use llmlab_engine::budget::{BudgetSpec, BudgetStatus, Evaluation, Scope, Threshold, evaluate};
use llmlab_engine::forecast::{Forecast, ForecastMethod, expected_crossing};
use llmlab_engine::period::{Period, Zone, period_window};
use llmlab_store::{BudgetRow, EventFilter, Store};

use crate::config::Limits;
use crate::{App, AppError, ensure_room, reports};

pub use crate::alerts::{after_ingest, alerts};
use llmlab_engine::providers::Catalog;

mod burn;
mod form;
mod hard;

pub use burn::{BurnStep, burn_down};
pub use form::{BudgetChange, BudgetForm, ScopeForm, validate};
pub use hard::{
    ALERT, DEFAULT_TTL_SECONDS, HARD, Held, MAX_TTL_SECONDS, Reservation, ReserveIn, available,
    release, reserve,
};

/// A budget with its status now.
pub struct Evaluated {
    /// The stored budget.
    pub budget: BudgetRow,
    /// Its spend and status in the current period.
    pub evaluation: Evaluation,
    /// What live reservations hold against it (a hard budget's; zero for others).
    pub reserved: Usd,
    /// Where its spend is heading by the period's end (`None` for `total` budgets).
    pub forecast: Option<Forecast>,
    /// When the forecast has its spend cross the amount, if before the period ends and
    /// not crossed yet (see [`crossing`]).
    pub crossing: Option<DateTime<Utc>>,
    /// The channels its alerts go to besides those subscribed to `budget`.
    pub channels: Vec<ChannelId>,
    /// Where its alerts are POSTed (its own channel's target).
    pub webhook_url: Option<String>,
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

/// Evaluates budgets against their spend in their current periods, all in one SQL
/// statement (`Store::spend_each`): this runs after every burst of ingestion and on every
/// pre-flight check, for every budget of the workspace.
pub(crate) fn evaluate_all(
    s: &Store,
    workspace: WorkspaceId,
    budgets: &[BudgetRow],
    now: DateTime<Utc>,
) -> Result<Vec<(BudgetSpec, Evaluation)>, AppError> {
    let mut specs = Vec::with_capacity(budgets.len());
    let mut filters = Vec::with_capacity(budgets.len());
    for b in budgets {
        let (spec, scope) = spec(b)?;
        let window = period_window(spec.period, now, spec.zone);
        filters.push(EventFilter {
            start_micros: window.start.map(|t| t.timestamp_micros()),
            end_micros: window.end.map(|t| t.timestamp_micros()),
            ..scope_filter(scope)
        });
        specs.push(spec);
    }
    let spent = s.spend_each(workspace, &filters)?;
    Ok(specs
        .into_iter()
        .zip(spent)
        .map(|(spec, spent)| {
            let evaluation = evaluate(&spec, Usd::from_nanos(spent), now);
            (spec, evaluation)
        })
        .collect())
}

/// One budget's status (see [`evaluate_all`]).
fn evaluate_one(
    s: &Store,
    workspace: WorkspaceId,
    budget: &BudgetRow,
    now: DateTime<Utc>,
) -> Result<(BudgetSpec, Evaluation), AppError> {
    evaluate_all(s, workspace, std::slice::from_ref(budget), now)?
        .pop()
        .ok_or_else(|| AppError::Internal("a budget's spend went missing".into()))
}

/// The forecast of a budget's period from the scope's daily history, given its status.
fn with_forecast(
    s: &Store,
    workspace: WorkspaceId,
    budget: &BudgetRow,
    (spec, evaluation): &(BudgetSpec, Evaluation),
    now: DateTime<Utc>,
) -> Result<reports::PeriodForecast, AppError> {
    let (_, scope) = self::spec(budget)?;
    reports::forecast(
        s,
        workspace,
        &scope_filter(scope),
        (spec.period, spec.zone),
        Some(evaluation.spent),
        now,
    )
}

/// The channels and webhooks of a workspace's budgets, read once for all of them (each
/// read returns the whole workspace's).
#[derive(Default)]
struct Links {
    channels: BTreeMap<BudgetId, Vec<ChannelId>>,
    webhooks: BTreeMap<BudgetId, String>,
}

impl Links {
    fn load(s: &Store, workspace: WorkspaceId) -> Result<Links, AppError> {
        let mut links = Links::default();
        for (budget, channel) in s.budget_channels(workspace)? {
            links.channels.entry(budget).or_default().push(channel);
        }
        links.webhooks = s.budget_webhooks(workspace)?.into_iter().collect();
        Ok(links)
    }

    /// Budget `id`'s channels and webhook.
    fn take(&mut self, id: BudgetId) -> (Vec<ChannelId>, Option<String>) {
        (
            self.channels.remove(&id).unwrap_or_default(),
            self.webhooks.remove(&id),
        )
    }
}

/// A budget with its status, its forecast, its channels and its webhook.
fn evaluated(
    s: &Store,
    workspace: WorkspaceId,
    (budget, reserved): (BudgetRow, Usd),
    status: (BudgetSpec, Evaluation),
    links: &mut Links,
    now: DateTime<Utc>,
) -> Result<Evaluated, AppError> {
    let ahead = with_forecast(s, workspace, &budget, &status, now)?;
    let (channels, webhook_url) = links.take(budget.id);
    let crossing = crossing(&ahead, status.0.amount, status.0.zone, now);
    Ok(Evaluated {
        channels,
        webhook_url,
        budget,
        reserved,
        evaluation: status.1,
        forecast: ahead.forecast,
        crossing,
    })
}

/// When spend is expected to cross the budget's amount in the current period, which it
/// has not yet: by the weekday model's days when there is the history for it (the start
/// of that local day), else on the straight line the projection draws (the period's
/// spend so far at its rate so far). `None` when the forecast stays within the amount.
pub(crate) fn crossing(
    ahead: &reports::PeriodForecast,
    amount: Usd,
    zone: Zone,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let forecast = ahead.forecast?;
    let spent = ahead.spent;
    if spent >= amount || forecast.expected <= amount {
        return None;
    }
    let window = &ahead.window;
    match forecast.method {
        ForecastMethod::WeekdayTrend => {
            expected_crossing(&ahead.days, spent, amount, window, now, zone)
        }
        ForecastMethod::InsufficientHistory => {
            let start = window.start?;
            let elapsed = i128::from((now - start).num_microseconds()?);
            let spent = i128::from(spent.nanos());
            if spent <= 0 {
                return None;
            }
            let at = elapsed * i128::from(amount.nanos()) / spent;
            let at = start + chrono::Duration::microseconds(i64::try_from(at).ok()?);
            (at < window.end?).then_some(at)
        }
    }
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
    overrun_in(s, workspace, budget, None, now)
}

/// [`overrun`], from the workspace's spend per UTC day (`days`) when it holds what the
/// budget needs (it counts every event and keeps UTC); otherwise from reads of its own.
pub(crate) fn overrun_in(
    s: &Store,
    workspace: WorkspaceId,
    budget: BudgetRow,
    days: Option<reports::UtcDays<'_>>,
    now: DateTime<Utc>,
) -> Result<Option<Overrun>, AppError> {
    let (spec, scope) = spec(&budget)?;
    let read = days
        .filter(|_| scope == Scope::default() && spec.zone == Zone::UTC)
        .and_then(|days| reports::forecast_from_days(days, spec.period, now));
    let (status, ahead) = match read {
        Some(ahead) => {
            let evaluation = evaluate(&spec, ahead.spent, now);
            ((spec, evaluation), ahead)
        }
        None => {
            let status = evaluate_one(s, workspace, &budget, now)?;
            let ahead = with_forecast(s, workspace, &budget, &status, now)?;
            (status, ahead)
        }
    };
    let (spec, evaluation) = status;
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
    let Some(crossing) = crossing else {
        return Ok(None);
    };
    let reserved = hard::held(s, workspace, std::slice::from_ref(&budget), now)?;
    Ok(Some(Overrun {
        budget: Evaluated {
            reserved: reserved.first().copied().unwrap_or(Usd::ZERO),
            budget,
            evaluation,
            forecast: Some(forecast),
            crossing: Some(crossing),
            channels: Vec::new(),
            webhook_url: None,
        },
        crossing,
    }))
}

/// The channels chosen for budget `id`'s alerts (besides those subscribed to `budget`).
/// For one budget; [`list`] reads every budget's at once.
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

/// The account's budgets with their live status: their spend in one statement, their
/// channels and webhooks in one read each, then each one's forecast.
pub fn list(
    s: &Store,
    workspace: WorkspaceId,
    now: DateTime<Utc>,
) -> Result<Vec<Evaluated>, AppError> {
    let budgets = s.list_budgets(workspace)?;
    let statuses = evaluate_all(s, workspace, &budgets, now)?;
    let held = hard::held(s, workspace, &budgets, now)?;
    let mut links = Links::load(s, workspace)?;
    budgets
        .into_iter()
        .zip(held)
        .zip(statuses)
        .map(|(budget, status)| evaluated(s, workspace, budget, status, &mut links, now))
        .collect()
}

/// Creates a budget (within `limits`), or updates the one named by `id`, else by the
/// same name, with its webhook; `true` when created.
pub fn upsert(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    id: Option<BudgetId>,
    (change, channel_ids): (&BudgetChange, Option<&[ChannelId]>),
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<(Evaluated, bool), AppError> {
    let form = &change.budget;
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
        let webhook = change.webhook_url.as_deref();
        llmlab_store::channels::set_budget_webhook(c, workspace, budget.id, webhook)?;
        // Its forecast is looked at again by the notification scheduler.
        llmlab_store::schedule::mark_due(c, workspace, now.timestamp_micros())?;
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
    let status = evaluate_one(s, workspace, &budget, now)?;
    let held = hard::held(s, workspace, std::slice::from_ref(&budget), now)?;
    let reserved = held.first().copied().unwrap_or(Usd::ZERO);
    let mut links = Links::load(s, workspace)?;
    let evaluated = evaluated(s, workspace, (budget, reserved), status, &mut links, now)?;
    Ok((evaluated, created))
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
    /// False when a budget covering the call is exceeded, or a hard one has nothing
    /// left once its live reservations are counted.
    pub allowed: bool,
    /// The budgets covering the call, with their status and what live reservations
    /// hold against each (no forecast: the check is on the gateway's path to every
    /// call).
    pub budgets: Vec<(BudgetRow, Evaluation, Usd)>,
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
    let mut covering = Vec::new();
    for budget in s.list_budgets(workspace)? {
        let (_, scope) = spec(&budget)?;
        if scope.covers(provider, model, &tags) {
            covering.push(budget);
        }
    }
    let statuses = evaluate_all(s, workspace, &covering, now)?;
    let held = hard::held(s, workspace, &covering, now)?;
    let budgets: Vec<(BudgetRow, Evaluation, Usd)> = covering
        .into_iter()
        .zip(statuses)
        .zip(held)
        .map(|((budget, (_, evaluation)), held)| (budget, evaluation, held))
        .collect();
    let allowed = budgets.iter().all(|(b, e, held)| {
        e.status != BudgetStatus::Exceeded
            && (b.spec.enforce != HARD || available(e, *held) > Usd::ZERO)
    });
    Ok(Check { allowed, budgets })
}
