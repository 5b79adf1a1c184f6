//! When the notification scheduler next visits each workspace that has channels
//! (`notify_schedule`), so that a tick costs what is due, not what exists.
//!
//! A workspace is due when its `due_at` has passed. Ingestion and changes to its channels
//! or budgets make it due now and `changed` ([`mark_due`]): its next visit looks at
//! everything, where one due for a report only makes the report. A visit first takes a
//! lease by moving `due_at` to the lease's end ([`claim`], so instances racing for it
//! visit it once and one that dies only delays it to then), and when done sets when
//! something next falls due on its own ([`reschedule`]), unless something made it due
//! meanwhile. Every statement here but [`due`] names one workspace (one shard on a
//! sharded PostgreSQL); [`due`] reads one index range.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::schema::notify_schedule;
use crate::{AnyConnection, StoreError, WorkspaceId};

/// Most workspaces one statement names (SQLite allows 32,766 bound values).
const IDS_PER_STATEMENT: usize = 1_000;

/// Puts `workspace` on the schedule, due at `now` (its first channel was created):
/// idempotent.
pub fn enrol(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    now: i64,
) -> Result<(), StoreError> {
    let row = (
        notify_schedule::workspace_id.eq(workspace_id),
        notify_schedule::due_at.eq(now),
        notify_schedule::changed.eq(true),
    );
    with_backend!(conn, |c| diesel::insert_into(notify_schedule::table)
        .values(row)
        .on_conflict(notify_schedule::workspace_id)
        .do_nothing()
        .execute(c))?;
    mark_due(conn, workspace_id, now)?;
    Ok(())
}

/// Puts every workspace that has channels on the schedule, due at `now`, unless it is
/// already there: each instance does it when its scheduler starts, so a channel that an
/// instance of an earlier version created during a rolling upgrade is not left out.
/// How many were added.
pub fn enrol_all(conn: &mut AnyConnection, now: i64) -> Result<usize, StoreError> {
    use crate::schema::channels;
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Bool};

    let with_channels = channels::table
        .filter(channels::budget_id.is_null())
        .select((
            channels::workspace_id,
            sql::<BigInt>("").bind::<BigInt, _>(now),
            sql::<Bool>("").bind::<Bool, _>(true),
        ))
        .distinct();
    Ok(with_backend!(conn, |c| diesel::insert_into(
        notify_schedule::table
    )
    .values(with_channels)
    .into_columns((
        notify_schedule::workspace_id,
        notify_schedule::due_at,
        notify_schedule::changed,
    ))
    .on_conflict_do_nothing()
    .execute(c))?)
}

/// Makes `workspace` due at `now` with a change to look at, unless it already is (a
/// workspace off the schedule, having no channels, stays off): whether this wrote.
/// Under sustained ingestion that is once per visit, not once per event; during a visit
/// (`due_at` is its lease's end) it makes the workspace due again, so a change the
/// visit may have missed is looked at by the next tick.
pub fn mark_due(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(mark(conn, Some(workspace_id), now)? == 1)
}

/// Makes every workspace on the schedule due at `now` with a change to look at, as if
/// events had just arrived everywhere: for an operator who wants everything looked at
/// at once, and for tests that tick at instants of their choosing. How many it moved.
pub fn mark_every_due(conn: &mut AnyConnection, now: i64) -> Result<usize, StoreError> {
    mark(conn, None, now)
}

/// Makes `workspace` (or every workspace) due at `now` with a change, where it is not
/// already: the rows it moved.
fn mark(
    conn: &mut AnyConnection,
    workspace_id: Option<WorkspaceId>,
    now: i64,
) -> Result<usize, StoreError> {
    let mut update = diesel::update(notify_schedule::table)
        .filter(
            notify_schedule::due_at
                .gt(now)
                .or(notify_schedule::changed.eq(false)),
        )
        .set((
            notify_schedule::due_at.eq(now),
            notify_schedule::changed.eq(true),
        ))
        .into_boxed();
    if let Some(id) = workspace_id {
        update = update.filter(notify_schedule::workspace_id.eq(id));
    }
    Ok(update.execute(conn)?)
}

/// A workspace due for a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Whether something changed since its last full visit (else only what falls due
    /// with time, its reports, is).
    pub changed: bool,
}

/// Up to `limit` workspaces due at `now`, longest waiting first.
pub fn due(conn: &mut AnyConnection, now: i64, limit: i64) -> Result<Vec<Due>, StoreError> {
    let rows: Vec<(WorkspaceId, bool)> = notify_schedule::table
        .filter(notify_schedule::due_at.le(now))
        .order((notify_schedule::due_at, notify_schedule::workspace_id))
        .select((notify_schedule::workspace_id, notify_schedule::changed))
        .limit(limit)
        .load(conn)?;
    Ok(rows.into_iter().map(Due::from).collect())
}

