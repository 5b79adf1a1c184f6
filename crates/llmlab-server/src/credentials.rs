//! API keys recognised in the last `LLMLAB_CREDENTIAL_CACHE_MS` (1 s by default), so a
//! sender's steady stream of events costs one credential query per key per interval
//! instead of one per request.
//!
//! The bound this puts on revocation, on every instance: a revoked key (or one whose
//! workspace's custom prices just changed) is refused (or priced anew) at most that long
//! after the change; with 0 the cache is off and every request asks the database. Only
//! keys that were valid are kept, so random keys cannot fill memory, and the cache starts
//! over when it holds [`KeyCache::MAX`] keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use llmlab_store::ApiKeyRow;

/// A key's row and its workspace's custom-prices version, as last read.
type Entry = (Instant, ApiKeyRow, i64);

/// Recently authenticated API keys, by hash.
pub struct KeyCache {
    ttl: Duration,
    keys: Mutex<HashMap<String, Entry>>,
}

impl KeyCache {
    /// Keys kept before the cache starts over.
    pub const MAX: usize = 10_000;

    /// A cache keeping keys for `ttl` (zero: off).
    pub fn new(ttl: Duration) -> KeyCache {
        KeyCache {
            ttl,
            keys: Mutex::new(HashMap::new()),
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

    /// Remembers a valid key read just now.
    pub fn put(&self, hash: String, row: ApiKeyRow, version: i64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut keys = self.lock();
        if keys.len() >= Self::MAX {
            keys.clear();
        }
        keys.insert(hash, (Instant::now(), row, version));
    }
}
