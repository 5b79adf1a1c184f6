//! Notifications to the channels a workspace manages, sent by the channel's kind: a
//! signed webhook, a Slack message, email.
//!
//! Email goes to the addresses that have confirmed, resolved when it is sent, so a notice
//! recorded before someone confirmed still reaches them. A notice of an email channel
//! none of whose addresses has confirmed is put back without an attempt (`held`) and
//! goes out when one confirms: held, not dropped, so the first report or alert of a new
//! channel is not lost to the minutes its people take to open their mail.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use llmlab_store::outbox::held;
use llmlab_store::{ChannelRow, NotificationRow, StoreError};

use super::{Attempt, Content, Outcome, Transport, post};
use crate::channels::Allowances;
use crate::notify::consent::{self, Confirmation};
use crate::notify::notice::{Event, Notice};
use crate::webhooks::signature;
use crate::{App, AppError, blocking};

/// Attempt `attempt` of notification `n` to `channel`; or, for an email that may not go
/// out yet, `n` put back to wait without an attempt.
pub(super) async fn send(
    state: &App,
    transport: &Arc<dyn Transport>,
    channel: &ChannelRow,
    n: &NotificationRow,
    attempt: i32,
    at: DateTime<Utc>,
) -> Outcome {
    let started = Instant::now();
    let mut target = channel.target.clone();
    let (status, error) = match serde_json::from_str::<Notice>(&n.payload_json) {
        Ok(notice) if channel.kind == "email" => match email(state, channel, n, &notice).await {
            Ok(Email::Held(until, reason)) => return Outcome::Held(until, reason),
            Ok(Email::Ready(message)) => {
                target = message.to.join(",");
                (None, send_email(transport, message).await.err())
            }
            Err(e) => (None, Some(e)),
        },
        Ok(notice) => by_kind(state, transport, channel, &notice, attempt, at).await,
        Err(e) => (None, Some(format!("unreadable notification: {e}"))),
    };
    Outcome::Attempted(Attempt {
        target,
        status,
        error,
        took: started.elapsed(),
    })
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
async fn by_kind(
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
