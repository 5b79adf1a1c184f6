//! The outbox: everything LLMLab sends waits here until it is delivered or given up.
//!
//! A notification is one row per occasion and channel: the unique `(channel_id,
//! dedup_key)` makes every instance that notices the same occasion (a budget alert, a
//! budget's period, a day, a report's week) record it once, and the losers get `None`.
//! A budget's alert to the budget's own webhook is a notification too, on the budget's
//! channel (`alert_id` names the alert; see [`crate::alerts`]). Instances look at due
//! rows and claim with a lease those they can attempt at once (a conditional `UPDATE`,
//! one winner per row; see [`queue`]), and every attempt is a row of
//! `notification_deliveries`, recorded with what comes next in one transaction (several
//! attempts in one: [`record_attempts`]).

pub mod queue;

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use crate::schema::{notification_deliveries, notifications};
use crate::{AnyConnection, ChannelId, StoreError, WorkspaceId};
use crate::{now_utc, truncate_micros, write_tx};

pub use queue::{Attempted, Due, Host, claim, claim_due, peek, record_attempts};

/// Delivery states of a notification (and of a budget alert, which is its
/// notification's, or [`NONE`](delivery::NONE)).
pub mod delivery {
    /// The alert's budget had no webhook: nothing to deliver.
    pub const NONE: &str = "none";
    /// Waiting for its first attempt or a retry (at `next_attempt_at`).
    pub const PENDING: &str = "pending";
    /// Claimed by an instance until `next_attempt_at` (its lease).
    pub const DELIVERING: &str = "delivering";
    /// The receiver acknowledged it.
    pub const DELIVERED: &str = "delivered";
    /// Every attempt failed; no more retries.
    pub const FAILED: &str = "failed";
    /// The budget's webhook was removed before delivery.
    pub const CANCELLED: &str = "cancelled";
}

/// Why a pending notification waits without an attempt having been made.
pub mod held {
    /// No address of its email channel has confirmed yet; a confirmation wakes it.
    pub const CONFIRMATION: &str = "confirmation";
    /// Its workspace's email for this hour is used up; it waits for the next window.
    pub const HOURLY_LIMIT: &str = "hourly_limit";
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    /// Its id.
    pub id: i64,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Where it goes.
    pub channel_id: ChannelId,
    /// What it is about (`budget`, `report_weekly`, `test`, …).
    pub event: String,
    /// The occasion, unique per channel.
    pub dedup_key: String,
    /// The content, as JSON (`{}` for a budget's own webhook, whose body is made from
    /// the alert when it is sent).
    pub payload_json: String,
    /// One of [`delivery`] but `none`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// A retry's time, or the end of the delivering instance's lease (naive UTC).
    pub next_attempt_at: Option<NaiveDateTime>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// Recorded (naive UTC).
    pub created_at: NaiveDateTime,
    /// Why it waits without an attempt (see [`held`]), while it does.
    pub held: Option<String>,
    /// The alert it delivers to its budget's own webhook.
    pub alert_id: Option<i64>,
}

/// One attempt to deliver a notification.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = notification_deliveries)]
pub struct NotificationDeliveryRow {
    /// The notification's workspace (its sharding key).
    pub workspace_id: WorkspaceId,
    /// The notification.
    pub notification_id: i64,
    /// Its channel.
    pub channel_id: ChannelId,
    /// 1-based.
    pub attempt: i32,
    /// When (naive UTC).
    pub attempted_at: NaiveDateTime,
    /// Where it went (the URL, or the addresses).
    pub target: String,
    /// The receiver's HTTP status (webhook, Slack) or SMTP reply code (email).
    pub status_code: Option<i32>,
    /// Whether it was accepted.
    pub ok: bool,
    /// What went wrong.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: i64,
}

/// What happens to a notification after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered, or given up: the state to keep ([`delivery::DELIVERED`],
    /// [`delivery::FAILED`]).
    Done(&'static str),
    /// Try again at this instant.
    RetryAt(NaiveDateTime),
}

/// A notification to record: where, about what, saying what.
#[derive(Debug, Clone, Copy)]
pub struct NewNotification<'a> {
    /// Its channel.
    pub channel_id: ChannelId,
    /// What it is about (`budget`, `report_weekly`, `test`, …).
    pub event: &'a str,
    /// The occasion, recorded once per channel.
    pub dedup_key: &'a str,
    /// The content, as JSON.
    pub payload_json: &'a str,
    /// The alert it delivers to its budget's own webhook.
    pub alert_id: Option<i64>,
}

