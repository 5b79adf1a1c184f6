//! Budget alerts: recorded exactly once per budget, period and level, and their webhook
//! delivery state.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{budget_alerts, budgets};
use crate::{AnyConnection, Store, StoreError, now_utc, truncate_micros};

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = budget_alerts)]
pub struct AlertRow {
    /// Primary key.
    pub id: i64,
    /// The budget that raised it.
    pub budget_id: i64,
    /// Owner.
    pub user_id: i64,
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
}

/// An alert to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// The budget that raised it.
    pub budget_id: i64,
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
/// not `user_id`'s is [`StoreError::NotFound`].
pub fn record(
    conn: &mut AnyConnection,
    user_id: i64,
    alert: &NewAlert,
) -> Result<Option<AlertRow>, StoreError> {
    budgets::table
        .filter(budgets::id.eq(alert.budget_id))
        .filter(budgets::user_id.eq(user_id))
        .select(budgets::id)
        .first::<i64>(conn)?;
    let row = (
        budget_alerts::budget_id.eq(alert.budget_id),
        budget_alerts::user_id.eq(user_id),
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

/// The alerts of budget `budget_id` of `user_id`, newest first.
pub fn list(
    conn: &mut AnyConnection,
    user_id: i64,
    budget_id: i64,
) -> Result<Vec<AlertRow>, StoreError> {
    Ok(budget_alerts::table
        .filter(budget_alerts::user_id.eq(user_id))
        .filter(budget_alerts::budget_id.eq(budget_id))
        .order(budget_alerts::id.desc())
        .select(AlertRow::as_select())
        .load(conn)?)
}

/// Alerts whose `delivery_status` is `status`, oldest first (for a delivery worker that
/// resumes after a restart).
pub fn with_status(
    conn: &mut AnyConnection,
    status: &str,
    limit: u32,
) -> Result<Vec<AlertRow>, StoreError> {
    Ok(budget_alerts::table
        .filter(budget_alerts::delivery_status.eq(status))
        .order(budget_alerts::id)
        .limit(i64::from(limit))
        .select(AlertRow::as_select())
        .load(conn)?)
}

/// Records a delivery attempt of alert `id`; `false` if there is no such alert.
pub fn update_delivery(
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
    attempts: i32,
    last_attempt_at: NaiveDateTime,
    last_error: Option<&str>,
) -> Result<bool, StoreError> {
    let updated = diesel::update(budget_alerts::table.find(id))
        .set((
            budget_alerts::delivery_status.eq(status),
            budget_alerts::attempts.eq(attempts),
            budget_alerts::last_attempt_at.eq(truncate_micros(last_attempt_at)),
            budget_alerts::last_error.eq(last_error),
        ))
        .execute(conn)?;
    Ok(updated > 0)
}

impl Store {
    /// See [`alerts::record`](record).
    pub fn record_alert(
        &self,
        user_id: i64,
        alert: &NewAlert,
    ) -> Result<Option<AlertRow>, StoreError> {
        self.with_conn(|c| record(c, user_id, alert))
    }

    /// See [`alerts::list`](list).
    pub fn list_alerts(&self, user_id: i64, budget_id: i64) -> Result<Vec<AlertRow>, StoreError> {
        self.with_conn(|c| list(c, user_id, budget_id))
    }

    /// See [`alerts::with_status`](with_status).
    pub fn alerts_with_status(
        &self,
        status: &str,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError> {
        self.with_conn(|c| with_status(c, status, limit))
    }

    /// See [`alerts::update_delivery`](update_delivery).
    pub fn update_alert_delivery(
        &self,
        id: i64,
        status: &str,
        attempts: i32,
        last_attempt_at: NaiveDateTime,
        last_error: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.with_conn(|c| update_delivery(c, id, status, attempts, last_attempt_at, last_error))
    }
}
