//! The delivery worker of one instance: claims due alerts (one winner per alert across
//! instances, a lease that ends if the instance dies), at most `MAX_IN_FLIGHT` at once.

use std::time::Duration;

use actix_web::web;
use chrono::Utc;

use super::delivery::deliver;
use crate::app::blocking;
use crate::state::AppState;

/// Alerts claimed per poll.
const CLAIM_BATCH: u32 = 32;

/// Starts this instance's delivery worker on the current actix system.
pub fn spawn_worker(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let poll = Duration::from_millis(state.webhooks.settings.poll_ms);
        loop {
            // Claim only what can be attempted now, so no claimed lease runs out waiting.
            let slots = &state.webhooks.in_flight;
            let Ok(first) = slots.clone().acquire_owned().await else {
                return;
            };
            let free = u32::try_from(slots.available_permits() + 1).unwrap_or(u32::MAX);
            let batch = free.min(CLAIM_BATCH);
            let now = Utc::now().naive_utc();
            let lease_until = now + state.webhooks.lease();
            let claimed =
                blocking(&state, move |s| s.claim_due_alerts(now, lease_until, batch)).await;
            let mut first = Some(first);
            let more = match claimed {
                Ok(alerts) => {
                    let full = alerts.len() == batch as usize;
                    for alert in alerts {
                        let permit = match first.take() {
                            Some(p) => p,
                            None => match slots.clone().acquire_owned().await {
                                Ok(p) => p,
                                Err(_) => return,
                            },
                        };
                        let state = state.clone();
                        actix_web::rt::spawn(async move {
                            deliver(state, alert).await;
                            drop(permit);
                        });
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
