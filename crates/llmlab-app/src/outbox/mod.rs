//! The outbox: what was recorded to be sent (notifications for channels, a budget's
//! alerts for the budget's own webhook, confirmations for email addresses) goes out
//! from here, off the request path. Each instance runs one worker ([`run`]) over the
//! store's one queue: it claims due rows with a lease (one instance per row; an instance
//! that dies only loses its lease), attempts at most [`IN_FLIGHT`] at once, sends each
//! through the server's [`Transport`] the way its channel wants ([`alerts`] for a
//! budget's webhook, [`notifications`] for the channels' kinds), records every attempt,
//! and retries failures with the webhooks' backoff up to their attempt limit. A failing
//! receiver only ever fails its own rows, and never ingestion.
//!
//! How a message travels (HTTP, SMTP) and how an email looks are the server's: this
//! crate decides what is sent, to whom and when, and the server's [`Transport`] carries
//! it.

pub mod alerts;
pub mod notifications;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use llmlab_store::{NextStep, NotificationDeliveryRow, NotificationRow, StoreError, delivery};
use tokio::sync::Semaphore;

use crate::notify::consent::Confirmation;
use crate::notify::notice::Notice;
use crate::{App, AppError, blocking};

/// Deliveries one instance attempts at once, whatever they are: a slow or hostile
/// receiver holds one slot for at most the attempt timeout, and a flood waits in the
/// database, not in memory.
pub const IN_FLIGHT: usize = 16;

/// Longest error message kept per attempt.
const MAX_ERROR_LEN: usize = 500;

/// How messages leave the server. Both calls block (connect, TLS, the exchange): the
/// outbox calls them on the blocking pool.
pub trait Transport: Send + Sync + 'static {
    /// POSTs the JSON `body` to `url` with `headers`: the receiver's status, or why
    /// nothing answered (the receiver is internal, unreachable, timed out).
    fn post_json(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> Result<u16, String>;

    /// Sends `email`: why not, when it was not accepted.
    fn send_email(&self, email: &Email) -> Result<(), String>;
}

/// An email to send.
#[derive(Debug, Clone)]
pub struct Email {
    /// The recipients (one envelope, every address in `To`).
    pub to: Vec<String>,
    /// The subject, as the reader must see it.
    pub subject: String,
    /// What it says, drawn as plain text and HTML by the transport.
    pub content: Content,
}

/// What an email says.
#[derive(Debug, Clone)]
pub enum Content {
    /// A notice of a channel, with the dashboard's public URL for its link.
    Notice(Box<Notice>, Option<String>),
    /// The one message an address gets before it confirms.
    Confirmation(Confirmation),
}

