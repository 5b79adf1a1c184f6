//! The scheduler's tick: which workspaces are due, leased by this instance a batch at
//! a time, and what a visit of each records (`crate::notifications` makes the notices).
//! What the visits of a batch read is read once for the whole batch
//! (`llmlab_store::visits`), including each workspace's spend per UTC day, from which
//! the forecast of every budget that counts all its events in UTC is made; a visit then
//! reads only what is its alone: the forecast of a budget with a scope or another zone,
//! an anomaly's attribution, the unpriced models of a workspace that has any, a report
//! that is due.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use llmlab_engine::period::Zone;
use llmlab_engine::providers::Catalog;
use llmlab_recs::AnomalyConfig;
use llmlab_store::schedule::{Due, Next};
use llmlab_store::send_quota::Allowance;
use llmlab_store::visits::Visits;
use llmlab_store::{Store, StoreError, WorkspaceId};

use crate::AppError;
use crate::notifications::{
    Audience, anomalies, budget_alert, commitments, forecasts, report, unpriced,
};
use crate::notify::calendar::next_due;
use crate::notify::notice::Event;
use crate::recommendations::{day_micros, history};
use crate::reports::{UtcDays, forecast_reach};

/// How long a visit may take before another instance may visit the workspace again: an
/// instance that dies mid-visit delays the workspace by this much.
const LEASE: Duration = Duration::minutes(5);

/// Due workspaces read, leased and read for at once.
const DUE_BATCH: i64 = 200;

/// An alert whose channels are still untold after this long was left by an instance
/// that stopped (younger ones are being told by the request that raised them).
const UNTOLD_AFTER: Duration = Duration::minutes(1);

/// Untold alerts told per tick, at most.
const UNTOLD_BATCH: i64 = 500;

/// What one [`tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Notifications newly recorded.
    pub new: usize,
    /// Workspaces visited (due and leased by this instance).
    pub visited: u64,
}

/// Asks the email addresses never asked to confirm, tells the channels of alerts left
/// untold, then visits the due workspaces this instance can lease and records what is
/// due there. One workspace's failure is logged and does not stop the others (its lease
/// runs out and it is visited again).
pub fn tick(
    s: &Store,
    catalog: &Catalog,
    emails: Allowance,
    now: DateTime<Utc>,
) -> Result<Tick, AppError> {
    let mut done = Tick {
        new: crate::consent::ask_earlier(s, emails).unwrap_or_else(|e| {
            log::warn!("notifications: asking earlier email addresses to confirm: {e}");
            0
        }),
        visited: 0,
    };
    done.new += untold_alerts(s, now)?;
    let at = now.timestamp_micros();
    let lease = (now + LEASE).timestamp_micros();
    // The days the anomaly scan looks at, and those every UTC budget's forecast needs.
    let (first, today) = history(&AnomalyConfig::default(), now);
    let scanned = (day_micros(first), day_micros(today + Duration::days(1)));
    let reach = forecast_reach(now);
    let days = (scanned.0.min(reach.0), scanned.1.max(reach.1));
    let mut seen = HashSet::new();
    loop {
        let due = s.due_for_notifications(at, DUE_BATCH)?;
        // One made due again meanwhile by an instance whose clock is behind: next tick.
        let fresh: Vec<WorkspaceId> = due
            .iter()
            .map(|d| d.workspace_id)
            .filter(|id| seen.insert(*id))
            .collect();
        if fresh.is_empty() {
            return Ok(done);
        }
        // Claimed, read for and rescheduled together: a few statements for the batch
        // where each workspace would cost them all again.
        let taken = s.claim_notification_visits(&fresh, at, lease)?;
        let ids: Vec<WorkspaceId> = taken.iter().map(|d| d.workspace_id).collect();
        let read = s.read_visits(&ids, days.0, days.1)?;
        let mut visits = Vec::new();
        for d in taken {
            done.visited += 1;
            match visit(s, catalog, d, &read, (days, scanned), now) {
                Ok((new, next)) => {
                    done.new += new;
                    visits.push((d, next));
                }
                // Left leased: looked at again when the lease runs out.
                Err(e) => log::warn!("notifications for workspace {}: {e}", d.workspace_id),
            }
        }
        s.reschedule_notifications(&visits, lease)?;
        if due.len() < usize::try_from(DUE_BATCH).unwrap_or(usize::MAX) {
            return Ok(done);
        }
    }
}

