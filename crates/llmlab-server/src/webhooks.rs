//! Budget alert webhooks, delivered off the request path.
//!
//! - Ingestion only records an alert (once per budget, period and level: a database
//!   constraint) and wakes this instance's worker; it never waits on a receiver.
//! - Each instance runs one worker ([`spawn_worker`]). It claims due alerts with a
//!   conditional `UPDATE` (so with several instances each alert goes to one), POSTs them,
//!   records every attempt, and retries failures with exponential backoff. An instance
//!   that dies mid-delivery only loses its lease: the alert is due again when it ends.
//! - Receivers authenticate deliveries by
//!   `X-LLMLab-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//!   with the user's secret from `GET /api/budgets/webhook-secret`; the timestamp lets
//!   them refuse replays.

use std::time::{Duration, Instant};

use actix_web::web;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use llmlab_engine::Usd;
use llmlab_store::{AlertRow, NewDelivery, NextStep, StoreError, delivery};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::Notify;

use crate::config::WebhookSettings;
use crate::routes::db;
use crate::state::AppState;

/// Alerts claimed per poll.
const CLAIM_BATCH: u32 = 32;
/// Longest error message kept per attempt.
const MAX_ERROR_LEN: usize = 500;

/// The signing keys, the HTTP client and the worker's wake-up call.
pub struct Webhooks {
    settings: WebhookSettings,
    key: Vec<u8>,
    agent: ureq::Agent,
    wake: Notify,
}

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = hmac_hex(
        secret.as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body],
    );
    format!("t={timestamp},v1={mac}")
}

impl Webhooks {
    /// Keys from `LLMLAB_WEBHOOK_SECRET`, or derived from the session secret (a one-way
    /// derivation: a user's webhook secret reveals nothing about session keys).
    pub fn new(settings: &WebhookSettings, session_secret: &str) -> Webhooks {
        let key = if settings.secret.is_empty() {
            hmac_hex(session_secret.as_bytes(), &[b"llmlab webhook signing"]).into_bytes()
        } else {
            settings.secret.clone().into_bytes()
        };
        let timeout = Duration::from_millis(settings.timeout_ms);
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            // A receiver's redirect is its answer, not a new destination.
            .max_redirects(0)
            .user_agent(concat!("LLMLab-Webhook/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Webhooks {
            settings: settings.clone(),
            key,
            agent,
            wake: Notify::new(),
        }
    }

    /// The secret `user_id`'s receivers check signatures with. Per user, so one tenant
    /// cannot sign deliveries another tenant's receiver accepts.
    pub fn secret_for(&self, user_id: i64) -> String {
        format!(
            "whsec_{}",
            hmac_hex(&self.key, &[format!("user:{user_id}").as_bytes()])
        )
    }

    /// Makes the worker look for due deliveries now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn lease(&self) -> TimeDelta {
        // Longer than one attempt can take, so a live instance never loses its claim.
        TimeDelta::milliseconds(i64::try_from(self.settings.timeout_ms).unwrap_or(i64::MAX / 2))
            + TimeDelta::seconds(30)
    }

