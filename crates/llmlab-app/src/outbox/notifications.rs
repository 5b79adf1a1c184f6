//! Delivering recorded notifications: claimed with a lease (one instance per row), sent
//! by the channel's kind, every attempt recorded, failures retried with the webhooks'
//! backoff up to their attempt limit. A failing channel only ever fails its own rows.
//!
//! Email goes to the addresses that have confirmed, resolved when it is sent, so a notice
//! recorded before someone confirmed still reaches them. A notice of an email channel
//! none of whose addresses has confirmed is put back without an attempt (`held`) and
//! goes out when one confirms: held, not dropped, so the first report or alert of a new
//! channel is not lost to the minutes its people take to open their mail.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use llmlab_store::channels::held;
use llmlab_store::{
    ChannelRow, NextStep, NotificationDeliveryRow, NotificationRow, StoreError, delivery,
};
use tokio::sync::Semaphore;

use super::{Content, Transport, answered, clipped};
use crate::channels::Allowances;
use crate::notify::consent::{self, Confirmation};
use crate::notify::notice::{Event, Notice};
use crate::webhooks::signature;
use crate::{App, AppError, blocking};

/// Notifications claimed per poll, and attempted at once by one instance.
const BATCH: u32 = 16;
/// This instance's worker for notifications, at most [`BATCH`] at once. Runs until the
/// runtime stops.
pub async fn run(state: App, transport: Arc<dyn Transport>) {
    let poll = state.webhooks.poll();
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
                    let (state, transport) = (state.clone(), transport.clone());
                    tokio::spawn(async move {
                        deliver(state, transport, n).await;
                        drop(permit);
                    });
                }
            }
            Err(e) => log::warn!("notifications: cannot claim deliveries: {e}"),
        }
        tokio::time::sleep(poll).await;
    }
}

