//! One delivery attempt of one alert: the payload, the signed POST, and the record of the
//! attempt with the next step (done, or a retry after a backoff).

use std::time::Instant;

use actix_web::web;
use chrono::{DateTime, TimeDelta, Utc};
use llmlab_engine::Usd;
use llmlab_store::{AlertRow, NewDelivery, NextStep, StoreError, delivery};
use serde::Serialize;

use super::signature;
use crate::app::blocking;
use crate::state::AppState;

/// Longest error message kept per attempt.
const MAX_ERROR_LEN: usize = 500;

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
pub(super) async fn deliver(state: web::Data<AppState>, alert: AlertRow) {
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
    let (status_code, error) = post(&state, &alert, &url, body, attempted_at).await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let ok = error.is_none();
    state.metrics.webhook(ok);
    let wait = state.webhooks.backoff(attempt);
    let next = if ok {
        NextStep::Done(delivery::DELIVERED)
    } else if u32::try_from(attempt).unwrap_or(u32::MAX) >= state.webhooks.settings.max_attempts {
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
        error: error.map(|e| e.chars().take(MAX_ERROR_LEN).collect()),
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
                actix_web::rt::spawn(async move {
                    actix_web::rt::time::sleep(wait).await;
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
async fn receiver(
    state: &web::Data<AppState>,
    alert: &AlertRow,
) -> Option<(llmlab_store::BudgetRow, String)> {
    let (user_id, budget_id, id) = (alert.workspace_id, alert.budget_id, alert.id);
    let budget = match blocking(state, move |s| s.get_budget(user_id, budget_id)).await {
        Ok(b) => b,
        // Deleted with its alerts meanwhile; nothing left to deliver.
        Err(crate::app::AppError::Store(StoreError::NotFound)) => return None,
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
    state: &web::Data<AppState>,
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
    let agent = state.webhooks.agent.clone();
    let (target, delivery_id) = (url.to_string(), alert.id.to_string());
    let outcome = web::block(move || {
        agent
            .post(&target)
            .content_type("application/json")
            .header("X-LLMLab-Event", "budget.alert")
            .header("X-LLMLab-Delivery", &delivery_id)
            .header("X-LLMLab-Signature", &sig)
            .send(&body[..])
            .map(|r| r.status().as_u16())
    })
    .await;
    answer(outcome)
}

/// A POST's outcome as an attempt records it: the receiver's status, and what went
/// wrong unless it was a 2xx.
pub(crate) fn answer(
    outcome: Result<Result<u16, ureq::Error>, actix_web::error::BlockingError>,
) -> (Option<u16>, Option<String>) {
    match outcome {
        Ok(Ok(code)) if (200..300).contains(&code) => (Some(code), None),
        Ok(Ok(code)) => (Some(code), Some(format!("receiver answered HTTP {code}"))),
        Ok(Err(e)) => (None, Some(e.to_string())),
        Err(e) => (None, Some(e.to_string())),
    }
}
