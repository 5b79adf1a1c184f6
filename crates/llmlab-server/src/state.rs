//! What every handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use llmlab_engine::providers::Catalog;
use llmlab_store::{GroupCommit, Store};

use crate::auth::{JwtKeys, LoginLimiter};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::webhooks::Webhooks;

/// Application state, behind `web::Data`.
pub struct AppState {
    /// Database.
    pub store: Store,
    /// Single events, committed in groups.
    pub writer: GroupCommit,
    /// Pricing catalog (built-in plus `LLMLAB_CATALOG_PATH`).
    pub catalog: Arc<Catalog>,
    /// Session token keys.
    pub jwt: JwtKeys,
    /// Validated settings.
    pub settings: Settings,
    /// Start time, for `uptime_seconds`.
    pub started: Instant,
    /// Login attempt limiter.
    pub login_limiter: LoginLimiter,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Budget alert webhooks.
    pub webhooks: Webhooks,
    /// Budget evaluations after ingestion, coalesced per user.
    pub alert_checks: AlertChecks,
    /// A bcrypt hash compared against when a login names an unknown email, so timing
    /// does not reveal which emails exist.
    pub dummy_hash: String,
}

/// At most one budget evaluation per user at a time: ingestion that arrives while one runs
/// marks it dirty, and it runs once more when done. Every event is still evaluated (the
/// rerun sees it) without an evaluation per event under heavy ingestion.
#[derive(Default)]
pub struct AlertChecks(Mutex<HashMap<i64, bool>>);

impl AlertChecks {
    /// `true` when the caller should run the evaluation; `false` when one is running (it
    /// will run again).
    pub fn begin(&self, user_id: i64) -> bool {
        let mut running = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match running.get_mut(&user_id) {
            Some(dirty) => {
                *dirty = true;
                false
            }
            None => {
                running.insert(user_id, false);
                true
            }
        }
    }

    /// After an evaluation: `true` when events arrived meanwhile and it must run again.
    pub fn finish(&self, user_id: i64) -> bool {
        let mut running = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match running.get_mut(&user_id) {
            Some(dirty) if *dirty => {
                *dirty = false;
                true
            }
            _ => {
                running.remove(&user_id);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AlertChecks;

    #[test]
    fn evaluations_coalesce_and_rerun() {
        let c = AlertChecks::default();
        assert!(c.begin(1));
        assert!(!c.begin(1));
        assert!(!c.begin(1));
        assert!(c.begin(2));
        assert!(c.finish(1), "ingested meanwhile: run again");
        assert!(!c.finish(1));
        assert!(c.begin(1));
        assert!(!c.finish(1));
        assert!(!c.finish(2));
    }
}
