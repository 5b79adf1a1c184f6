//! Budget alerts: recorded exactly once per budget, period and level, and their delivery
//! to the budget's webhook.
//!
//! An alert's delivery is a notification in the outbox ([`crate::outbox`]) on its
//! budget's own channel ([`crate::channels::set_budget_webhook`]), recorded with the
//! alert in one transaction when the budget has a webhook; an alert without one was
//! meant for no webhook ([`delivery::NONE`]).

use crate::{BudgetId, WorkspaceId};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::outbox::{self, NewNotification, NotificationDeliveryRow, NotificationRow, delivery};
use crate::schema::{budget_alerts, budgets, channels, notifications};
use crate::{AnyConnection, ChannelId, StoreError, now_utc, write_tx};

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
}

/// An alert with its delivery to the budget's webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDelivery {
    /// The alert.
    pub alert: AlertRow,
    /// Its notification on the budget's own channel; `None` when the budget had no
    /// webhook when the alert was raised.
    pub webhook: Option<NotificationRow>,
    /// Every attempt, oldest first.
    pub attempts: Vec<NotificationDeliveryRow>,
}

impl AlertDelivery {
    /// One of [`delivery`]: its notification's state, or `none`.
    pub fn status(&self) -> &str {
        self.webhook.as_ref().map_or(delivery::NONE, |n| &n.status)
    }
}

/// Records the alert unless one exists for the same budget, period and level, and when
/// its budget has a webhook, the alert's delivery to it, in one transaction. Returns
/// the new row only to the caller that created it (`None` for everyone else, also
/// under concurrency), so exactly one caller tells the channels. A budget that is not
/// `workspace_id`'s is [`StoreError::NotFound`].
pub fn record(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    alert: &NewAlert,
) -> Result<Option<AlertRow>, StoreError> {
    write_tx(conn, |conn| {
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
            budget_alerts::notified.eq(false),
        );
        let created: Option<AlertRow> =
            with_backend!(conn, |c| diesel::insert_into(budget_alerts::table)
                .values(row)
                .on_conflict((
                    budget_alerts::workspace_id,
                    budget_alerts::budget_id,
                    budget_alerts::period_start,
                    budget_alerts::level
                ))
                .do_nothing()
                .returning(AlertRow::as_returning())
                .get_result(c)
                .optional())?;
        if let Some(a) = &created {
            let webhook: Option<ChannelId> = channels::table
                .filter(channels::workspace_id.eq(workspace_id))
                .filter(channels::budget_id.eq(a.budget_id))
                .filter(channels::target.ne(""))
                .select(channels::id)
                .first(conn)
                .optional()?;
            if let Some(channel_id) = webhook {
                let key = format!("budget:{}", a.id);
                let new = NewNotification {
                    channel_id,
                    event: "budget",
                    dedup_key: &key,
                    payload_json: "{}",
                    alert_id: Some(a.id),
                };
                outbox::record(conn, workspace_id, &new)?;
            }
        }
        Ok(created)
    })
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

/// The alerts of budget `budget_id` of `workspace_id`, newest first, each with its
/// delivery to the budget's webhook and every attempt of it.
pub fn deliveries(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    budget_id: BudgetId,
) -> Result<Vec<AlertDelivery>, StoreError> {
    // Joined on the workspace too: on a sharded PostgreSQL that keeps the join in the
    // workspace's shard.
    let rows: Vec<(AlertRow, Option<NotificationRow>)> = budget_alerts::table
        .left_join(
            notifications::table.on(notifications::alert_id
                .eq(budget_alerts::id.nullable())
                .and(notifications::workspace_id.eq(budget_alerts::workspace_id))),
        )
        .filter(budget_alerts::workspace_id.eq(workspace_id))
        .filter(budget_alerts::budget_id.eq(budget_id))
        .order(budget_alerts::id.desc())
        .select((
            AlertRow::as_select(),
            Option::<NotificationRow>::as_select(),
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|(_, n)| n.as_ref().map(|n| n.id))
        .collect();
    let attempts = outbox::attempts_of(conn, workspace_id, &ids)?;
    Ok(
        outbox::with_attempts(rows, |(_, n)| n.as_ref().map(|n| n.id), &attempts)
            .into_iter()
            .map(|((alert, webhook), attempts)| AlertDelivery {
                alert,
                webhook,
                attempts,
            })
            .collect(),
    )
}

/// Alert `id` of `workspace_id`.
pub fn get(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: i64,
) -> Result<AlertRow, StoreError> {
    Ok(budget_alerts::table
        .filter(budget_alerts::workspace_id.eq(workspace_id))
        .filter(budget_alerts::id.eq(id))
        .select(AlertRow::as_select())
        .first(conn)?)
}

/// Notes that the workspace's channels have been told of alert `id`.
pub fn mark_notified(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: i64,
) -> Result<(), StoreError> {
    diesel::update(
        budget_alerts::table
            .filter(budget_alerts::workspace_id.eq(workspace_id))
            .filter(budget_alerts::id.eq(id)),
    )
    .set(budget_alerts::notified.eq(true))
    .execute(conn)?;
    Ok(())
}

/// Up to `limit` alerts raised since `since` whose channels have not been told, oldest
/// first, across workspaces: those whose instance stopped between recording the alert
/// and telling them. One read of a partial index, whatever the number of workspaces.
pub fn unnotified(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
    limit: i64,
) -> Result<Vec<AlertRow>, StoreError> {
    Ok(budget_alerts::table
        .filter(budget_alerts::notified.eq(false))
        .filter(budget_alerts::created_at.ge(since))
        .order(budget_alerts::created_at)
        .select(AlertRow::as_select())
        .limit(limit)
        .load(conn)?)
}

store_methods! {
    /// See [`alerts::mark_notified`](mark_notified).
    fn mark_alert_notified(workspace_id: WorkspaceId, id: i64) -> () = write(mark_notified);

    /// See [`alerts::unnotified`](unnotified).
    fn unnotified_alerts(since: NaiveDateTime, limit: i64) -> Vec<AlertRow> = with_conn(unnotified);

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

    /// See [`alerts::deliveries`](deliveries).
    fn alert_deliveries(
        workspace_id: WorkspaceId,
        budget_id: BudgetId,
    ) -> Vec<AlertDelivery> = with_conn(deliveries);

    /// See [`alerts::get`](get).
    fn get_alert(workspace_id: WorkspaceId, id: i64) -> AlertRow = with_conn(get);
}
