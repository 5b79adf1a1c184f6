//! Notifications to people: what a notice says ([`notice`]), the one message an email
//! address gets before it confirms ([`consent`]), which SMTP server email goes through
//! and what an address must be ([`email`], [`address`]), and the scheduler that records
//! due occasions ([`scheduler`]). Recorded notifications go out through `crate::outbox`.

pub mod address;
pub mod consent;
pub mod email;
pub mod notice;

use std::time::Duration;

use chrono::Utc;

use crate::channels::Allowances;
use crate::{App, blocking, notifications};

/// This instance's notification scheduler: every `LLMLAB_NOTIFY_INTERVAL_SECS`, the
/// forecasts, anomalies, unpriced models and reports that are due are recorded once
/// (`notifications::tick`); the outbox delivers them. Runs until the runtime stops.
pub async fn scheduler(state: App) {
    if state.settings.notify.smtp.is_some() && state.settings.public_url.is_none() {
        // Without it no confirmation link can be made: new email channels are refused,
        // and addresses of earlier ones cannot confirm, so they are mailed nothing.
        log::warn!(
            "LLMLAB_SMTP_URL is set without LLMLAB_PUBLIC_URL: email channels cannot be \
             created, and their addresses cannot confirm"
        );
    }
    let every = Duration::from_secs(state.settings.notify.interval_secs);
    loop {
        // First an interval after start (a minute by default): what fell due while the
        // server was down goes out then.
        tokio::time::sleep(every).await;
        let catalog = state.catalog.clone();
        let emails = Allowances::of(&state.settings.notify).emails;
        let ticked = blocking(&state, move |s| {
            notifications::tick(s, &catalog, emails, Utc::now())
        })
        .await;
        if let Err(e) = ticked {
            log::warn!("notifications: {e}");
        }
    }
}
