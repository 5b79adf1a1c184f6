//! Delivering recorded notifications: claimed with a lease (one instance per row), sent
//! by the channel's kind, every attempt recorded, failures retried with the webhooks'
//! backoff up to their attempt limit. A failing channel only ever fails its own rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use chrono::{DateTime, TimeDelta, Utc};
use llmlab_store::{
    ChannelRow, NextStep, NotificationDeliveryRow, NotificationRow, StoreError, delivery,
};
use tokio::sync::Semaphore;

use super::notice::Notice;
use crate::app::{AppError, blocking};
use crate::state::AppState;
use crate::webhooks::signature;

/// Notifications claimed per poll, and attempted at once by one instance.
const BATCH: u32 = 16;
/// Longest error kept per attempt.
const MAX_ERROR_LEN: usize = 500;

/// Starts the delivery loop on the current actix system.
pub(super) fn spawn_worker(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let poll = Duration::from_millis(state.settings.webhooks.poll_ms);
        let slots = Arc::new(Semaphore::new(BATCH as usize));
        loop {
            let free = u32::try_from(slots.available_permits())
                .unwrap_or(0)
                .min(BATCH);
            let now = Utc::now().naive_utc();
            let lease_until = now + state.webhooks.lease();
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                blocking(&state, move |s| {
                    s.claim_due_notifications(now, lease_until, free)
                })
                .await
            };
            match claimed {
                Ok(rows) => {
                    for n in rows {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let state = state.clone();
                        actix_web::rt::spawn(async move {
                            deliver(state, n).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => log::warn!("notifications: cannot claim deliveries: {e}"),
            }
            actix_web::rt::time::sleep(poll).await;
        }
    });
}

/// One attempt at one notification, recorded whatever happens.
async fn deliver(state: web::Data<AppState>, n: NotificationRow) {
    let (workspace, id) = (n.workspace_id, n.channel_id);
    let channel = match blocking(&state, move |s| s.get_channel(workspace, id)).await {
        Ok(c) => c,
        // Deleted meanwhile, with its notifications.
        Err(AppError::Store(StoreError::NotFound)) => return,
        Err(e) => {
            log::warn!("notification {}: {e}; retried when its lease ends", n.id);
            return;
        }
    };
    let attempt = n.attempts + 1;
    let attempted_at = Utc::now();
    let started = Instant::now();
    let (status_code, error) = match serde_json::from_str::<Notice>(&n.payload_json) {
        Ok(notice) => send(&state, &channel, &notice, attempt, attempted_at).await,
        Err(e) => (None, Some(format!("unreadable notification: {e}"))),
    };
    let ok = error.is_none();
    let wait = state.webhooks.backoff(attempt);
    let max = state.settings.webhooks.max_attempts;
    let next = if ok {
        NextStep::Done(delivery::DELIVERED)
    } else if u32::try_from(attempt).unwrap_or(u32::MAX) >= max {
        NextStep::Done(delivery::FAILED)
    } else {
        NextStep::RetryAt(
            attempted_at.naive_utc() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX),
        )
    };
    let record = NotificationDeliveryRow {
        notification_id: n.id,
        channel_id: n.channel_id,
        attempt,
        attempted_at: attempted_at.naive_utc(),
        target: channel.target.clone(),
        status_code: status_code.map(i32::from),
        ok,
        error: error.map(|e| e.chars().take(MAX_ERROR_LEN).collect()),
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    let id = n.id;
    let recorded = blocking(&state, move |s| {
        s.record_notification_attempt(&n, &record, next)
    })
    .await;
    if let Err(e) = recorded {
        log::warn!("notification {id}: attempt {attempt} not recorded: {e}");
    }
}

/// Sends `notice` the way `channel`'s kind wants: the receiver's status (HTTP kinds) and
/// what went wrong, if anything.
async fn send(
    state: &web::Data<AppState>,
    channel: &ChannelRow,
    notice: &Notice,
    attempt: i32,
    at: DateTime<Utc>,
) -> (Option<u16>, Option<String>) {
    let public_url = state.settings.public_url.as_deref();
    match channel.kind.as_str() {
        "webhook" => {
            let body = notice
                .webhook_body(public_url, attempt)
                .to_string()
                .into_bytes();
            let secret = state.webhooks.secret_for(channel.workspace_id);
            let signed = signature(&secret, at.timestamp(), &body);
            let headers = vec![
                ("X-LLMLab-Event", notice.event.as_str().to_string()),
                ("X-LLMLab-Signature", signed),
            ];
            post(state, &channel.target, body, headers).await
        }
        "slack" => {
            let body = notice.slack_body(public_url).to_string().into_bytes();
            post(state, &channel.target, body, Vec::new()).await
        }
        "email" => {
            let Some(mailer) = state.mailer.clone() else {
                return (
                    None,
                    Some("SMTP is not configured (LLMLAB_SMTP_URL)".into()),
                );
            };
            let to: Vec<String> = channel.target.split(',').map(str::to_string).collect();
            let subject = notice.email_subject();
            let (text, html) = (notice.email_text(public_url), notice.email_html(public_url));
            let sent = web::block(move || mailer.send(&to, &subject, &text, &html)).await;
            match sent {
                Ok(Ok(())) => (None, None),
                Ok(Err(e)) => (None, Some(e)),
                Err(e) => (None, Some(e.to_string())),
            }
        }
        other => (None, Some(format!("unknown channel kind {other:?}"))),
    }
}

/// POSTs JSON `body` on the blocking pool through the webhooks' guarded client.
async fn post(
    state: &web::Data<AppState>,
    url: &str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
) -> (Option<u16>, Option<String>) {
    let agent = state.webhooks.agent().clone();
    let target = url.to_string();
    let outcome = web::block(move || {
        let mut request = agent.post(&target).content_type("application/json");
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        request.send(&body[..]).map(|r| r.status().as_u16())
    })
    .await;
    crate::webhooks::answer(outcome)
}