/// Records `new` unless its occasion was already recorded for its channel; the new row
/// only for the caller that created it.
pub fn record(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    new: &NewNotification<'_>,
) -> Result<Option<NotificationRow>, StoreError> {
    let row = (
        notifications::workspace_id.eq(workspace_id),
        notifications::channel_id.eq(new.channel_id),
        notifications::event.eq(new.event),
        notifications::dedup_key.eq(new.dedup_key),
        notifications::payload_json.eq(new.payload_json),
        notifications::status.eq(delivery::PENDING),
        notifications::attempts.eq(0),
        notifications::created_at.eq(now_utc()),
        notifications::alert_id.eq(new.alert_id),
    );
    Ok(with_backend!(conn, |c| diesel::insert_into(
        notifications::table
    )
    .values(row)
    .on_conflict((
        notifications::workspace_id,
        notifications::channel_id,
        notifications::dedup_key
    ))
    .do_nothing()
    .returning(NotificationRow::as_returning())
    .get_result(c)
    .optional())?)
}

/// Records a notification for `channel_id` unless the occasion `dedup_key` was already
/// recorded for it; the new row only for the caller that created it.
pub fn enqueue(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    channel_id: ChannelId,
    (event, dedup_key): (&str, &str),
    payload_json: &str,
) -> Result<Option<NotificationRow>, StoreError> {
    let new = NewNotification {
        channel_id,
        event,
        dedup_key,
        payload_json,
        alert_id: None,
    };
    record(conn, workspace_id, &new)
}

