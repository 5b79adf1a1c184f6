//! A budget's alert to the budget's own webhook: the signed `budget.alert` payload its
//! receivers have always had, made from the alert and the budget as they are when it is
//! sent, to wherever the webhook points then.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use llmlab_engine::Usd;
use llmlab_store::{AlertRow, BudgetRow, ChannelRow, StoreError};
use serde::Serialize;

use super::{Attempt, Outcome, Transport, post};
use crate::webhooks::signature;
use crate::{App, AppError, blocking};

/// What a receiver gets.
#[derive(Serialize)]
struct Payload {
    event: &'static str,
    alert_id: i64,
    budget_id: i64,
    budget_name: String,
    level: String,
    #[serde(with = "llmlab_engine::as_json_number")]
    spent_usd: Usd,
    #[serde(with = "llmlab_engine::as_json_number")]
    amount_usd: Usd,
    period: String,
    period_start: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    attempt: i32,
}

impl Payload {
    fn new(alert: &AlertRow, budget: &BudgetRow, attempt: i32) -> Payload {
        Payload {
            event: "budget.alert",
            alert_id: alert.id,
            budget_id: alert.budget_id.get(),
            budget_name: budget.spec.name.clone(),
            level: alert.level.clone(),
            spent_usd: Usd::from_nanos(alert.spent_nanos),
            amount_usd: Usd::from_nanos(alert.amount_nanos),
            period: budget.spec.period.clone(),
            period_start: (budget.spec.period != "total")
                .then(|| DateTime::from_timestamp_micros(alert.period_start))
                .flatten(),
            created_at: alert.created_at.and_utc(),
            attempt,
        }
    }
}

/// Attempt `attempt` of alert `alert_id` to `channel`, its budget's own: cancelled
/// when the budget has no webhook any more.
pub(super) async fn send(
    state: &App,
    transport: &Arc<dyn Transport>,
    channel: &ChannelRow,
    alert_id: i64,
    attempt: i32,
    at: DateTime<Utc>,
) -> Outcome {
    if channel.target.is_empty() {
        return Outcome::Cancelled;
    }
    let workspace = channel.workspace_id;
    let found = blocking(state, move |s| -> Result<_, StoreError> {
        let alert = s.get_alert(workspace, alert_id)?;
        let budget = s.get_budget(workspace, alert.budget_id)?;
        Ok((alert, budget))
    })
    .await;
    let (alert, budget) = match found {
        Ok(found) => found,
        // Deleted with its budget meanwhile; nothing left to deliver.
        Err(AppError::Store(StoreError::NotFound)) => return Outcome::Skipped,
        Err(e) => {
            log::warn!("webhook for alert {alert_id}: {e}; retried when its lease ends");
            return Outcome::Skipped;
        }
    };
    let body = match serde_json::to_vec(&Payload::new(&alert, &budget, attempt)) {
        Ok(b) => b,
        Err(e) => {
            log::error!("webhook payload for alert {alert_id}: {e}");
            return Outcome::Skipped;
        }
    };
    let sig = signature(&state.webhooks.secret_for(workspace), at.timestamp(), &body);
    let headers = vec![
        ("X-LLMLab-Event", "budget.alert".to_string()),
        ("X-LLMLab-Delivery", alert_id.to_string()),
        ("X-LLMLab-Signature", sig),
    ];
    let started = Instant::now();
    let (status, error) = post(transport, &channel.target, body, headers).await;
    state.metrics.webhook(error.is_none());
    Outcome::Attempted(Attempt {
        target: channel.target.clone(),
        status,
        error,
        took: started.elapsed(),
    })
}
