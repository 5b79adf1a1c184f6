//! Hard budgets: a call's worst case is reserved against every hard budget that covers
//! it before the call is made, atomically ([`llmlab_store::reservations`]), so callers
//! asking at once cannot together reserve more than a budget has left. The call's
//! event settles the reservation; a release or the TTL ends it early.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use llmlab_engine::Usd;
use llmlab_engine::budget::{Evaluation, Scope};
use llmlab_engine::period::period_window;
use llmlab_store::reservations::{Ask, Hold, Outcome};
use llmlab_store::{BudgetRow, EventFilter, WorkspaceId};

use super::{scope_filter, spec};
use crate::ingest::{EventIn, Tenant, prepare};
use crate::ledger::UnknownModels;
use crate::{App, AppError, blocking};

/// `enforce` of a budget that only alerts (the default).
pub const ALERT: &str = "alert";
/// `enforce` of a budget that refuses reservations beyond what it has left.
pub const HARD: &str = "hard";

/// How long a reservation lives unless told otherwise, and at most.
pub const DEFAULT_TTL_SECONDS: i64 = 300;
/// The longest a reservation may live: an hour covers the slowest call.
pub const MAX_TTL_SECONDS: i64 = 3_600;

/// A call about to be made, as a gateway describes it.
#[derive(Debug, Clone, Default)]
pub struct ReserveIn {
    /// Provider id from the catalog.
    pub provider: String,
    /// Model as the provider's API names it.
    pub model: String,
    /// The prompt's tokens.
    pub input_tokens: i64,
    /// The most the call may answer (the request's `max_tokens`).
    pub max_output_tokens: i64,
    /// The tags its event will carry.
    pub tags: Option<BTreeMap<String, String>>,
    /// Seconds the reservation lives unless settled or released (default 300, at most
    /// 3600).
    pub ttl_seconds: Option<i64>,
}

/// One hard budget a reservation holds.
pub struct Held {
    /// The budget.
    pub budget: BudgetRow,
    /// What it has left after this reservation.
    pub available: Usd,
}

/// A reservation made.
pub struct Reservation {
    /// Its id, for the call's event (`reservation_id`) or a release.
    pub id: String,
    /// The call's worst-case cost, held against each budget.
    pub amount: Usd,
    /// When it lapses by itself.
    pub expires_at: DateTime<Utc>,
    /// The hard budgets that cover the call (none: nothing to hold, nothing refused).
    pub budgets: Vec<Held>,
}

/// What a budget has left once live reservations are counted: amount − spent −
/// reserved, not below zero.
pub fn available(evaluation: &Evaluation, reserved: Usd) -> Usd {
    evaluation.remaining.saturating_sub(reserved).max(Usd::ZERO)
}

/// A new reservation id: 128 random bits, so ids cannot be guessed across workspaces
/// or collide within one.
fn new_id() -> String {
    format!("res_{:032x}", rand::random::<u128>())
}

fn ttl(seconds: Option<i64>) -> Result<Duration, AppError> {
    let seconds = seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&seconds) {
        return Err(AppError::invalid(
            "ttl_seconds",
            format!("must be between 1 and {MAX_TTL_SECONDS}"),
        ));
    }
    Ok(Duration::seconds(seconds))
}