/// Tells the channels of the alerts raised in the last day whose instance stopped before
/// it could (one query finds them, whatever the number of workspaces).
fn untold_alerts(s: &Store, now: DateTime<Utc>) -> Result<usize, AppError> {
    let since = (now - Duration::days(1)).naive_utc();
    let settled = (now - UNTOLD_AFTER).naive_utc();
    let mut new = 0;
    for alert in s.unnotified_alerts(since, UNTOLD_BATCH)? {
        if alert.created_at > settled {
            break;
        }
        let ws = alert.workspace_id;
        let told = s
            .get_budget(ws, alert.budget_id)
            .map_err(AppError::from)
            .and_then(|budget| budget_alert(s, ws, &budget, &alert));
        match told {
            Ok(n) => new += n,
            // Its budget is gone (and the alert with it, but for a race): nothing to tell.
            Err(AppError::Store(StoreError::NotFound)) => s.mark_alert_notified(ws, alert.id)?,
            Err(e) => log::warn!(
                "notifications for alert {} of workspace {ws}: {e}",
                alert.id
            ),
        }
    }
    Ok(new)
}

/// One workspace's visit, from what was read for its batch (`read`): what is due there
/// recorded, and when it is next due on its own (`None` when it has no channels left).
fn visit(
    s: &Store,
    catalog: &Catalog,
    due: Due,
    read: &Visits,
    (days, scanned): ((i64, i64), (i64, i64)),
    now: DateTime<Utc>,
) -> Result<(usize, Option<Next>), AppError> {
    let id = due.workspace_id;
    let Some((_, name, zone)) = read.workspaces.iter().find(|w| w.0 == id) else {
        // Deleted since it was due; its schedule row went with it.
        return Ok((0, None));
    };
    let a = Audience {
        id,
        name: name.clone(),
        zone: Zone::parse(zone).unwrap_or(Zone::UTC),
        channels: of(&read.channels, id, |c| c.workspace_id)
            .cloned()
            .collect(),
    };
    if a.channels.is_empty() {
        return Ok((0, None));
    }
    let mut new = 0;
    if due.changed {
        let budgets: Vec<_> = of(&read.budgets, id, |b| b.workspace_id).cloned().collect();
        let links: Vec<_> = of(&read.budget_channels, id, |l| l.0)
            .map(|&(_, b, c)| (b, c))
            .collect();
        let spent: Vec<(i64, i64)> = of(&read.days, id, |d| d.workspace_id)
            .map(|d| (d.day_start_micros, d.cost_nanos))
            .collect();
        let daily = UtcDays {
            from: days.0,
            to: days.1,
            spent: &spent,
        };
        new += forecasts(s, &a, (&budgets, &links), daily, now)?;
        let held: Vec<_> = of(&read.commitments, id, |c| c.workspace_id)
            .cloned()
            .collect();
        new += commitments(s, &a, &held, now)?;
        if !a.to(Event::Anomaly, &[]).is_empty() {
            let scan: Vec<(i64, i64)> = spent
                .iter()
                .copied()
                .filter(|(day, _)| (scanned.0..scanned.1).contains(day))
                .collect();
            new += anomalies(s, &a, &scan, now)?;
        }
        if !a.to(Event::Unpriced, &[]).is_empty() && read.unpriced.contains(&id) {
            new += unpriced(s, &a)?;
        }
    }
    for kind in [Event::ReportWeekly, Event::ReportMonthly] {
        new += report(s, catalog, &a, kind, now)?;
    }
    Ok((new, Some(next_due(now, a.zone))))
}

/// The rows of workspace `id` in `rows`, which are ordered by workspace.
fn of<T>(
    rows: &[T],
    id: WorkspaceId,
    workspace: impl Fn(&T) -> WorkspaceId,
) -> impl Iterator<Item = &T> {
    let start = rows.partition_point(|r| workspace(r) < id);
    rows[start..].iter().take_while(move |r| workspace(r) == id)
}
