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
        if self.ttl.is_zero() {
            return None;
        }
        let keys = self.lock();
        let (at, row, version) = keys.get(hash)?;
        (at.elapsed() < self.ttl).then(|| (row.clone(), *version))
    }

    /// The cache's epoch: taken before reading a key from the database and given back
    /// to [`KeyCache::put`].
    pub fn epoch(&self) -> u64 {
        self.forgets.load(Ordering::SeqCst)
    }

    /// Remembers a valid key read just now, unless a key was forgotten since `epoch`
    /// (the read may predate that revocation).
    pub fn put(&self, hash: String, row: ApiKeyRow, version: i64, epoch: u64) {
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
        keys.insert(hash, (Instant::now(), row, version));
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
