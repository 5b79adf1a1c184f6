//! Notification channels and their outbox.
//!
//! A notification is one row per occasion and channel: the unique `(channel_id,
//! dedup_key)` makes every instance that notices the same occasion (a budget alert, a
//! budget's period, a day, a report's week) record it once, and the losers get `None`.
//! Delivery follows the budget alerts' machinery: a conditional `UPDATE` claims due rows
//! with a lease, and every attempt is recorded.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::alerts::{NextStep, delivery};
use crate::schema::{budget_channels, budgets, channels, notification_deliveries, notifications};
use crate::{AnyConnection, BudgetId, ChannelId, StoreError, UserId, WorkspaceId};
use crate::{now_utc, truncate_micros, write_tx};

/// A stored channel.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = channels)]
pub struct ChannelRow {
    /// Its id.
    pub id: ChannelId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Unique per workspace.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// The URL, or the comma-separated email addresses.
    pub target: String,
    /// Comma-separated subscriptions.
    pub events: String,
    /// Who created it.
    pub created_by: Option<UserId>,
    /// Created (naive UTC).
    pub created_at: NaiveDateTime,
}

impl ChannelRow {
    /// Whether it subscribes to `event`.
    pub fn subscribes(&self, event: &str) -> bool {
        self.events.split(',').any(|e| e == event)
    }
}

/// A channel to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    /// Unique per workspace.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// The URL, or the comma-separated email addresses.
    pub target: String,
    /// Comma-separated subscriptions.
    pub events: String,
    /// Who creates it.
    pub created_by: Option<UserId>,
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
    /// The content, as JSON.
    pub payload_json: String,
    /// `pending`, `delivering`, `delivered` or `failed`.
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
}

/// Why a pending notification waits without an attempt having been made.
pub mod held {
    /// No address of its email channel has confirmed yet; a confirmation wakes it.
    pub const CONFIRMATION: &str = "confirmation";
    /// Its workspace's email for this hour is used up; it waits for the next window.
    pub const HOURLY_LIMIT: &str = "hourly_limit";
}

/// One attempt to deliver a notification.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = notification_deliveries)]
pub struct NotificationDeliveryRow {
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

/// Creates a channel; a name already used in the workspace is [`StoreError::Conflict`].
pub fn create(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    new: &NewChannel,
) -> Result<ChannelRow, StoreError> {
    let row = (
        channels::workspace_id.eq(workspace_id),
        channels::name.eq(&new.name),
        channels::kind.eq(&new.kind),
        channels::target.eq(&new.target),
        channels::events.eq(&new.events),
        channels::created_by.eq(new.created_by),
        channels::created_at.eq(now_utc()),
    );
    Ok(with_backend!(conn, |c| diesel::insert_into(
        channels::table
    )
    .values(row)
    .returning(ChannelRow::as_returning())
    .get_result(c))?)
}

/// The workspace's channels, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<ChannelRow>, StoreError> {
    Ok(channels::table
        .filter(channels::workspace_id.eq(workspace_id))
        .order(channels::id)
        .select(ChannelRow::as_select())
        .load(conn)?)
}

/// One of the workspace's channels.
pub fn get(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: ChannelId,
) -> Result<ChannelRow, StoreError> {
    Ok(channels::table
        .filter(channels::workspace_id.eq(workspace_id))
        .filter(channels::id.eq(id))
        .select(ChannelRow::as_select())
        .first(conn)?)
}

