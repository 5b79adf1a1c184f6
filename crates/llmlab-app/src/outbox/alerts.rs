//! Budget alerts to a budget's webhook: the signed payload, one attempt at a time, each
//! recorded with the next step (done, or a retry after a backoff).

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use llmlab_engine::Usd;
use llmlab_store::{AlertRow, NewDelivery, NextStep, StoreError, delivery};
use serde::Serialize;
use tokio::sync::Semaphore;

use super::{Transport, answered, clipped};
use crate::webhooks::signature;
use crate::{App, blocking};

/// Deliveries one instance attempts at once.
pub const IN_FLIGHT: usize = 16;

/// Alerts claimed per poll.
const CLAIM_BATCH: u32 = 32;

/// This instance's worker for budget alerts: claims due alerts (one winner per alert
/// across instances, a lease that ends if the instance dies), at most [`IN_FLIGHT`] at
/// once so a slow or hostile receiver holds one slot for at most the attempt timeout
/// and a flood of alerts waits in the database, not in memory. Runs until the runtime
/// stops.
pub async fn run(state: App, transport: Arc<dyn Transport>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let poll = state.webhooks.poll();
    loop {
        // Claim only what can be attempted now, so no claimed lease runs out waiting.
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        let free = u32::try_from(slots.available_permits() + 1).unwrap_or(u32::MAX);
        let batch = free.min(CLAIM_BATCH);
        let now = Utc::now().naive_utc();
        let lease_until = now + state.webhooks.lease();
        let claimed = blocking(&state, move |s| s.claim_due_alerts(now, lease_until, batch)).await;
        let mut first = Some(first);
        let more = match claimed {
            Ok(alerts) => {
                let full = alerts.len() == batch as usize;
                for alert in alerts {
                    let permit = match first.take() {
                        Some(p) => p,
                        None => match slots.clone().acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => return,
                        },
                    };
                    let (state, transport) = (state.clone(), transport.clone());
                    tokio::spawn(async move {
                        deliver(state, transport, alert).await;
                        drop(permit);
                    });
                }
                full
            }
            Err(e) => {
                log::warn!("webhook worker: cannot claim deliveries: {e}");
                false
            }
        };
        if !more {
            tokio::select! {
                () = state.webhooks.woken() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// What a receiver gets.
#[derive(Serialize)]
struct Payload {
    event: &'static str,
    alert_id: i64,
    budget_id: i64,
    budget_name: String,
    level: String,
    spent_usd: Usd,
    amount_usd: Usd,
    period: String,
    period_start: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    attempt: i32,
}

impl Payload {
    fn new(alert: &AlertRow, budget: &llmlab_store::BudgetRow, attempt: i32) -> Payload {
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

/// One attempt at one alert, recorded whatever happens.
async fn deliver(state: App, transport: Arc<dyn Transport>, alert: AlertRow) {
    let Some((budget, url)) = receiver(&state, &alert).await else {
        return;
    };
    let attempt = alert.attempts + 1;
    let body = match serde_json::to_vec(&Payload::new(&alert, &budget, attempt)) {
        Ok(b) => b,
        Err(e) => {
            log::error!("webhook payload for alert {}: {e}", alert.id);
            return;
        }
    };
    let attempted_at = Utc::now();
    let started = Instant::now();
    let (status_code, error) = post(&state, &transport, &alert, &url, body, attempted_at).await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let ok = error.is_none();
    state.metrics.webhook(ok);
    let wait = state.webhooks.backoff(attempt);
    let next = if ok {
        NextStep::Done(delivery::DELIVERED)
    } else if u32::try_from(attempt).unwrap_or(u32::MAX) >= state.webhooks.max_attempts() {
        NextStep::Done(delivery::FAILED)
    } else {
        NextStep::RetryAt(
            attempted_at.naive_utc() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX),
        )
    };
    let record = NewDelivery {
        number: attempt,
        attempted_at: attempted_at.naive_utc(),
        url,
        status_code: status_code.map(i32::from),
        ok,
        error: clipped(error),
        duration_ms,
    };
    let id = alert.id;
    let recorded = blocking(&state, move |s| -> Result<bool, StoreError> {
        s.record_delivery_attempt(&alert, &record, next)
    })
    .await;
    match recorded {
        Ok(_) => {
            if let NextStep::RetryAt(_) = next {
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    state.webhooks.wake();
                });
            }
        }
        Err(e) => log::warn!("webhook for alert {id}: attempt {attempt} not recorded: {e}"),
    }
}

/// The alert's budget and its webhook URL; `None` when there is nothing to deliver now
/// (the budget was deleted, its webhook removed: then the alert is cancelled, or the
/// database is unreachable: then the lease runs out and the alert is due again).
async fn receiver(state: &App, alert: &AlertRow) -> Option<(llmlab_store::BudgetRow, String)> {
    let (workspace, budget_id, id) = (alert.workspace_id, alert.budget_id, alert.id);
    let budget = match blocking(state, move |s| s.get_budget(workspace, budget_id)).await {
        Ok(b) => b,
        // Deleted with its alerts meanwhile; nothing left to deliver.
        Err(crate::AppError::Store(StoreError::NotFound)) => return None,
        Err(e) => {
            log::warn!("webhook for alert {id}: {e}; retried when its lease ends");
            return None;
        }
    };
    match budget.spec.webhook_url.clone() {
        Some(url) => Some((budget, url)),
        None => {
            let cancelled = blocking(state, move |s| {
                s.finish_alert_delivery(id, delivery::CANCELLED)
            })
            .await;
            if let Err(e) = cancelled {
                log::warn!("webhook for alert {id}: {e}");
            }
            None
        }
    }
}

/// POSTs the signed `body` to `url` on the blocking pool: the receiver's status, and what
/// went wrong when it is not a 2xx.
async fn post(
    state: &App,
    transport: &Arc<dyn Transport>,
    alert: &AlertRow,
    url: &str,
    body: Vec<u8>,
    attempted_at: DateTime<Utc>,
) -> (Option<u16>, Option<String>) {
    let sig = signature(
        &state.webhooks.secret_for(alert.workspace_id),
        attempted_at.timestamp(),
        &body,
    );
    let headers = [
        ("X-LLMLab-Event", "budget.alert".to_string()),
        ("X-LLMLab-Delivery", alert.id.to_string()),
        ("X-LLMLab-Signature", sig),
    ];
    let (transport, target) = (transport.clone(), url.to_string());
    let outcome =
        tokio::task::spawn_blocking(move || transport.post_json(&target, &headers, &body))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
    answered(outcome)
}
