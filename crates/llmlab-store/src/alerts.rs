//! Budget alerts: recorded exactly once per budget, period and level, and their webhook
//! delivery state.

use crate::{BudgetId, WorkspaceId};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{budget_alerts, budgets, webhook_deliveries};
use crate::{AnyConnection, StoreError, now_utc, truncate_micros, write_tx};

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = budget_alerts)]
pub struct AlertRow {
    /// Primary key.
    pub id: i64,
    /// The budget that raised it.
    pub budget_id: BudgetId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Start of the budget period, microseconds since the epoch.
    pub period_start: i64,
    /// `warning` or `exceeded`.
    pub level: String,
    /// Spend when the alert was raised, nano-dollars.
    pub spent_nanos: i64,
    /// The budget amount then, nano-dollars.
    pub amount_nanos: i64,
    /// Raised (naive UTC).
    pub created_at: NaiveDateTime,
    /// Webhook delivery state, e.g. `pending`, `delivered`, `failed`, `none`.
    pub delivery_status: String,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Last delivery attempt (naive UTC).
    pub last_attempt_at: Option<NaiveDateTime>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// When delivery is next due: a retry's backoff, or the end of the lease of the
    /// instance delivering it (naive UTC).
    pub next_attempt_at: Option<NaiveDateTime>,
}

/// An alert to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// The budget that raised it.
    pub budget_id: BudgetId,
    /// Start of the budget period, microseconds since the epoch.
    pub period_start: i64,
    /// `warning` or `exceeded`.
    pub level: String,
    /// Spend now, nano-dollars.
    pub spent_nanos: i64,
    /// The budget amount, nano-dollars.
    pub amount_nanos: i64,
    /// Initial delivery state (`pending` when there is a webhook to call).
    pub delivery_status: String,
}

/// Records the alert unless one exists for the same budget, period and level. Returns
/// the new row only to the caller that created it (`None` for everyone else, also
/// under concurrency), so exactly one caller sends the notification. A budget that is
/// not `workspace_id`'s is [`StoreError::NotFound`].
pub fn record(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    alert: &NewAlert,
) -> Result<Option<AlertRow>, StoreError> {
    budgets::table
        .filter(budgets::id.eq(alert.budget_id))
        .filter(budgets::workspace_id.eq(workspace_id))
        .select(budgets::id)
        .first::<i64>(conn)?;
    let row = (
        budget_alerts::budget_id.eq(alert.budget_id),
        budget_alerts::workspace_id.eq(workspace_id),
        budget_alerts::period_start.eq(alert.period_start),
        budget_alerts::level.eq(&alert.level),
        budget_alerts::spent_nanos.eq(alert.spent_nanos),
        budget_alerts::amount_nanos.eq(alert.amount_nanos),
        budget_alerts::created_at.eq(now_utc()),
        budget_alerts::delivery_status.eq(&alert.delivery_status),
        budget_alerts::attempts.eq(0),
    );
    Ok(with_backend!(conn, |c| diesel::insert_into(
        budget_alerts::table
    )
    .values(row)
    .on_conflict((
        budget_alerts::budget_id,
        budget_alerts::period_start,
        budget_alerts::level
    ))
    .do_nothing()
    .returning(budget_alerts::all_columns)
    .get_result(c)
    .optional())?)
}

/// The alerts of budget `budget_id` of `workspace_id`, newest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    budget_id: BudgetId,
) -> Result<Vec<AlertRow>, StoreError> {
    Ok(budget_alerts::table
        .filter(budget_alerts::workspace_id.eq(workspace_id))
        .filter(budget_alerts::budget_id.eq(budget_id))
        .order(budget_alerts::id.desc())
        .select(AlertRow::as_select())
        .load(conn)?)
}

/// Delivery states of an alert.
pub mod delivery {
    /// The budget has no webhook.
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

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    /// Primary key.
    pub id: i64,
    /// The alert delivered.
    pub alert_id: i64,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The attempt: when, where, and what came of it.
    #[diesel(embed)]
    pub attempt: NewDelivery,
}

/// A delivery attempt to record.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDelivery {
    /// 1 for the first attempt.
    #[diesel(column_name = attempt)]
    pub number: i32,
    /// When it was made (naive UTC).
    pub attempted_at: NaiveDateTime,
    /// Where it was sent.
    pub url: String,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Whether the receiver acknowledged it (a 2xx).
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// What happens to an alert after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered, or given up: the state to keep ([`delivery::DELIVERED`],
    /// [`delivery::FAILED`], [`delivery::CANCELLED`]).
    Done(&'static str),
    /// Try again at this instant.
    RetryAt(NaiveDateTime),
}