/// One attempt at one notification, recorded whatever happens; or, for an email that
/// may not go out yet, the notification put back to wait without an attempt.
async fn deliver(state: App, transport: Arc<dyn Transport>, n: NotificationRow) {
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
    let mut target = channel.target.clone();
    let (status_code, error) = match serde_json::from_str::<Notice>(&n.payload_json) {
        Ok(notice) if channel.kind == "email" => match email(&state, &channel, &n, &notice).await {
            Ok(Email::Held(until, reason)) => {
                let id = n.id;
                let until = until.naive_utc();
                let held = blocking(&state, move |s| s.hold_notification(&n, until, reason)).await;
                if let Err(e) = held {
                    log::warn!("notification {id}: not put back to wait: {e}");
                }
                return;
            }
            Ok(Email::Ready(message)) => {
                target = message.to.join(",");
                (None, send_email(&transport, message).await.err())
            }
            Err(e) => (None, Some(e)),
        },
        Ok(notice) => send(&state, &transport, &channel, &notice, attempt, attempted_at).await,
        Err(e) => (None, Some(format!("unreadable notification: {e}"))),
    };
    let ok = error.is_none();
    let wait = state.webhooks.backoff(attempt);
    let max = state.webhooks.max_attempts();
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
        target,
        status_code: status_code.map(i32::from),
        ok,
        error: clipped(error),
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

/// What an email notification does now.
enum Email {
    /// Goes out.
    Ready(super::Email),
    /// Waits, without an attempt, until then (or until something wakes it), for the
    /// reason given (`llmlab_store::channels::held`).
    Held(DateTime<Utc>, &'static str),
}

/// How long a notice of an email channel that nobody has confirmed waits before it is
/// looked at again. A confirmation wakes it at once; this only bounds the wait when the
/// confirmation and the decision to wait raced.
const UNCONFIRMED_RECHECK: TimeDelta = TimeDelta::hours(1);

/// Decides what the email notification `n` (saying `notice`) of `channel` does: a
/// confirmation goes to the one address it asks; anything else to the channel's
/// confirmed addresses, and waits while there are none. A notice the scheduler or an
/// alert recorded counts against the workspace's hourly email when it is first sent,
/// and waits for the next window when it does not fit; tests and confirmations were
/// counted by the request that made them, retries are not counted again. An `Err` is a
/// failed attempt.
async fn email(
    state: &App,
    channel: &ChannelRow,
    n: &NotificationRow,
    notice: &Notice,
) -> Result<Email, String> {
    let public_url = state.settings.public_url.clone();
    if notice.event == Event::Confirmation {
        let Some(server) = public_url else {
            return Err("the confirmation link needs LLMLAB_PUBLIC_URL".into());
        };
        let id = notice.data["recipient_id"].as_i64().unwrap_or_default();
        let r = blocking(state, move |s| s.get_recipient(id))
            .await
            .map_err(|e| format!("the recipient to confirm: {e}"))?;
        let secret = state.settings.jwt_secret.as_bytes();
        let link = format!("{server}{}", crate::consent::path(secret, &r));
        let c = Confirmation {
            address: r.address.clone(),
            workspace_id: notice.workspace_id,
            workspace: notice.workspace.clone(),
            channel: channel.name.clone(),
            link,
            server,
        };
        return Ok(Email::Ready(super::Email {
            to: vec![r.address],
            subject: consent::SUBJECT.to_string(),
            content: Content::Confirmation(c),
        }));
    }
    let (workspace, id) = (channel.workspace_id, channel.id);
    let to = blocking(state, move |s| s.confirmed_recipients(workspace, id))
        .await
        .map_err(|e| format!("the confirmed recipients: {e}"))?;
    if to.is_empty() {
        return Ok(Email::Held(
            Utc::now() + UNCONFIRMED_RECHECK,
            held::CONFIRMATION,
        ));
    }
    if notice.event != Event::Test && n.attempts == 0 {
        let allowance = Allowances::of(&state.settings.notify).emails;
        let count = i32::try_from(to.len()).unwrap_or(i32::MAX);
        let now = Utc::now();
        let at = now.timestamp_micros();
        let admitted = blocking(state, move |s| {
            s.admit_send(workspace, allowance, count, at)
        })
        .await;
        match admitted {
            Ok(()) => {}
            Err(AppError::Store(StoreError::RateLimited {
                retry_after_secs, ..
            })) => {
                let wait = TimeDelta::seconds(i64::try_from(retry_after_secs).unwrap_or(3600));
                return Ok(Email::Held(now + wait, held::HOURLY_LIMIT));
            }
            Err(e) => return Err(format!("the hourly email allowance: {e}")),
        }
    }
    Ok(Email::Ready(super::Email {
        to,
        subject: notice.email_subject(),
        content: Content::Notice(Box::new(notice.clone()), public_url),
    }))
}

/// Sends `m` through the transport, on the blocking pool.
async fn send_email(transport: &Arc<dyn Transport>, m: super::Email) -> Result<(), String> {
    let transport = transport.clone();
    tokio::task::spawn_blocking(move || transport.send_email(&m))
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
}

/// Sends `notice` the way `channel`'s kind wants (webhook, Slack): the receiver's status
/// and what went wrong, if anything.
async fn send(
    state: &App,
    transport: &Arc<dyn Transport>,
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
            post(transport, &channel.target, body, headers).await
        }
        "slack" => {
            let body = notice.slack_body(public_url).to_string().into_bytes();
            post(transport, &channel.target, body, Vec::new()).await
        }
        other => (None, Some(format!("unknown channel kind {other:?}"))),
    }
}

/// POSTs JSON `body` through the transport, on the blocking pool.
async fn post(
    transport: &Arc<dyn Transport>,
    url: &str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
) -> (Option<u16>, Option<String>) {
    let (transport, target) = (transport.clone(), url.to_string());
    let outcome =
        tokio::task::spawn_blocking(move || transport.post_json(&target, &headers, &body))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
    answered(outcome)
}