/// The hard budgets covering a call to `provider`/`model` with `tags`, with what each
/// holds against: its amount and the events of its current period.
fn covering(
    budgets: Vec<BudgetRow>,
    call: &Scope,
    tags: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<(Vec<BudgetRow>, Vec<Hold>), AppError> {
    let (provider, model) = (call.provider.as_deref(), call.model.as_deref());
    let mut rows = Vec::new();
    let mut holds = Vec::new();
    for budget in budgets.into_iter().filter(|b| b.spec.enforce == HARD) {
        let (spec, scope) = spec(&budget)?;
        if !scope.covers(provider, model, tags) {
            continue;
        }
        let window = period_window(spec.period, now, spec.zone);
        holds.push(Hold {
            budget_id: budget.id,
            amount_nanos: spec.amount.nanos(),
            counts: EventFilter {
                start_micros: window.start.map(|t| t.timestamp_micros()),
                end_micros: window.end.map(|t| t.timestamp_micros()),
                ..scope_filter(scope)
            },
        });
        rows.push(budget);
    }
    Ok((rows, holds))
}

/// Prices the worst case of the call `body` describes (its input tokens and
/// `max_output_tokens` at the model's rates, as its event would be priced: custom
/// prices, long-context tiers) and reserves it against every hard budget of `who`'s
/// workspace that covers it, or refuses with [`AppError::BudgetExceeded`] naming the
/// first that has too little left. Alert-only budgets never refuse.
pub async fn reserve(app: &App, who: Tenant, body: ReserveIn) -> Result<Reservation, AppError> {
    let ttl = ttl(body.ttl_seconds)?;
    for (field, n) in [
        ("input_tokens", body.input_tokens),
        ("max_output_tokens", body.max_output_tokens),
    ] {
        if n < 0 {
            return Err(AppError::invalid(field, "must not be negative"));
        }
    }
    let mut event = EventIn {
        provider: body.provider,
        model: body.model,
        input_tokens: Some(body.input_tokens),
        output_tokens: Some(body.max_output_tokens),
        tags: body.tags,
        ..EventIn::default()
    };
    who.stamp(&mut event);
    let (shared, workspace, version) = (app.clone(), who.workspace, who.prices_version);
    let max_live = app.settings.limits.reservations;
    blocking(app, move |s| {
        let custom = shared.prices.get(s, workspace, version)?;
        let now = Utc::now();
        // The call is priced as its event will be; a model without a price cannot be
        // held against anything.
        let priced = prepare(&shared.catalog, &custom, UnknownModels::Reject, event, now)
            .map_err(|e| e.renamed("output_tokens", "max_output_tokens"))?;
        let call = priced.event;
        let scope = Scope {
            provider: Some(call.provider.clone()),
            model: Some(call.model.to_ascii_lowercase()),
            tag: None,
        }
        .canonicalized(&shared.catalog);
        let tags: Vec<(String, String)> = call.tags.into_iter().collect();
        let (rows, holds) = covering(s.list_budgets(workspace)?, &scope, &tags, now)?;
        let id = new_id();
        let expires_at = now + ttl;
        let amount = Usd::from_nanos(call.cost_nanos);
        if holds.is_empty() {
            // No hard budget covers the call: nothing to hold, nothing to refuse.
            return Ok(Reservation {
                id,
                amount,
                expires_at,
                budgets: Vec::new(),
            });
        }
        let ask = Ask {
            holds,
            reservation_id: id.clone(),
            amount_nanos: call.cost_nanos,
            now: now.timestamp_micros(),
            expires_at: expires_at.timestamp_micros(),
            max_live,
        };
        let outcome = shared.reservations.reserve(workspace, ask)?;
        shared.metrics.reservation(match &outcome {
            Outcome::Held(_) => "held",
            Outcome::Refused(_) => "refused",
            Outcome::Full => "full",
        });
        match outcome {
            Outcome::Held(standings) => Ok(Reservation {
                id,
                amount,
                expires_at,
                budgets: rows
                    .into_iter()
                    .zip(standings)
                    .map(|(budget, standing)| Held {
                        budget,
                        available: Usd::from_nanos(standing.available_nanos()),
                    })
                    .collect(),
            }),
            Outcome::Refused(standing) => {
                let budget = rows
                    .into_iter()
                    .find(|b| b.id == standing.budget_id)
                    .ok_or_else(|| AppError::Internal("a refusing budget went missing".into()))?;
                Err(AppError::BudgetExceeded {
                    budget_id: budget.id,
                    name: budget.spec.name,
                    available: Usd::from_nanos(standing.available_nanos()),
                    requested: amount,
                })
            }
            Outcome::Full => Err(AppError::LimitExceeded {
                what: "live reservations",
                limit: max_live,
            }),
        }
    })
    .await
}

/// Releases reservation `id` of `workspace` before its call is made (or when it will
/// not be). Releasing one that was settled, released or has expired changes nothing,
/// so a caller may always release after a failed call.
pub async fn release(app: &App, workspace: WorkspaceId, id: String) -> Result<(), AppError> {
    crate::input::check_text("reservation_id", &id)?;
    if id.is_empty() || id.len() > 256 {
        return Err(AppError::invalid(
            "reservation_id",
            "must be 1 to 256 bytes",
        ));
    }
    blocking(app, move |s| {
        s.release_reservation(workspace, &id).map(drop)
    })
    .await
}

/// What live reservations hold against each of `budgets` now (nothing for alert-only
/// budgets, which are never reserved against).
pub(crate) fn held(
    s: &llmlab_store::Store,
    workspace: WorkspaceId,
    budgets: &[BudgetRow],
    now: DateTime<Utc>,
) -> Result<Vec<Usd>, AppError> {
    let hard: Vec<_> = budgets
        .iter()
        .filter(|b| b.spec.enforce == HARD)
        .map(|b| b.id)
        .collect();
    let mut of_hard = s
        .held_each(workspace, &hard, now.timestamp_micros())?
        .into_iter();
    Ok(budgets
        .iter()
        .map(|b| match b.spec.enforce.as_str() {
            HARD => Usd::from_nanos(of_hard.next().unwrap_or(0)),
            _ => Usd::ZERO,
        })
        .collect())
}