/// This instance's worker: claims due deliveries, only as many as it can attempt now
/// (so no claimed lease runs out waiting), and attempts each on a task of its own.
/// Wakes when something is recorded ([`crate::webhooks::Webhooks::wake`]), when a retry
/// falls due, and every poll interval. Runs until the runtime stops.
pub async fn run(state: App, transport: Arc<dyn Transport>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let poll = state.webhooks.poll();
    loop {
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        let free = u32::try_from(slots.available_permits() + 1).unwrap_or(u32::MAX);
        let now = Utc::now().naive_utc();
        let lease_until = now + state.webhooks.lease();
        let claimed = blocking(&state, move |s| {
            s.claim_due_notifications(now, lease_until, free)
        })
        .await;
        let mut first = Some(first);
        let more = match claimed {
            Ok(rows) => {
                let full = rows.len() == free as usize;
                for n in rows {
                    let permit = match first.take() {
                        Some(p) => p,
                        None => match slots.clone().acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => return,
                        },
                    };
                    let (state, transport) = (state.clone(), transport.clone());
                    tokio::spawn(async move {
                        deliver(state, transport, n).await;
                        drop(permit);
                    });
                }
                full
            }
            Err(e) => {
                log::warn!("outbox: cannot claim deliveries: {e}");
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

/// What became of one claimed delivery.
enum Outcome {
    /// An attempt was made.
    Attempted(Attempt),
    /// Put back to wait without an attempt until then, for this reason
    /// (`llmlab_store::outbox::held`).
    Held(DateTime<Utc>, &'static str),
    /// Nothing to deliver to any more (its budget's webhook was removed): ended without
    /// an attempt.
    Cancelled,
    /// Nothing to do now: gone with its channel or budget, or the database did not
    /// answer (its lease ends and it is due again).
    Skipped,
}

/// One attempt as it is recorded.
struct Attempt {
    /// Where it went (the URL, or the addresses).
    target: String,
    /// The receiver's status, when one answered.
    status: Option<u16>,
    /// What went wrong, unless it was accepted.
    error: Option<String>,
    /// How long it took.
    took: Duration,
}

/// One claimed delivery: attempted, held or cancelled, and recorded whatever happens.
async fn deliver(state: App, transport: Arc<dyn Transport>, n: NotificationRow) {
    let (workspace, channel_id) = (n.workspace_id, n.channel_id);
    let channel = match blocking(&state, move |s| {
        s.channel_for_delivery(workspace, channel_id)
    })
    .await
    {
        Ok(c) => c,
        // Deleted meanwhile, with its notifications.
        Err(AppError::Store(StoreError::NotFound)) => return,
        Err(e) => {
            log::warn!(
                "outbox: delivery {}: {e}; retried when its lease ends",
                n.id
            );
            return;
        }
    };
    let attempt = n.attempts + 1;
    let at = Utc::now();
    let outcome = match n.alert_id {
        Some(alert) => alerts::send(&state, &transport, &channel, alert, attempt, at).await,
        None => notifications::send(&state, &transport, &channel, &n, attempt, at).await,
    };
    let id = n.id;
    let settled = match outcome {
        Outcome::Attempted(a) => record(&state, n, attempt, at, a).await,
        Outcome::Held(until, reason) => {
            let until = until.naive_utc();
            blocking(&state, move |s| s.hold_notification(&n, until, reason))
                .await
                .map(drop)
        }
        Outcome::Cancelled => blocking(&state, move |s| s.cancel_notification(&n))
            .await
            .map(drop),
        Outcome::Skipped => Ok(()),
    };
    if let Err(e) = settled {
        log::warn!("outbox: delivery {id}: what became of attempt {attempt} not recorded: {e}");
    }
}

/// Records attempt number `attempt` of `n`, made at `at`, with what comes next: done,
/// given up after the last attempt, or a retry after the backoff (which wakes the
/// worker then).
async fn record(
    state: &App,
    n: NotificationRow,
    attempt: i32,
    at: DateTime<Utc>,
    a: Attempt,
) -> Result<(), AppError> {
    let ok = a.error.is_none();
    let wait = state.webhooks.backoff(attempt);
    let next = if ok {
        NextStep::Done(delivery::DELIVERED)
    } else if u32::try_from(attempt).unwrap_or(u32::MAX) >= state.webhooks.max_attempts() {
        NextStep::Done(delivery::FAILED)
    } else {
        NextStep::RetryAt(at.naive_utc() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX))
    };
    let row = NotificationDeliveryRow {
        workspace_id: n.workspace_id,
        notification_id: n.id,
        channel_id: n.channel_id,
        attempt,
        attempted_at: at.naive_utc(),
        target: a.target,
        status_code: a.status.map(i32::from),
        ok,
        error: clipped(a.error),
        duration_ms: i64::try_from(a.took.as_millis()).unwrap_or(i64::MAX),
    };
    blocking(state, move |s| s.record_attempt(&n, &row, next)).await?;
    if let NextStep::RetryAt(_) = next {
        let state = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            state.webhooks.wake();
        });
    }
    Ok(())
}

/// POSTs JSON `body` to `url` through the transport, on the blocking pool: the
/// receiver's status, and what went wrong when it is not a 2xx.
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
    match outcome {
        Ok(code) if (200..300).contains(&code) => (Some(code), None),
        Ok(code) => (Some(code), Some(format!("receiver answered HTTP {code}"))),
        Err(e) => (None, Some(e)),
    }
}

/// `error` kept to [`MAX_ERROR_LEN`] characters.
fn clipped(error: Option<String>) -> Option<String> {
    error.map(|e| e.chars().take(MAX_ERROR_LEN).collect())
}
