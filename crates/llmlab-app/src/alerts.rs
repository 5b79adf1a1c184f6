//! Budget alerts: the evaluation after ingestion that records each alert once, with its
//! delivery to the budget's webhook, and tells the channels; and a budget's alerts as
//! they are listed.
//!
//! Where the once-per-level guarantee lives: [`record_alerts`] asks the store to record
//! an alert per budget, period and level crossed; the unique constraint on
//! `(budget_id, period_start, level)` makes every racing request, on every instance,
//! record it once (`Store::record_alert` returns `None` for the losers), and the alert's
//! delivery to the budget's webhook is recorded in the outbox in the same transaction.

use chrono::{DateTime, Utc};
use llmlab_engine::Usd;
use llmlab_engine::budget::crossed_levels;
use llmlab_store::{AlertDelivery, BudgetId, NewAlert, Store, WorkspaceId};

use crate::budgets::evaluate_all;
use crate::{App, AppError, blocking, notifications};

/// A budget's alerts, newest first, each with its delivery to the budget's webhook.
pub fn alerts(
    s: &Store,
    workspace: WorkspaceId,
    budget_id: BudgetId,
) -> Result<Vec<AlertDelivery>, AppError> {
    s.get_budget(workspace, budget_id)?;
    Ok(s.alert_deliveries(workspace, budget_id)?)
}

/// Shortest time between two budget evaluations of one account under sustained ingestion.
const EVALUATION_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// After ingestion: records an alert for every budget of the account whose spend has
/// reached its threshold or amount in the current period, and wakes the outbox for the
/// new ones. Runs off the request path (coalesced per account, see
/// [`AlertChecks`](crate::state::AlertChecks)); a failure is logged, never returned to
/// the ingesting client.
pub fn after_ingest(app: &App, workspace: WorkspaceId) {
    if !app.alert_checks.begin(workspace) {
        return;
    }
    let app = app.clone();
    tokio::spawn(async move {
        loop {
            let started = std::time::Instant::now();
            let checked = blocking(&app, move |s| {
                let now = Utc::now();
                // New events: the notification scheduler looks at the workspace again.
                s.mark_notifications_due(workspace, now.timestamp_micros())?;
                record_alerts(s, workspace, now)
            });
            match checked.await {
                Ok(true) => app.webhooks.wake(),
                Ok(false) => {}
                Err(e) => log::warn!("budget alert evaluation failed for user {workspace}: {e}"),
            }
            if !app.alert_checks.finish(workspace) {
                break;
            }
            // Events arrived meanwhile: evaluate again, but under sustained ingestion at
            // most every EVALUATION_INTERVAL (an alert is then at most that late), not
            // once per request.
            tokio::time::sleep(EVALUATION_INTERVAL.saturating_sub(started.elapsed())).await;
        }
    });
}

/// Records the alerts due now (with their delivery to the budget's webhook, and to the
/// channels); `true` when one was created.
fn record_alerts(s: &Store, workspace: WorkspaceId, now: DateTime<Utc>) -> Result<bool, AppError> {
    let mut to_deliver = false;
    let budgets = s.list_budgets(workspace)?;
    let statuses = evaluate_all(s, workspace, &budgets, now)?;
    for (b, (spec, e)) in budgets.iter().zip(statuses) {
        let period_start = e.window.start.map_or(0, |t| t.timestamp_micros());
        for level in crossed_levels(&spec, Usd::ZERO, e.spent) {
            let alert = NewAlert {
                budget_id: b.id,
                period_start,
                level: level.as_str().to_string(),
                spent_nanos: e.spent.nanos(),
                amount_nanos: b.spec.amount_nanos,
            };
            let created = s.record_alert(workspace, &alert)?;
            to_deliver |= created.is_some();
            if let Some(alert) = created {
                // The channels hear of it now; a failure here is caught up by the next
                // notification tick, so it must not keep the other alerts from being
                // recorded (the webhook's delivery already is, with the alert).
                if let Err(e) = notifications::budget_alert(s, workspace, b, &alert) {
                    log::warn!("budget {} alert {}: channels: {e}", b.id, alert.id);
                }
            }
        }
    }
    Ok(to_deliver)
}