impl From<(WorkspaceId, bool)> for Due {
    fn from((workspace_id, changed): (WorkspaceId, bool)) -> Self {
        Due {
            workspace_id,
            changed,
        }
    }
}

/// Takes the visits of those of `workspaces` still due at `now` until `lease_until`,
/// in one statement: the ones taken (another instance took the others first), each
/// with whether it had changed as of the claim.
pub fn claim(
    conn: &mut AnyConnection,
    workspaces: &[WorkspaceId],
    now: i64,
    lease_until: i64,
) -> Result<Vec<Due>, StoreError> {
    if workspaces.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(WorkspaceId, bool)> = diesel::update(
        notify_schedule::table
            .filter(notify_schedule::workspace_id.eq_any(workspaces))
            .filter(notify_schedule::due_at.le(now)),
    )
    .set(notify_schedule::due_at.eq(lease_until))
    .returning((notify_schedule::workspace_id, notify_schedule::changed))
    .get_results(conn)?;
    Ok(rows.into_iter().map(Due::from).collect())
}

/// When a workspace is next due on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Next {
    /// Microseconds since the epoch.
    pub at: i64,
    /// Whether that visit is a full one (the daily look) rather than a report's.
    pub full: bool,
}

/// Ends the visits leased until `lease_until`: each workspace is next due at its
/// `Next`, or, when it has no channels left (`None`), leaves the schedule. A workspace
/// made due during its visit, or changed unseen before it, is left as it is (the next
/// tick looks at it). One statement per distinct outcome (most workspaces share one),
/// in one transaction; how many visits' outcomes were kept.
pub fn reschedule(
    conn: &mut AnyConnection,
    visits: &[(Due, Option<Next>)],
    lease_until: i64,
) -> Result<usize, StoreError> {
    let mut outcomes: BTreeMap<(bool, Option<Next>), Vec<WorkspaceId>> = BTreeMap::new();
    for (due, next) in visits {
        outcomes
            .entry((due.changed, *next))
            .or_default()
            .push(due.workspace_id);
    }
    let mut kept = 0;
    for ((changed, next), ids) in outcomes {
        for ids in ids.chunks(IDS_PER_STATEMENT) {
            let rows = notify_schedule::table
                .filter(notify_schedule::workspace_id.eq_any(ids))
                .filter(notify_schedule::due_at.eq(lease_until))
                .filter(notify_schedule::changed.eq(changed));
            kept += match next {
                Some(next) => diesel::update(rows)
                    .set((
                        notify_schedule::due_at.eq(next.at),
                        notify_schedule::changed.eq(next.full),
                    ))
                    .execute(conn)?,
                None => diesel::delete(rows).execute(conn)?,
            };
        }
    }
    Ok(kept)
}

/// When `workspace` is next due, if it is on the schedule.
pub fn due_at(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Option<i64>, StoreError> {
    Ok(notify_schedule::table
        .filter(notify_schedule::workspace_id.eq(workspace_id))
        .select(notify_schedule::due_at)
        .first(conn)
        .optional()?)
}

store_methods! {
    /// See [`schedule::enrol`](enrol).
    fn enrol_for_notifications(workspace_id: WorkspaceId, now: i64) -> () = write(enrol);
    /// See [`schedule::enrol_all`](enrol_all).
    fn enrol_all_for_notifications(now: i64) -> usize = write(enrol_all);
    /// See [`schedule::mark_due`](mark_due).
    fn mark_notifications_due(workspace_id: WorkspaceId, now: i64) -> bool = write(mark_due);
    /// See [`schedule::mark_every_due`](mark_every_due).
    fn mark_every_workspace_due(now: i64) -> usize = write(mark_every_due);
    /// See [`schedule::due`](due).
    fn due_for_notifications(now: i64, limit: i64) -> Vec<Due> = with_conn(due);
    /// See [`schedule::claim`](claim).
    fn claim_notification_visits(
        workspaces: &[WorkspaceId],
        now: i64,
        lease_until: i64,
    ) -> Vec<Due> = write(claim);
    /// See [`schedule::reschedule`](reschedule).
    fn reschedule_notifications(
        visits: &[(Due, Option<Next>)],
        lease_until: i64,
    ) -> usize = transaction(reschedule);
    /// See [`schedule::due_at`](due_at).
    fn notifications_due_at(workspace_id: WorkspaceId) -> Option<i64> = with_conn(due_at);
}
