//! The context the use cases share: the store, the catalog, settings, caches and the
//! clients background work delivers through.

use llmlab_store::WorkspaceId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use llmlab_engine::providers::Catalog;
use llmlab_store::{GroupCommit, Store, StoreError};

use crate::ledger::WorkspacePrices;

use crate::auth::{JwtKeys, LoginLimiter, SignupLimiter};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::quota::IngestQuota;
use crate::webhooks::Webhooks;

/// The shared context ([`crate::App`] is an `Arc` of it).
pub struct AppState {
    /// Database.
    pub store: Store,
    /// The read replica reports prefer, when `LLMLAB_READ_DATABASE_URL` is set (see
    /// `crate::blocking_read`).
    pub replica: Option<Arc<crate::replica::ReadReplica>>,
    /// Single events, committed in groups.
    pub writer: GroupCommit,
    /// Reservations on hard budgets, decided in groups.
    pub reservations: llmlab_store::reservations::ReserveQueue,
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
    /// Signups per client address, unless unlimited.
    pub signup_limiter: Option<SignupLimiter>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Webhook signing keys, the outbox's retry schedule and its wake-up call.
    pub webhooks: Webhooks,
    /// Budget evaluations after ingestion, coalesced per workspace.
    pub alert_checks: AlertChecks,
    /// Users' custom prices, valid while their version holds.
    pub prices: PriceCache,
    /// API keys recognised in the last `LLMLAB_CREDENTIAL_CACHE_MS`.
    pub keys: crate::credentials::KeyCache,
    /// Tag rankings this instance started building, and when.
    pub tag_rankings: crate::tag_rankings::RankingBuilds,
    /// Per-user ingestion quota, when configured.
    pub ingest_quota: Option<IngestQuota>,
    /// A bcrypt hash compared against when a login names an unknown email, so timing
    /// does not reveal which emails exist.
    pub dummy_hash: String,
}

/// Workspaces' custom prices and contracts, kept per instance for as long as the workspace's
/// `prices_version`
/// has not moved. Every request reads that version with its credentials (the same round
/// trip), so a price changed on any instance applies from the next request on every
/// instance, and pricing an event costs no query of its own.
#[derive(Default)]
pub struct PriceCache(Mutex<HashMap<WorkspaceId, Versioned>>);

/// A workspace's prices and the version they were read at (or after).
type Versioned = (i64, Arc<WorkspacePrices>);

impl PriceCache {
    /// Users kept before the cache starts over (a user costs one reload then).
    const MAX_USERS: usize = 10_000;

    /// `workspace`'s custom prices at `version` or later: from memory, or read from the
    /// store (blocking) when this instance has not seen that version. The version must
    /// have been read before this call: prices read after it are at least as new, so
    /// caching them under it never hides a later change.
    pub fn get(
        &self,
        store: &Store,
        workspace: WorkspaceId,
        version: i64,
    ) -> Result<Arc<WorkspacePrices>, StoreError> {
        if let Some((_, rows)) = self.lock().get(&workspace).filter(|(v, _)| *v == version) {
            return Ok(rows.clone());
        }
        let rows = Arc::new(WorkspacePrices::load(store, workspace)?);
        let mut map = self.lock();
        if map.len() >= Self::MAX_USERS && !map.contains_key(&workspace) {
            map.clear();
        }
        match map.get(&workspace) {
            // Another request already cached a newer version.
            Some((v, _)) if *v > version => {}
            _ => {
                map.insert(workspace, (version, rows.clone()));
            }
        }
        Ok(rows)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WorkspaceId, Versioned>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// At most one budget evaluation per workspace at a time: ingestion that arrives while one runs
/// marks it dirty, and it runs once more when done. Every event is still evaluated (the
/// rerun sees it) without an evaluation per event under heavy ingestion.
#[derive(Default)]
pub struct AlertChecks(Mutex<HashMap<WorkspaceId, bool>>);

impl AlertChecks {
    /// `true` when the caller should run the evaluation; `false` when one is running (it
    /// will run again).
    pub fn begin(&self, workspace: WorkspaceId) -> bool {
        let mut running = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match running.get_mut(&workspace) {
            Some(dirty) => {
                *dirty = true;
                false
            }
            None => {
                running.insert(workspace, false);
                true
            }
        }
    }

    /// After an evaluation: `true` when events arrived meanwhile and it must run again.
    pub fn finish(&self, workspace: WorkspaceId) -> bool {
        let mut running = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match running.get_mut(&workspace) {
            Some(dirty) if *dirty => {
                *dirty = false;
                true
            }
            _ => {
                running.remove(&workspace);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AlertChecks;
    use llmlab_store::WorkspaceId;

    #[test]
    fn evaluations_coalesce_and_rerun() {
        let c = AlertChecks::default();
        assert!(c.begin(WorkspaceId(1)));
        assert!(!c.begin(WorkspaceId(1)));
        assert!(!c.begin(WorkspaceId(1)));
        assert!(c.begin(WorkspaceId(2)));
        assert!(c.finish(WorkspaceId(1)), "ingested meanwhile: run again");
        assert!(!c.finish(WorkspaceId(1)));
        assert!(c.begin(WorkspaceId(1)));
        assert!(!c.finish(WorkspaceId(1)));
        assert!(!c.finish(WorkspaceId(2)));
    }
}
