//! Notifications to people: what a notice says ([`notice`]), when reports fall due
//! ([`calendar`]), the one message an email address gets before it confirms
//! ([`consent`]), which SMTP server email goes through and what an address must be
//! ([`email`], [`address`]), and the scheduler that records due occasions
//! ([`scheduler`], each of its ticks in [`tick`]). Recorded notifications go out through
//! `crate::outbox`.

pub mod address;
pub(crate) mod calendar;
pub mod consent;
pub mod email;
pub mod notice;
pub(crate) mod tick;

use std::time::{Duration, Instant};

use chrono::Utc;
use llmlab_store::statements_on_this_thread;

use crate::channels::Allowances;
use crate::{App, AppError, blocking, notifications};

/// This instance's notification scheduler: every `LLMLAB_NOTIFY_INTERVAL_SECS`, the
/// forecasts, anomalies, unpriced models and reports of the workspaces that are due are
/// recorded once (`notifications::tick`), and what the tick cost goes to the metrics; the
/// outbox delivers them. Runs until the runtime stops.
pub async fn scheduler(state: App) {
    if state.settings.notify.smtp.is_some() && state.settings.public_url.is_none() {
        // Without it no confirmation link can be made: new email channels are refused,
        // and addresses of earlier ones cannot confirm, so they are mailed nothing.
        log::warn!(
            "LLMLAB_SMTP_URL is set without LLMLAB_PUBLIC_URL: email channels cannot be \
             created, and their addresses cannot confirm"
        );
    }
    let enrolled = blocking(&state, |s| {
        s.enrol_all_for_notifications(Utc::now().timestamp_micros())
    })
    .await;
    if let Err(e) = enrolled {
        log::warn!("notifications: cannot check the schedule: {e}");
    }
    let every = Duration::from_secs(state.settings.notify.interval_secs);
    loop {
        // First an interval after start (a minute by default): what fell due while the
        // server was down goes out then.
        tokio::time::sleep(every).await;
        let catalog = state.catalog.clone();
        let emails = Allowances::of(&state.settings.notify).emails;
        let ticked = blocking(&state, move |s| {
            // Counted on this thread: the tick's connections are used here.
            let (started, before) = (Instant::now(), statements_on_this_thread());
            let done = notifications::tick(s, &catalog, emails, Utc::now());
            let spent = statements_on_this_thread().saturating_sub(before);
            Ok::<_, AppError>((done, started.elapsed(), spent))
        })
        .await;
        match ticked {
            Ok((done, took, statements)) => {
                let visited = done.as_ref().map_or(0, |d| d.visited);
                state
                    .metrics
                    .notify_tick(took.as_secs_f64(), statements, visited);
                if let Err(e) = done {
                    log::warn!("notifications: {e}");
                }
            }
            Err(e) => log::warn!("notifications: {e}"),
        }
    }
}
