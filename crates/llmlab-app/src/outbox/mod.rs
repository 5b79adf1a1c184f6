//! The outbox: what was recorded to be sent (notifications for channels, a budget's
//! alerts for the budget's own webhook, confirmations for email addresses) goes out
//! from here, off the request path. Each instance runs one worker ([`run`]) over the
//! store's one queue: it looks at the due rows past the receivers it is busy with, claims
//! with a lease only the ones it can attempt at once (one instance per row; an instance
//! that dies only loses its lease), keeps at most [`IN_FLIGHT`] under way and at most
//! [`PER_HOST`] attempts to one receiver, sends each through the server's [`Transport`]
//! the way its channel wants ([`alerts`] for a budget's webhook, [`notifications`] for
//! the channels' kinds), records every attempt (several to a transaction under load),
//! and retries failures with the webhooks' backoff up to their attempt limit. A failing
//! or hanging receiver only ever holds its own rows, and never ingestion.
//!
//! How a message travels (HTTP, SMTP) and how an email looks are the server's: this
//! crate decides what is sent, to whom and when, and the server's [`Transport`] carries
//! it.

pub mod alerts;
mod flight;
pub mod notifications;
mod recorder;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use llmlab_store::outbox::Host;
use llmlab_store::{ChannelRow, NextStep, NotificationDeliveryRow, NotificationRow, delivery};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::notify::consent::Confirmation;
use crate::notify::notice::Notice;
use crate::{App, AppError, blocking};

use flight::{Flight, Freed};
pub use flight::{IN_FLIGHT, PER_HOST};
use recorder::Recorder;

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

/// This instance's worker: looks at the due deliveries, claims those it can attempt now
/// (so no claimed lease runs out waiting), and attempts each on a task of its own. It
/// looks again at once while there is room and the last look found something, and
/// otherwise when a delivery ends, when something is recorded
/// ([`crate::webhooks::Webhooks::wake`]), when a retry falls due, and every poll interval.
/// Runs until the runtime stops.
pub async fn run(state: App, transport: Arc<dyn Transport>) {
    let recorder = Recorder::start(state.clone());
    let (freed, mut returned) = mpsc::unbounded_channel::<Freed>();
    let mut flight = Flight::default();
    // The receivers that were busy when a look found nothing due past them: until
    // something is recorded or the poll interval passes, a look past the same receivers
    // (or more) would find nothing either, however often a delivery ends.
    let mut nothing_past: Option<BTreeSet<Host>> = None;
    let mut poll = tokio::time::interval(state.webhooks.poll());
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        while let Ok(f) = returned.try_recv() {
            flight.end(f);
        }
        let busy = flight.busy();
        let pointless = nothing_past.as_ref().is_some_and(|n| n.is_subset(&busy));
        if flight.free() > 0 && !pointless {
            match take(&state, &flight, &busy).await {
                Ok(Some(claimed)) => {
                    for (n, channel) in claimed {
                        let host = Host::of(&channel.kind, &channel.target);
                        flight.start(host.clone());
                        let ticket = Ticket::new(host, freed.clone());
                        let (state, transport) = (state.clone(), transport.clone());
                        let recorder = recorder.clone();
                        tokio::spawn(async move {
                            deliver(state, transport, recorder, n, channel, ticket).await;
                        });
                    }
                    continue;
                }
                Ok(None) => nothing_past = Some(busy),
                Err(e) => log::warn!("outbox: cannot claim deliveries: {e}"),
            }
        }
        tokio::select! {
            f = returned.recv() => {
                if let Some(f) = f {
                    flight.end(f);
                }
            }
            () = state.webhooks.woken() => nothing_past = None,
            _ = poll.tick() => nothing_past = None,
        }
    }
}

/// One look at the queue past the `busy` receivers, and a claim of what `flight` has
/// room for, in one trip to the blocking pool: the claimed rows with their channels
/// (none when each was taken by another instance first), or `None` when nothing is due
/// past them.
async fn take(
    state: &App,
    flight: &Flight,
    busy: &BTreeSet<Host>,
) -> Result<Option<Vec<(NotificationRow, ChannelRow)>>, AppError> {
    let limit = u32::try_from(flight.free()).unwrap_or(u32::MAX);
    let past: Vec<Host> = busy.iter().cloned().collect();
    let flight = flight.clone();
    let lease = state.webhooks.lease();
    blocking(state, move |s| {
        let now = Utc::now().naive_utc();
        let due = s.peek_due_notifications(now, &past, limit)?;
        let chosen = flight.choose(&due);
        if chosen.is_empty() {
            // Nothing due, or only rows for receivers without room: as good as nothing
            // due past them.
            return Ok(None);
        }
        s.claim_notifications(&chosen, now, now + lease).map(Some)
    })
    .await
}

/// A delivery's hold on the worker's counts: its receiver's once its attempt is over,
/// its slot once it is recorded, and whatever it still holds however its task ends.
struct Ticket {
    host: Option<Host>,
    freed: mpsc::UnboundedSender<Freed>,
}

impl Ticket {
    fn new(host: Host, freed: mpsc::UnboundedSender<Freed>) -> Ticket {
        Ticket {
            host: Some(host),
            freed,
        }
    }

    /// The attempt is over: the receiver has room for another.
    fn attempted(&mut self) {
        if let Some(host) = self.host.take() {
            let _ = self.freed.send(Freed::Host(host));
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.attempted();
        let _ = self.freed.send(Freed::Slot);
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

/// One claimed delivery to `channel`: attempted, held or cancelled, and recorded
/// whatever happens.
async fn deliver(
    state: App,
    transport: Arc<dyn Transport>,
    recorder: Recorder,
    n: NotificationRow,
    channel: ChannelRow,
    mut ticket: Ticket,
) {
    let attempt = n.attempts + 1;
    let at = Utc::now();
    let outcome = match n.alert_id {
        Some(alert) => alerts::send(&state, &transport, &channel, alert, attempt, at).await,
        None => notifications::send(&state, &transport, &channel, &n, attempt, at).await,
    };
    ticket.attempted();
    let id = n.id;
    let settled = match outcome {
        Outcome::Attempted(a) => record(&state, &recorder, n, attempt, at, a).await,
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
    drop(ticket);
}

/// Records attempt number `attempt` of `n`, made at `at`, with what comes next: done,
/// given up after the last attempt, or a retry after the backoff (which wakes the
/// worker then).
async fn record(
    state: &App,
    recorder: &Recorder,
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
    recorder.record((n, row, next)).await?;
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
