//! Commitments: an amount prepaid or committed to a provider (or to all) over a period
//! of days, and where it stands: consumed (the ledger's spend in its scope and period),
//! remaining, forecast at its end (the same model as budgets' forecasts), and the day it
//! is expected to run out when that comes before its end.

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_engine::Usd;
use llmlab_engine::period::{Window, Zone};
use llmlab_engine::providers::Catalog;
use llmlab_store::commitments::{self, CommitmentRow, NewCommitment};
use llmlab_store::{Store, WorkspaceId};

use crate::auth::Identity;
use crate::{AppError, Audit, audited, audited_delete, ensure_room, reports};

/// Commitments one workspace may hold.
pub const MAX_COMMITMENTS: usize = 100;
/// The largest commitment: $1,000,000,000.
const MAX_AMOUNT: Usd = Usd::from_nanos(1_000_000_000 * llmlab_engine::NANOS_PER_USD);
/// The longest commitment: ten years of days.
const MAX_DAYS: i64 = 3_660;

/// A commitment as the API sends it.
#[derive(Debug, Clone)]
pub struct CommitmentForm {
    /// Name, unique in the workspace.
    pub name: String,
    /// The provider it is with; none for all.
    pub provider: Option<String>,
    /// The amount.
    pub amount_usd: Usd,
    /// First day (UTC), `YYYY-MM-DD`.
    pub start: String,
    /// Last day (UTC), inclusive.
    pub end: String,
}

/// A commitment with where it stands.
pub struct Standing {
    /// The stored commitment.
    pub commitment: CommitmentRow,
    /// Spent in its scope and period so far.
    pub consumed: Usd,
    /// Amount − consumed, not below zero.
    pub remaining: Usd,
    /// Expected spend by its end: what was consumed once it has ended; `None` before it
    /// starts.
    pub forecast_end: Option<Usd>,
    /// The day (UTC) its amount is expected to be used up, when before its end and not
    /// used up yet.
    pub exhaustion: Option<NaiveDate>,
    /// Whether the forecast comes from the weekday trend of enough history (not the
    /// straight line of the spend so far): what notices are sent from.
    pub trend: bool,
}

/// Checks a commitment as sent.
pub fn validate(catalog: &Catalog, form: CommitmentForm) -> Result<NewCommitment, AppError> {
    let name = form.name.trim().to_string();
    crate::input::check_text("name", &name)?;
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::invalid("name", "must be 1 to 200 characters"));
    }
    let provider = form
        .provider
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty());
    if let Some(p) = &provider {
        crate::input::check_text("provider", p)?;
        if catalog.provider(p).is_none() {
            return Err(AppError::invalid(
                "provider",
                format!("unknown provider '{p}'"),
            ));
        }
    }
    if form.amount_usd <= Usd::ZERO || form.amount_usd > MAX_AMOUNT {
        return Err(AppError::invalid(
            "amount_usd",
            format!("must be more than 0 and at most {MAX_AMOUNT}"),
        ));
    }
    let day = |field: &str, s: &str| {
        crate::input::parse_day(s)
            .map_err(|_| AppError::invalid(field, "must be a date such as 2026-01-31"))
    };
    let (start, end) = (day("start", &form.start)?, day("end", &form.end)?);
    for (field, d) in [("start", start), ("end", end)] {
        let at = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default();
        crate::input::in_supported_years(field, at)?;
    }
    let days = (end - start).num_days();
    if !(0..MAX_DAYS).contains(&days) {
        return Err(AppError::invalid(
            "end",
            format!("must be on or after start, and at most {MAX_DAYS} days after it"),
        ));
    }
    Ok(NewCommitment {
        name,
        provider,
        amount_nanos: form.amount_usd.nanos(),
        start_date: start,
        end_date: end,
    })
}

/// Creates a commitment (at most [`MAX_COMMITMENTS`] per workspace).
pub fn create(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    new: NewCommitment,
    now: DateTime<Utc>,
) -> Result<Standing, AppError> {
    ensure_room(
        "commitments",
        s.list_commitments(workspace)?.len(),
        MAX_COMMITMENTS,
    )?;
    let row = audited(s, workspace, &by.actor(), |c| {
        let row = commitments::create(c, workspace, &new)?;
        // Its forecast is looked at by the notification scheduler.
        llmlab_store::schedule::mark_due(c, workspace, now.timestamp_micros())?;
        let audit = Audit {
            action: "commitment.create",
            target_kind: "commitment",
            target_id: row.id.to_string(),
            details: serde_json::json!({
                "name": row.spec.name,
                "amount_nanos": row.spec.amount_nanos,
                "start": row.spec.start_date,
                "end": row.spec.end_date,
            }),
        };
        Ok((row, audit))
    })?;
    standing(s, workspace, row, now)
}

/// The workspace's commitments with where each stands.
pub fn list(
    s: &Store,
    workspace: WorkspaceId,
    now: DateTime<Utc>,
) -> Result<Vec<Standing>, AppError> {
    s.list_commitments(workspace)?
        .into_iter()
        .map(|row| standing(s, workspace, row, now))
        .collect()
}

/// Deletes a commitment of the workspace.
pub fn remove(s: &Store, workspace: WorkspaceId, by: &Identity, id: i64) -> Result<(), AppError> {
    let audit = Audit {
        action: "commitment.delete",
        target_kind: "commitment",
        target_id: id.to_string(),
        details: serde_json::json!({}),
    };
    audited_delete(s, workspace, &by.actor(), "commitment", audit, |c| {
        commitments::delete(c, workspace, id)
    })
}

/// Where `row` stands at `now`.
pub(crate) fn standing(
    s: &Store,
    workspace: WorkspaceId,
    row: CommitmentRow,
    now: DateTime<Utc>,
) -> Result<Standing, AppError> {
    let filter = row.filter();
    let window = Window {
        start: filter
            .start_micros
            .and_then(DateTime::from_timestamp_micros),
        end: filter.end_micros.and_then(DateTime::from_timestamp_micros),
    };
    let amount = Usd::from_nanos(row.spec.amount_nanos);
    let scope = llmlab_store::EventFilter {
        start_micros: None,
        end_micros: None,
        ..filter.clone()
    };
    let consumed = Usd::from_nanos(s.spend(workspace, &filter)?);
    let started = window.start.is_some_and(|t| t <= now);
    let ended = window.end.is_some_and(|t| t <= now);
    let (forecast_end, exhaustion, trend) = if !started {
        (None, None, false)
    } else if ended {
        (Some(consumed), None, false)
    } else {
        let ahead = reports::forecast_window(
            s,
            workspace,
            &scope,
            (window, Zone::UTC),
            Some(consumed),
            now,
        )?;
        let day = crate::budgets::crossing(&ahead, amount, Zone::UTC, now).map(|t| t.date_naive());
        let trend = ahead
            .forecast
            .is_some_and(|f| f.method == llmlab_engine::forecast::ForecastMethod::WeekdayTrend);
        (ahead.forecast.map(|f| f.expected), day, trend)
    };
    Ok(Standing {
        consumed,
        remaining: amount.saturating_sub(consumed).max(Usd::ZERO),
        forecast_end,
        trend,
        exhaustion: exhaustion.filter(|d| *d <= row.spec.end_date),
        commitment: row,
    })
}