/// Claims up to `limit` alerts whose delivery is due at `now` — pending ones whose
/// backoff has passed, and claimed ones whose lease expired (their instance died) — by
/// moving each to [`delivery::DELIVERING`] until `lease_until`. The claim is a
/// conditional `UPDATE`, so when several instances poll at once each alert goes to one.
pub fn claim_due(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: u32,
) -> Result<Vec<AlertRow>, StoreError> {
    Ok(claim_due_rows!(
        conn,
        budget_alerts.delivery_status,
        AlertRow,
        now,
        lease_until,
        limit
    ))
}

/// Records attempt `attempt` of alert `alert_id` and moves the alert on. Returns `false`
/// (and changes nothing) when that attempt was already recorded — another instance took
/// over a lease this one overran.
pub fn record_attempt(
    conn: &mut AnyConnection,
    alert: &AlertRow,
    attempt: &NewDelivery,
    next: NextStep,
) -> Result<bool, StoreError> {
    write_tx(conn, |conn| {
        let inserted = with_backend!(conn, |c| diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::alert_id.eq(alert.id),
                webhook_deliveries::workspace_id.eq(alert.workspace_id),
                webhook_deliveries::attempt.eq(attempt.number),
                webhook_deliveries::attempted_at.eq(truncate_micros(attempt.attempted_at)),
                webhook_deliveries::url.eq(&attempt.url),
                webhook_deliveries::status_code.eq(attempt.status_code),
                webhook_deliveries::ok.eq(attempt.ok),
                webhook_deliveries::error.eq(&attempt.error),
                webhook_deliveries::duration_ms.eq(attempt.duration_ms),
            ))
            .on_conflict((webhook_deliveries::alert_id, webhook_deliveries::attempt))
            .do_nothing()
            .execute(c))?;
        if inserted == 0 {
            return Ok(false);
        }
        let (status, next_at) = match next {
            NextStep::Done(status) => (status, None),
            NextStep::RetryAt(at) => (delivery::PENDING, Some(truncate_micros(at))),
        };
        diesel::update(budget_alerts::table.find(alert.id))
            .set((
                budget_alerts::delivery_status.eq(status),
                budget_alerts::attempts.eq(attempt.number),
                budget_alerts::last_attempt_at.eq(truncate_micros(attempt.attempted_at)),
                budget_alerts::last_error.eq(&attempt.error),
                budget_alerts::next_attempt_at.eq(next_at),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// Ends the delivery of an alert without an attempt (its budget lost its webhook).
pub fn finish_without_attempt(
    conn: &mut AnyConnection,
    alert_id: i64,
    status: &str,
) -> Result<(), StoreError> {
    diesel::update(budget_alerts::table.find(alert_id))
        .set((
            budget_alerts::delivery_status.eq(status),
            budget_alerts::next_attempt_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every delivery attempt of the alerts of budget `budget_id` of `workspace_id`, by alert and
/// attempt.
pub fn deliveries(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    budget_id: BudgetId,
) -> Result<Vec<DeliveryRow>, StoreError> {
    Ok(webhook_deliveries::table
        .inner_join(budget_alerts::table)
        .filter(webhook_deliveries::workspace_id.eq(workspace_id))
        .filter(budget_alerts::budget_id.eq(budget_id))
        .order((webhook_deliveries::alert_id, webhook_deliveries::attempt))
        .select(DeliveryRow::as_select())
        .load(conn)?)
}

store_methods! {
    /// See [`alerts::record`](record).
    fn record_alert(
        workspace_id: WorkspaceId,
        alert: &NewAlert,
    ) -> Option<AlertRow> = write(record);

    /// See [`alerts::list`](list).
    fn list_alerts(
        workspace_id: WorkspaceId,
        budget_id: BudgetId,
    ) -> Vec<AlertRow> = with_conn(list);

    /// See [`alerts::claim_due`](claim_due).
    fn claim_due_alerts(
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> Vec<AlertRow> = write(claim_due);

    /// See [`alerts::record_attempt`](record_attempt).
    fn record_delivery_attempt(
        alert: &AlertRow,
        attempt: &NewDelivery,
        next: NextStep,
    ) -> bool = write(record_attempt);

    /// See [`alerts::finish_without_attempt`](finish_without_attempt).
    fn finish_alert_delivery(alert_id: i64, status: &str) -> () = write(finish_without_attempt);

    /// See [`alerts::deliveries`](deliveries).
    fn list_deliveries(
        workspace_id: WorkspaceId,
        budget_id: BudgetId,
    ) -> Vec<DeliveryRow> = with_conn(deliveries);
}
