//! Retention (`LLMLAB_RETENTION_DAYS`): raw events older than the window are deleted in
//! bounded batches by whichever instance holds the job's lease; rollups and running
//! totals stay, so reports over old ranges keep their totals. The event list and export
//! say from when per-event detail is kept (`retained_since`), and ingestion refuses
//! events older than the window (see `ingest`).

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
use llmlab_store::{EventCursor, EventFilter, EventPage, Store, WorkspaceId, retention};

use crate::AppError;

/// Events deleted per transaction: small enough that a batch holds SQLite's write lock
/// for milliseconds, so ingestion waits at most that long.
pub const BATCH: u32 = 2_000;

/// How long a run may go without renewing its lease before another instance may take
/// the job over.
const LEASE: TimeDelta = TimeDelta::minutes(5);

/// The first instant kept: `days` before `now`, at the start of that UTC day (a day
/// boundary is a boundary of every rollup slot, so reports over whole days are
/// answered from rollups alone on both sides of it).
pub fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let at = now - Duration::days(i64::from(days));
    at.duration_trunc(TimeDelta::days(1)).unwrap_or(at)
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Events before this instant were deleted.
    pub cutoff: DateTime<Utc>,
    /// How many.
    pub deleted: usize,
}

/// Deletes raw events older than `days` before `now`, unless another instance (`holder`
/// is this one's name) is already doing it: `None` then. `max_batches` bounds the run
/// (the next run goes on where it stopped).
pub fn run(
    s: &Store,
    holder: &str,
    days: u32,
    now: DateTime<Utc>,
    max_batches: usize,
) -> Result<Option<Run>, AppError> {
    let naive = now.naive_utc();
    if !s.take_lease(retention::JOB, holder, naive, naive + LEASE)? {
        return Ok(None);
    }
    let cutoff = cutoff(now, days);
    let micros = cutoff.timestamp_micros();
    // Announced before anything is deleted: a reader never meets missing detail
    // that nothing tells it about.
    s.mark_retention_cutoff(micros)?;
    let mut deleted = 0;
    let mut batches = 0;
    'workspaces: for workspace in s.workspaces_with_events_before(micros)? {
        loop {
            if batches == max_batches {
                break 'workspaces;
            }
            let n = s.purge_events(workspace, micros, BATCH)?;
            deleted += n;
            batches += 1;
            let renewed = Utc::now().naive_utc();
            if !s.take_lease(retention::JOB, holder, renewed, renewed + LEASE)? {
                // Overran the lease and lost it; the new holder goes on.
                return Ok(Some(Run { cutoff, deleted }));
            }
            if n < BATCH as usize {
                break;
            }
        }
    }
    s.release_lease(retention::JOB, holder)?;
    Ok(Some(Run { cutoff, deleted }))
}

/// From when raw events are kept, when retention has ever run.
pub fn retained_since(s: &Store) -> Result<Option<DateTime<Utc>>, AppError> {
    Ok(s.purged_before()?.and_then(DateTime::from_timestamp_micros))
}

/// A page of `workspace`'s events (see `Store::list_events`) and from when per-event
/// detail is kept, for the lists and exports that must say so.
pub fn event_page(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    after: Option<EventCursor>,
    limit: u32,
) -> Result<(EventPage, Option<DateTime<Utc>>), AppError> {
    let page = s.list_events(workspace, filter, after, limit)?;
    Ok((page, retained_since(s)?))
}

/// The page after `after` alone (an export's next page: it said from when detail is
/// kept with its first).
pub fn next_page(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    after: EventCursor,
    limit: u32,
) -> Result<EventPage, AppError> {
    Ok(s.list_events(workspace, filter, Some(after), limit)?)
}

/// With `LLMLAB_RETENTION_DAYS` set, looks for expired events every hour (the first time
/// a minute after start); the job's database lease lets one instance at a time run it.
/// Runs until the runtime stops.
pub async fn scheduler(app: crate::App) {
    let Some(days) = app.settings.retention_days else {
        return;
    };
    let holder = format!("instance-{}", crate::auth::random_token(8));
    let mut wait = std::time::Duration::from_secs(60);
    loop {
        tokio::time::sleep(wait).await;
        wait = std::time::Duration::from_secs(3600);
        let holder = holder.clone();
        let ran = crate::blocking(&app, move |s| run(s, &holder, days, Utc::now(), 10_000)).await;
        match ran {
            Ok(Some(run)) if run.deleted > 0 => log::info!(
                "retention: deleted {} events before {} (their rollups are kept)",
                run.deleted,
                run.cutoff
            ),
            Ok(_) => {}
            Err(e) => log::warn!("retention: {e}"),
        }
    }
}
