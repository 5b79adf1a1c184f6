//! Retention: raw events (and, through the foreign key, their tags) older than a cut-off
//! are deleted in bounded batches, one workspace's index range at a time. Rollups and
//! running totals are kept, so reports over old ranges keep their totals; what is gone
//! is the per-event detail, and [`purged_before`] says from when.
//!
//! One instance at a time runs it: [`take_lease`] is a conditional `UPDATE` on the
//! `maintenance` row, renewed between batches. Each batch is its own transaction that
//! touches only events older than the cut-off, so a run stopped anywhere (a crash, a
//! deploy) has deleted only what it should, and the next run finishes it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{events, maintenance};
use crate::{AnyConnection, StoreError, WorkspaceId, truncate_micros, write_tx};

/// The `maintenance` row of the retention job.
pub const JOB: &str = "retention";

/// Makes `holder` the runner of job `name` until `until`, if nobody else holds it past
/// `now`; whether it did.
pub fn take_lease(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<bool, StoreError> {
    let (now, until) = (truncate_micros(now), truncate_micros(until));
    with_backend!(conn, |c| diesel::insert_into(maintenance::table)
        .values((
            maintenance::name.eq(name),
            maintenance::holder.eq(holder),
            maintenance::lease_until.eq(now),
            maintenance::value.eq(0),
        ))
        .on_conflict(maintenance::name)
        .do_nothing()
        .execute(c))?;
    let won = diesel::update(
        maintenance::table
            .filter(maintenance::name.eq(name))
            .filter(
                maintenance::lease_until
                    .le(now)
                    .or(maintenance::holder.eq(holder)),
            ),
    )
    .set((
        maintenance::holder.eq(holder),
        maintenance::lease_until.eq(until),
    ))
    .execute(conn)?;
    Ok(won == 1)
}

/// Gives job `name`'s lease back: any instance may run it at once.
pub fn release_lease(conn: &mut AnyConnection, name: &str, holder: &str) -> Result<(), StoreError> {
    diesel::update(
        maintenance::table
            .filter(maintenance::name.eq(name))
            .filter(maintenance::holder.eq(holder)),
    )
    .set(maintenance::lease_until.eq(chrono::DateTime::UNIX_EPOCH.naive_utc()))
    .execute(conn)?;
    Ok(())
}

/// The instant (microseconds) before which raw events may have been deleted; `None`
/// when retention never ran.
pub fn purged_before(conn: &mut AnyConnection) -> Result<Option<i64>, StoreError> {
    let value: Option<i64> = maintenance::table
        .filter(maintenance::name.eq(JOB))
        .select(maintenance::value)
        .first(conn)
        .optional()?;
    Ok(value.filter(|v| *v > 0))
}

/// Records that events before `cutoff` may be deleted from now on (before any is), so
/// readers never see missing detail unannounced. The mark only moves forward.
pub fn mark_cutoff(conn: &mut AnyConnection, cutoff: i64) -> Result<(), StoreError> {
    diesel::update(
        maintenance::table
            .filter(maintenance::name.eq(JOB))
            .filter(maintenance::value.lt(cutoff)),
    )
    .set(maintenance::value.eq(cutoff))
    .execute(conn)?;
    Ok(())
}

/// The workspaces that have events older than `cutoff` (microseconds).
pub fn workspaces_with_events_before(
    conn: &mut AnyConnection,
    cutoff: i64,
) -> Result<Vec<WorkspaceId>, StoreError> {
    // One index probe per workspace with events (`ledger_totals` has a row for each),
    // not a scan of every expired event. On a sharded PostgreSQL one of the few
    // statements that ask every shard (docs/SCALING.md), once per run; the two tables
    // are co-located, so each shard answers for its own workspaces.
    use crate::schema::ledger_totals as totals;
    Ok(totals::table
        .select(totals::workspace_id)
        .filter(diesel::dsl::exists(
            events::table
                .filter(events::workspace_id.eq(totals::workspace_id))
                .filter(events::ts.lt(cutoff)),
        ))
        .order(totals::workspace_id)
        .load(conn)?)
}

/// Deletes at most `limit` of `workspace_id`'s events older than `cutoff`
/// (microseconds), oldest first, with their tags; how many.
pub fn purge_batch(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    cutoff: i64,
    limit: u32,
) -> Result<usize, StoreError> {
    write_tx(conn, |conn| {
        let ids: Vec<i64> = events::table
            .filter(events::workspace_id.eq(workspace_id))
            .filter(events::ts.lt(cutoff))
            .order((events::ts, events::id))
            .limit(i64::from(limit))
            .select(events::id)
            .load(conn)?;
        if ids.is_empty() {
            return Ok(0);
        }
        // The tags go with their events (ON DELETE CASCADE on both backends).
        Ok(diesel::delete(
            events::table
                .filter(events::workspace_id.eq(workspace_id))
                .filter(events::id.eq_any(&ids)),
        )
        .execute(conn)?)
    })
}

store_methods! {
    /// See [`retention::take_lease`](take_lease).
    fn take_lease(
        name: &str,
        holder: &str,
        now: NaiveDateTime,
        until: NaiveDateTime,
    ) -> bool = write(take_lease);
    /// See [`retention::release_lease`](release_lease).
    fn release_lease(name: &str, holder: &str) -> () = write(release_lease);
    /// See [`retention::purged_before`](purged_before).
    fn purged_before() -> Option<i64> = with_conn(purged_before);
    /// See [`retention::mark_cutoff`](mark_cutoff).
    fn mark_retention_cutoff(cutoff: i64) -> () = write(mark_cutoff);
    /// See [`retention::workspaces_with_events_before`](workspaces_with_events_before).
    fn workspaces_with_events_before(cutoff: i64) -> Vec<WorkspaceId> = with_conn(workspaces_with_events_before);
    /// See [`retention::purge_batch`](purge_batch).
    fn purge_events(workspace_id: WorkspaceId, cutoff: i64, limit: u32) -> usize = write(purge_batch);
}