    /// Wait after failed attempt `attempt` (1-based): backoff × 2^(attempt − 1).
    fn backoff(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        Duration::from_millis(self.settings.backoff_ms.saturating_mul(1 << doublings))
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

/// Starts this instance's delivery worker on the current actix system.
pub fn spawn_worker(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let poll = Duration::from_millis(state.webhooks.settings.poll_ms);
        loop {
            let now = Utc::now().naive_utc();
            let lease_until = now + state.webhooks.lease();
            let claimed = db(&state, move |s| {
                s.claim_due_alerts(now, lease_until, CLAIM_BATCH)
            })
            .await;
            let more = match claimed {
                Ok(alerts) => {
                    let full = alerts.len() == CLAIM_BATCH as usize;
                    for alert in alerts {
                        actix_web::rt::spawn(deliver(state.clone(), alert));
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
                    () = state.webhooks.wake.notified() => {}
                    () = actix_web::rt::time::sleep(poll) => {}
                }
            }
        }
    });
}

/// One attempt at one alert, recorded whatever happens.
async fn deliver(state: web::Data<AppState>, alert: AlertRow) {
    let (user_id, budget_id) = (alert.user_id, alert.budget_id);
    let budget = match db(&state, move |s| s.get_budget(user_id, budget_id)).await {
        Ok(b) => b,
        // Deleted with its alerts meanwhile; nothing left to deliver.
        Err(e) if e.status == actix_web::http::StatusCode::NOT_FOUND => return,
        Err(e) => {
            log::warn!(
                "webhook for alert {}: {e}; retried when its lease ends",
                alert.id
            );
            return;
        }
    };
    let Some(url) = budget.webhook_url.clone() else {
        let id = alert.id;
        if let Err(e) = db(&state, move |s| {
            s.finish_alert_delivery(id, delivery::CANCELLED)
        })
        .await
        {
            log::warn!("webhook for alert {id}: {e}");
        }
        return;
    };
    let attempt = alert.attempts + 1;
    let payload = Payload {
        event: "budget.alert",
        alert_id: alert.id,
        budget_id,
        budget_name: budget.name.clone(),
        level: alert.level.clone(),
        spent_usd: Usd::from_nanos(alert.spent_nanos),
        amount_usd: Usd::from_nanos(alert.amount_nanos),
        period: budget.period.clone(),
        period_start: (budget.period != "total")
            .then(|| DateTime::from_timestamp_micros(alert.period_start))
            .flatten(),
        created_at: alert.created_at.and_utc(),
        attempt,
    };
    let body = match serde_json::to_vec(&payload) {
        Ok(b) => b,
        Err(e) => {
            log::error!("webhook payload for alert {}: {e}", alert.id);
            return;
        }
    };
    let attempted_at = Utc::now();
    let sig = signature(
        &state.webhooks.secret_for(user_id),
        attempted_at.timestamp(),
        &body,
    );
    let agent = state.webhooks.agent.clone();
    let target = url.clone();
    let delivery_id = alert.id.to_string();
    let started = Instant::now();
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
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status_code, error) = match outcome {
        Ok(Ok(code)) if (200..300).contains(&code) => (Some(code), None),
        Ok(Ok(code)) => (Some(code), Some(format!("receiver answered HTTP {code}"))),
        Ok(Err(e)) => (None, Some(e.to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
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
        attempt,
        attempted_at: attempted_at.naive_utc(),
        url,
        status_code: status_code.map(i32::from),
        ok,
        error: error.map(|e| e.chars().take(MAX_ERROR_LEN).collect()),
        duration_ms,
    };
    let id = alert.id;
    let recorded = db(&state, move |s| -> Result<bool, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WebhookSettings {
        WebhookSettings {
            secret: String::new(),
            timeout_ms: 1000,
            max_attempts: 5,
            backoff_ms: 100,
            poll_ms: 1000,
        }
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_and_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = signature("Jefe", 0, b"what do ya want for nothing?");
        assert_ne!(
            sig,
            "t=0,v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // The signed message is "<t>.<body>": recompute it that way.
        assert_eq!(
            signature("Jefe", 1, b"x"),
            format!("t=1,v1={}", hmac_hex(b"Jefe", &[b"1.x"]))
        );
        assert_eq!(
            hmac_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn secrets_differ_per_user_and_key() {
        let a = Webhooks::new(&settings(), "session-secret-one-0123456789abcdef");
        let b = Webhooks::new(&settings(), "session-secret-two-0123456789abcdef");
        assert_ne!(a.secret_for(1), a.secret_for(2));
        assert_ne!(a.secret_for(1), b.secret_for(1));
        assert_eq!(a.secret_for(1), a.secret_for(1));
        assert!(a.secret_for(1).starts_with("whsec_"));
    }

    #[test]
    fn backoff_doubles() {
        let w = Webhooks::new(&settings(), "s");
        let waits: Vec<u128> = (1..=4).map(|a| w.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800]);
    }
}