/// Deletes a channel with its notifications and their attempts (foreign-key cascade);
/// `false` when it was not the workspace's.
pub fn delete(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: ChannelId,
) -> Result<bool, StoreError> {
    let n = diesel::delete(
        channels::table
            .filter(channels::workspace_id.eq(workspace_id))
            .filter(channels::id.eq(id)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// The workspaces that have at least one channel (the ones a scheduler looks at).
pub fn workspaces_with_channels(conn: &mut AnyConnection) -> Result<Vec<WorkspaceId>, StoreError> {
    Ok(channels::table
        .select(channels::workspace_id)
        .distinct()
        .order(channels::workspace_id)
        .load(conn)?)
}

/// Sets the channels a budget's alerts also go to (replacing the previous set). Every
/// channel must be the budget's workspace's: otherwise [`StoreError::NotFound`].
pub fn set_budget_channels(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    budget_id: BudgetId,
    ids: &[ChannelId],
) -> Result<(), StoreError> {
    write_tx(conn, |conn| {
        budgets::table
            .filter(budgets::id.eq(budget_id))
            .filter(budgets::workspace_id.eq(workspace_id))
            .select(budgets::id)
            .first::<i64>(conn)?;
        let owned: i64 = channels::table
            .filter(channels::workspace_id.eq(workspace_id))
            .filter(channels::id.eq_any(ids))
            .count()
            .get_result(conn)?;
        if usize::try_from(owned).ok() != Some(ids.len()) {
            return Err(StoreError::NotFound);
        }
        diesel::delete(budget_channels::table.filter(budget_channels::budget_id.eq(budget_id)))
            .execute(conn)?;
        for id in ids {
            diesel::insert_into(budget_channels::table)
                .values((
                    budget_channels::budget_id.eq(budget_id),
                    budget_channels::channel_id.eq(id),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The channels chosen for each of the workspace's budgets, by budget.
pub fn budget_channels(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<(BudgetId, ChannelId)>, StoreError> {
    Ok(budget_channels::table
        .inner_join(channels::table)
        .filter(channels::workspace_id.eq(workspace_id))
        .order((budget_channels::budget_id, budget_channels::channel_id))
        .select((budget_channels::budget_id, budget_channels::channel_id))
        .load(conn)?)
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
    let row = (
        notifications::workspace_id.eq(workspace_id),
        notifications::channel_id.eq(channel_id),
        notifications::event.eq(event),
        notifications::dedup_key.eq(dedup_key),
        notifications::payload_json.eq(payload_json),
        notifications::status.eq(delivery::PENDING),
        notifications::attempts.eq(0),
        notifications::created_at.eq(now_utc()),
    );
    Ok(with_backend!(conn, |c| diesel::insert_into(
        notifications::table
    )
    .values(row)
    .on_conflict((notifications::channel_id, notifications::dedup_key))
    .do_nothing()
    .returning(NotificationRow::as_returning())
    .get_result(c)
    .optional())?)
}

/// Whether `channel_id` already has the occasion `dedup_key` (so a scheduler need not
/// build its content again).
pub fn has_notification(
    conn: &mut AnyConnection,
    channel_id: ChannelId,
    dedup_key: &str,
) -> Result<bool, StoreError> {
    let n: i64 = notifications::table
        .filter(notifications::channel_id.eq(channel_id))
        .filter(notifications::dedup_key.eq(dedup_key))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Claims up to `limit` notifications due at `now` (pending ones past their backoff,
/// delivering ones whose lease expired) until `lease_until`, one winner per row across
/// instances (a conditional `UPDATE`).
pub fn claim_due(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: u32,
) -> Result<Vec<NotificationRow>, StoreError> {
    Ok(claim_due_rows!(
        conn,
        notifications.status,
        NotificationRow,
        now,
        lease_until,
        limit
    ))
}

/// Records attempt `attempt.attempt` of `n` and moves it on; `false` (nothing changed)
/// when that attempt was already recorded by an instance that took over the lease.
pub fn record_attempt(
    conn: &mut AnyConnection,
    n: &NotificationRow,
    attempt: &NotificationDeliveryRow,
    next: NextStep,
) -> Result<bool, StoreError> {
    write_tx(conn, |conn| {
        let inserted = with_backend!(conn, |c| diesel::insert_into(
            notification_deliveries::table
        )
        .values((
            notification_deliveries::notification_id.eq(n.id),
            notification_deliveries::channel_id.eq(n.channel_id),
            notification_deliveries::attempt.eq(attempt.attempt),
            notification_deliveries::attempted_at.eq(truncate_micros(attempt.attempted_at)),
            notification_deliveries::target.eq(&attempt.target),
            notification_deliveries::status_code.eq(attempt.status_code),
            notification_deliveries::ok.eq(attempt.ok),
            notification_deliveries::error.eq(&attempt.error),
            notification_deliveries::duration_ms.eq(attempt.duration_ms),
        ))
        .on_conflict((
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
        diesel::update(notifications::table.find(n.id))
            .set((
                notifications::status.eq(status),
                notifications::attempts.eq(attempt.attempt),
                notifications::last_error.eq(&attempt.error),
                notifications::next_attempt_at.eq(next_at),
                notifications::held.eq(None::<String>),
            ))
            .execute(conn)?;
        Ok(true)
    })
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
    let changed = diesel::update(
        notifications::table
            .find(n.id)
            .filter(notifications::status.eq(delivery::DELIVERING))
            .filter(notifications::attempts.eq(n.attempts))
            .filter(notifications::next_attempt_at.eq(n.next_attempt_at)),
    )
    .set((
        notifications::status.eq(delivery::PENDING),
        notifications::next_attempt_at.eq(truncate_micros(until)),
        notifications::held.eq(reason),
    ))
    .execute(conn)?;
    Ok(changed == 1)
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
    let attempts: Vec<NotificationDeliveryRow> = notification_deliveries::table
        .filter(notification_deliveries::notification_id.eq_any(&ids))
        .order((
            notification_deliveries::notification_id,
            notification_deliveries::attempt,
        ))
        .select(NotificationDeliveryRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = attempts
                .iter()
                .filter(|a| a.notification_id == r.id)
                .cloned()
                .collect();
            (r, mine)
        })
        .collect())
}

store_methods! {
    /// See [`channels::create`](create).
    fn create_channel(workspace_id: WorkspaceId, new: &NewChannel) -> ChannelRow = write(create);
    /// See [`channels::list`](list).
    fn list_channels(workspace_id: WorkspaceId) -> Vec<ChannelRow> = with_conn(list);
    /// See [`channels::get`](get).
    fn get_channel(workspace_id: WorkspaceId, id: ChannelId) -> ChannelRow = with_conn(get);
    /// See [`channels::delete`](delete).
    fn delete_channel(workspace_id: WorkspaceId, id: ChannelId) -> bool = write(delete);
    /// See [`channels::workspaces_with_channels`](workspaces_with_channels).
    fn workspaces_with_channels() -> Vec<WorkspaceId> = with_conn(workspaces_with_channels);
    /// See [`channels::set_budget_channels`](set_budget_channels).
    fn set_budget_channels(
        workspace_id: WorkspaceId,
        budget_id: BudgetId,
        ids: &[ChannelId],
    ) -> () = write(set_budget_channels);
    /// See [`channels::budget_channels`](budget_channels).
    fn budget_channels(workspace_id: WorkspaceId) -> Vec<(BudgetId, ChannelId)> = with_conn(budget_channels);
    /// See [`channels::enqueue`](enqueue).
    fn enqueue_notification(
        workspace_id: WorkspaceId,
        channel_id: ChannelId,
        occasion: (&str, &str),
        payload_json: &str,
    ) -> Option<NotificationRow> = write(enqueue);
    /// See [`channels::has_notification`](has_notification).
    fn has_notification(channel_id: ChannelId, dedup_key: &str) -> bool = with_conn(has_notification);
    /// See [`channels::claim_due`](claim_due).
    fn claim_due_notifications(
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> Vec<NotificationRow> = write(claim_due);
    /// See [`channels::record_attempt`](record_attempt).
    fn record_notification_attempt(
        n: &NotificationRow,
        attempt: &NotificationDeliveryRow,
        next: NextStep,
    ) -> bool = write(record_attempt);
    /// See [`channels::hold`](hold).
    fn hold_notification(
        n: &NotificationRow,
        until: NaiveDateTime,
        reason: &str,
    ) -> bool = write(hold);
    /// See [`channels::history`](history).
    fn channel_history(
        workspace_id: WorkspaceId,
        channel_id: ChannelId,
        limit: u32,
    ) -> Vec<(NotificationRow, Vec<NotificationDeliveryRow>)> = with_conn(history);
}
