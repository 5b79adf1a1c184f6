//! Notifications to people: what a notice says ([`notice`]), how email is sent
//! ([`email`]) and to whom it may be ([`address`]), and this instance's two background
//! loops ([`spawn`]): the scheduler that records due occasions
//! (`app::notifications::tick`) and the worker that delivers recorded notifications
//! ([`outbox`]).

pub mod address;
pub mod consent;
pub mod email;
pub mod notice;
mod outbox;

use std::time::Duration;

use actix_web::web;
use chrono::Utc;

use crate::app::channels::Allowances;
use crate::app::{blocking, notifications};
use crate::state::AppState;

/// Starts this instance's notification scheduler and delivery worker.
pub fn spawn(state: web::Data<AppState>) {
    if state.mailer.is_some() && state.settings.public_url.is_none() {
        // Without it no confirmation link can be made: new email channels are refused,
        // and addresses of earlier ones cannot confirm, so they are mailed nothing.
        log::warn!(
            "LLMLAB_SMTP_URL is set without LLMLAB_PUBLIC_URL: email channels cannot be \
             created, and their addresses cannot confirm"
        );
    }
    outbox::spawn_worker(state.clone());
    actix_web::rt::spawn(async move {
        let every = Duration::from_secs(state.settings.notify.interval_secs);
        loop {
            // First an interval after start (a minute by default): what fell due while
            // the server was down goes out then.
            actix_web::rt::time::sleep(every).await;
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
    });
}