/// Whether `channel_id` already has the occasion `dedup_key` (so a scheduler need not
/// build its content again).
pub fn has_notification(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    channel_id: ChannelId,
    dedup_key: &str,
) -> Result<bool, StoreError> {
    let n: i64 = notifications::table
        .filter(notifications::workspace_id.eq(workspace_id))
        .filter(notifications::channel_id.eq(channel_id))
        .filter(notifications::dedup_key.eq(dedup_key))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Records `attempt` of `n` and moves `n` on, in one transaction; `false` (nothing
/// changed) when that attempt was already recorded by an instance that took over the
/// lease this one overran.
pub fn record_attempt(
    conn: &mut AnyConnection,
    n: &NotificationRow,
    attempt: &NotificationDeliveryRow,
    next: NextStep,
) -> Result<bool, StoreError> {
    let row = NotificationDeliveryRow {
        workspace_id: n.workspace_id,
        notification_id: n.id,
        channel_id: n.channel_id,
        attempted_at: truncate_micros(attempt.attempted_at),
        ..attempt.clone()
    };
    write_tx(conn, |conn| {
        let inserted = with_backend!(conn, |c| diesel::insert_into(
            notification_deliveries::table
        )
        .values(&row)
        .on_conflict((
            notification_deliveries::workspace_id,
            notification_deliveries::notification_id,
            notification_deliveries::attempt
        ))
        .do_nothing()
        .execute(c))?;
        if inserted == 0 {
            return Ok(false);
        }
        let (status, next_at) = match next {
            NextStep::Done(status) => (status, None),
            NextStep::RetryAt(at) => (delivery::PENDING, Some(truncate_micros(at))),
        };
        diesel::update(
            notifications::table
                .filter(notifications::workspace_id.eq(n.workspace_id))
                .filter(notifications::id.eq(n.id)),
        )
        .set((
            notifications::status.eq(status),
            notifications::attempts.eq(row.attempt),
            notifications::last_error.eq(&row.error),
            notifications::next_attempt_at.eq(next_at),
            notifications::held.eq(None::<String>),
        ))
        .execute(conn)?;
        Ok(true)
    })
}

/// A notification as its claim left it: delivering, with the attempts and lease it
/// was claimed with.
type StillClaimed = dsl::Filter<
    dsl::Filter<
        dsl::Filter<
            dsl::Filter<
                dsl::Find<notifications::table, i64>,
                dsl::Eq<notifications::workspace_id, WorkspaceId>,
            >,
            dsl::Eq<notifications::status, &'static str>,
        >,
        dsl::Eq<notifications::attempts, i32>,
    >,
    dsl::Eq<notifications::next_attempt_at, Option<NaiveDateTime>>,
>;

/// `n` while it is still claimed as this caller claimed it, so what the caller does
/// with it cannot undo the work of an instance that took over after its lease ended.
fn still_claimed(n: &NotificationRow) -> StillClaimed {
    notifications::table
        .find(n.id)
        .filter(notifications::workspace_id.eq(n.workspace_id))
        .filter(notifications::status.eq(delivery::DELIVERING))
        .filter(notifications::attempts.eq(n.attempts))
        .filter(notifications::next_attempt_at.eq(n.next_attempt_at))
}

/// Puts back `n`, claimed and not attempted, to wait until `until` for `reason` (one of
/// [`held`]); its attempts stay as they were. `false` when the claim was no longer this
/// caller's (its lease ended and another instance took it).
pub fn hold(
    conn: &mut AnyConnection,
    n: &NotificationRow,
    until: NaiveDateTime,
    reason: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(still_claimed(n))
        .set((
            notifications::status.eq(delivery::PENDING),
            notifications::next_attempt_at.eq(truncate_micros(until)),
            notifications::held.eq(reason),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Ends `n`, claimed and not attempted, as [`delivery::CANCELLED`] (its budget's
/// webhook was removed); its attempts stay as they were. `false` when the claim was no
/// longer this caller's.
pub fn cancel(conn: &mut AnyConnection, n: &NotificationRow) -> Result<bool, StoreError> {
    let changed = diesel::update(still_claimed(n))
        .set((
            notifications::status.eq(delivery::CANCELLED),
            notifications::next_attempt_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Every attempt of the notifications `ids`, by notification and attempt.
pub fn attempts_of(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    ids: &[i64],
) -> Result<Vec<NotificationDeliveryRow>, StoreError> {
    Ok(notification_deliveries::table
        .filter(notification_deliveries::workspace_id.eq(workspace_id))
        .filter(notification_deliveries::notification_id.eq_any(ids))
        .order((
            notification_deliveries::notification_id,
            notification_deliveries::attempt,
        ))
        .select(NotificationDeliveryRow::as_select())
        .load(conn)?)
}

/// `rows`, each with its attempts from `attempts` (ordered as [`attempts_of`] returns
/// them).
pub fn with_attempts<T>(
    rows: Vec<T>,
    id: impl Fn(&T) -> Option<i64>,
    attempts: &[NotificationDeliveryRow],
) -> Vec<(T, Vec<NotificationDeliveryRow>)> {
    rows.into_iter()
        .map(|r| {
            let mine = id(&r).map_or_else(Vec::new, |id| {
                attempts
                    .iter()
                    .filter(|a| a.notification_id == id)
                    .cloned()
                    .collect()
            });
            (r, mine)
        })
        .collect()
}

/// The channel's notifications, newest first, at most `limit`, each with every attempt.
pub fn history(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    channel_id: ChannelId,
    limit: u32,
) -> Result<Vec<(NotificationRow, Vec<NotificationDeliveryRow>)>, StoreError> {
    let rows: Vec<NotificationRow> = notifications::table
        .filter(notifications::workspace_id.eq(workspace_id))
        .filter(notifications::channel_id.eq(channel_id))
        .order(notifications::id.desc())
        .limit(i64::from(limit))
        .select(NotificationRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let attempts = attempts_of(conn, workspace_id, &ids)?;
    Ok(with_attempts(rows, |r| Some(r.id), &attempts))
}

store_methods! {
    /// See [`outbox::enqueue`](enqueue).
    fn enqueue_notification(
        workspace_id: WorkspaceId,
        channel_id: ChannelId,
        occasion: (&str, &str),
        payload_json: &str,
    ) -> Option<NotificationRow> = write(enqueue);
    /// See [`outbox::has_notification`](has_notification).
    fn has_notification(
        workspace_id: WorkspaceId,
        channel_id: ChannelId,
        dedup_key: &str,
    ) -> bool = with_conn(has_notification);
    /// See [`outbox::record_attempt`](record_attempt).
    fn record_attempt(
        n: &NotificationRow,
        attempt: &NotificationDeliveryRow,
        next: NextStep,
    ) -> bool = write(record_attempt);
    /// See [`outbox::hold`](hold).
    fn hold_notification(
        n: &NotificationRow,
        until: NaiveDateTime,
        reason: &str,
    ) -> bool = write(hold);
    /// See [`outbox::cancel`](cancel).
    fn cancel_notification(n: &NotificationRow) -> bool = write(cancel);
    /// See [`outbox::history`](history).
    fn channel_history(
        workspace_id: WorkspaceId,
        channel_id: ChannelId,
        limit: u32,
    ) -> Vec<(NotificationRow, Vec<NotificationDeliveryRow>)> = with_conn(history);
}
