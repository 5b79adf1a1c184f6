//! API keys recognised in the last `LLMLAB_CREDENTIAL_CACHE_MS` (1 s by default), so a
//! sender's steady stream of events costs one credential query per key per interval
//! instead of one per request.
//!
//! The bound this puts on revocation, on every other instance: a revoked key (or one
//! whose workspace was deleted, or whose workspace's custom prices just changed) is
//! refused (or priced anew) at most that long after the change; with 0 the cache is off
//! and every request asks the database. The instance that made the change forgets the
//! key at once ([`KeyCache::forget_key`], [`KeyCache::forget_workspace`]), and a write
//! that finds the key's workspace gone is refused wherever it lands. Only
//! keys that were valid are kept, so random keys cannot fill memory, and the cache starts
//! over when it holds [`KeyCache::MAX`] keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use llmlab_store::{ApiKeyId, ApiKeyRow, WorkspaceId};

/// A key's row and its workspace's custom-prices version, as last read.
type Entry = (Instant, ApiKeyRow, i64);

/// Recently authenticated API keys, by hash.
pub struct KeyCache {
    ttl: Duration,
    keys: Mutex<HashMap<String, Entry>>,
    /// Bumped by every forget, so a key read from the database before a revocation
    /// committed is not put back after it (see [`KeyCache::epoch`]).
    forgets: AtomicU64,
}

impl KeyCache {
    /// Keys kept before the cache starts over.
    pub const MAX: usize = 10_000;

    /// A cache keeping keys for `ttl` (zero: off).
    pub fn new(ttl: Duration) -> KeyCache {
        KeyCache {
            ttl,
            keys: Mutex::new(HashMap::new()),
            forgets: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key with hash `hash`, if it was read less than the TTL ago.
    pub fn get(&self, hash: &str) -> Option<(ApiKeyRow, i64)> {
        self.get_at(hash, Instant::now())
    }

    /// [`KeyCache::get`] at the instant `now`.
    fn get_at(&self, hash: &str, now: Instant) -> Option<(ApiKeyRow, i64)> {
        if self.ttl.is_zero() {
            return None;
        }
        let keys = self.lock();
        let (at, row, version) = keys.get(hash)?;
        (now.saturating_duration_since(*at) < self.ttl).then(|| (row.clone(), *version))
    }

    /// The cache's epoch: taken before reading a key from the database and given back
    /// to [`KeyCache::put`].
    pub fn epoch(&self) -> u64 {
        self.forgets.load(Ordering::SeqCst)
    }

    /// Remembers a valid key read just now, unless a key was forgotten since `epoch`
    /// (the read may predate that revocation).
    pub fn put(&self, hash: String, row: ApiKeyRow, version: i64, epoch: u64) {
        self.put_at(hash, row, version, epoch, Instant::now());
    }

    /// [`KeyCache::put`] of a key read at the instant `now`.
    fn put_at(&self, hash: String, row: ApiKeyRow, version: i64, epoch: u64, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut keys = self.lock();
        if self.epoch() != epoch {
            return;
        }
        if keys.len() >= Self::MAX {
            keys.clear();
        }
        keys.insert(hash, (now, row, version));
    }

    /// Forgets key `id` (revoked here): refused from the next request on.
    pub fn forget_key(&self, id: ApiKeyId) {
        let mut keys = self.lock();
        self.forgets.fetch_add(1, Ordering::SeqCst);
        keys.retain(|_, (_, row, _)| row.id != id);
    }

    /// Forgets every key of `workspace` (deleted here, or found gone by a write).
    pub fn forget_workspace(&self, workspace: WorkspaceId) {
        let mut keys = self.lock();
        self.forgets.fetch_add(1, Ordering::SeqCst);
        keys.retain(|_, (_, row, _)| row.workspace_id != workspace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i64) -> ApiKeyRow {
        ApiKeyRow {
            id: ApiKeyId(id),
            workspace_id: WorkspaceId(1),
            name: "k".into(),
            prefix: "llm_k".into(),
            key_hash: format!("hash-{id}"),
            created_at: chrono::NaiveDateTime::default(),
            last_used_at: None,
            revoked_at: None,
            scopes: "ingest".into(),
            created_by: None,
            tags_json: "{}".into(),
        }
    }

    // The bound on revocation elsewhere is the TTL to the instant: a key read at t is
    // trusted until just before t + TTL and asked for again from then on.
    #[test]
    fn a_key_is_trusted_for_the_ttl_and_no_longer() {
        let ttl = Duration::from_millis(1000);
        let cache = KeyCache::new(ttl);
        let t = Instant::now();
        cache.put_at("h".into(), key(7), 3, cache.epoch(), t);
        assert_eq!(
            cache.get_at("h", t).map(|(r, v)| (r.id, v)),
            Some((ApiKeyId(7), 3))
        );
        let last = t + ttl - Duration::from_nanos(1);
        assert!(cache.get_at("h", last).is_some());
        assert!(cache.get_at("h", t + ttl).is_none());
        // Off: never trusted.
        let off = KeyCache::new(Duration::ZERO);
        off.put_at("h".into(), key(7), 3, off.epoch(), t);
        assert!(off.get_at("h", t).is_none());
    }

    // A key read before a revocation here committed is not put back after it.
    #[test]
    fn a_read_that_predates_a_forget_is_not_kept() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let t = Instant::now();
        let epoch = cache.epoch();
        cache.forget_key(ApiKeyId(7));
        cache.put_at("h".into(), key(7), 3, epoch, t);
        assert!(cache.get_at("h", t).is_none());
        cache.put_at("h".into(), key(7), 3, cache.epoch(), t);
        assert!(cache.get_at("h", t).is_some());
        cache.forget_workspace(WorkspaceId(1));
        assert!(cache.get_at("h", t).is_none());
    }
}
