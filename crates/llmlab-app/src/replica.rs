//! Reports from a read replica (`LLMLAB_READ_DATABASE_URL`): which store a read goes to.
//!
//! Reads that may be a little behind (reports, event lists, the dashboard's read-only
//! pages) go through [`crate::blocking_read`], which asks [`ReadReplica::route`].
//! The replica serves them while its last verdict says it answers and replays within
//! `LLMLAB_REPLICA_MAX_LAG_MS`; otherwise they go to the primary and
//! `llmlab_replica_fallbacks_total{reason}` counts it. Writes, the pre-flight budget
//! check, budget evaluation and credentials always use the primary (`crate::blocking`).
//!
//! The verdict is one lag query at most every [`CHECK_EVERY`] per instance, run on its
//! own thread: a request never waits for it (an unreachable replica can take the whole
//! connection timeout to say so), it reads the latest verdict. A verdict older than
//! [`TRUST_FOR`] (an instance that has been idle) does not send reads to the replica.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use llmlab_store::{Backend, DatabaseUrl, Store};

use crate::config::ConfigError;

/// Longest a verdict is used before a new check starts.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Longest a "healthy" verdict sends reads to the replica without a newer check.
pub const TRUST_FOR: Duration = Duration::from_secs(5);

/// What the last check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answers, and replays within the allowed lag.
    Healthy,
    /// Did not answer.
    Unreachable,
    /// Answers, but replays too far behind (or cannot tell how far).
    Lagging,
}

impl Verdict {
    /// The `reason` label of a fallback this verdict causes.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Verdict::Healthy => None,
            Verdict::Unreachable => Some("unreachable"),
            Verdict::Lagging => Some("lagging"),
        }
    }
}

/// Where one read goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The replica.
    Replica,
    /// The primary, because the replica is unreachable or lagging (counted).
    Fallback(&'static str),
    /// The primary, because no recent check vouches for the replica (just started, or
    /// idle): not a fault of the replica, not counted.
    Unchecked,
}

/// The replica's pool and what is known of its health.
pub struct ReadReplica {
    store: Store,
    max_lag_ms: u64,
    last: Mutex<Option<(Instant, Verdict)>>,
    checking: AtomicBool,
}

/// The validated `LLMLAB_READ_DATABASE_URL`: PostgreSQL, and only beside a PostgreSQL
/// primary (an SQLite file has no replicas).
pub fn read_url(read: Option<String>, primary: &str) -> Result<Option<String>, ConfigError> {
    let Some(read) = read.map(|r| r.trim().to_string()) else {
        return Ok(None);
    };
    let parsed = DatabaseUrl::parse(&read)
        .map_err(|e| ConfigError(format!("LLMLAB_READ_DATABASE_URL: {e}")))?;
    if parsed.backend != Backend::Postgres {
        return Err(ConfigError(
            "LLMLAB_READ_DATABASE_URL must be a PostgreSQL streaming replica \
             (postgres://user@replica-host:5432/db)"
                .into(),
        ));
    }
    let primary_is_pg = DatabaseUrl::parse(primary).is_ok_and(|p| p.backend == Backend::Postgres);
    if !primary_is_pg {
        return Err(ConfigError(
            "LLMLAB_READ_DATABASE_URL needs a PostgreSQL DATABASE_URL: an SQLite database \
             has no replica to read from"
                .into(),
        ));
    }
    Ok(Some(read))
}

impl ReadReplica {
    /// The replica at `url` (nothing connects yet), trusted within `max_lag_ms`.
    pub fn open(
        url: &str,
        pool_size: u32,
        timeout: Duration,
        max_lag_ms: u64,
    ) -> Result<Arc<ReadReplica>, String> {
        let store = Store::open_read_only(url, pool_size, timeout)
            .map_err(|e| format!("LLMLAB_READ_DATABASE_URL: {e}"))?;
        Ok(Arc::new(ReadReplica {
            store,
            max_lag_ms,
            last: Mutex::new(None),
            checking: AtomicBool::new(false),
        }))
    }

    /// The replica's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where a read goes now; starts a check when the verdict is older than
    /// [`CHECK_EVERY`].
    pub fn route(self: &Arc<Self>) -> Route {
        let last = *self.lock();
        if last.is_none_or(|(at, _)| at.elapsed() >= CHECK_EVERY) {
            self.check_in_background();
        }
        match last {
            Some((at, Verdict::Healthy)) if at.elapsed() < TRUST_FOR => Route::Replica,
            Some((_, Verdict::Healthy)) | None => Route::Unchecked,
            Some((_, bad)) => Route::Fallback(bad.reason().unwrap_or("unreachable")),
        }
    }

    /// Records that a read on the replica found it gone, so the next reads go to the
    /// primary without waiting for the next check.
    pub fn mark_unreachable(&self) {
        self.record(Verdict::Unreachable);
    }

    /// Judges the replica now (blocking: one query, or the connection timeout).
    pub fn check(&self) -> Verdict {
        let verdict = match self.store.replica_lag_ms() {
            Ok(Some(ms)) if ms <= self.max_lag_ms => Verdict::Healthy,
            Ok(_) => Verdict::Lagging,
            Err(llmlab_store::StoreError::Unavailable(_)) => Verdict::Unreachable,
            Err(e) => {
                log::warn!("read replica: the lag query failed: {e}");
                Verdict::Unreachable
            }
        };
        self.record(verdict);
        verdict
    }

    fn check_in_background(self: &Arc<Self>) {
        if self.checking.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("llmlab-replica-check".into())
            .spawn(move || {
                me.check();
                me.checking.store(false, Ordering::Release);
            });
        if let Err(e) = spawned {
            log::warn!("read replica: cannot start its check: {e}");
            self.checking.store(false, Ordering::Release);
        }
    }

    fn record(&self, verdict: Verdict) {
        let previous = self.lock().replace((Instant::now(), verdict));
        // Said once per change, not once per check.
        if previous.map(|(_, v)| v) != Some(verdict) {
            match verdict {
                Verdict::Healthy => log::info!("read replica: serving reports"),
                Verdict::Unreachable => {
                    log::warn!("read replica: unreachable; reports read the primary")
                }
                Verdict::Lagging => log::warn!(
                    "read replica: more than {} ms behind; reports read the primary",
                    self.max_lag_ms
                ),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Verdict)>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_url_is_postgres_beside_postgres() {
        let pg = "postgres://u@primary/db";
        assert_eq!(read_url(None, "sqlite://x.db").expect("none"), None);
        assert_eq!(
            read_url(Some(" postgres://u@replica/db ".into()), pg).expect("pg"),
            Some("postgres://u@replica/db".into())
        );
        let e = read_url(Some("sqlite://r.db".into()), pg).expect_err("sqlite replica");
        assert!(
            e.to_string().contains("PostgreSQL streaming replica"),
            "{e}"
        );
        let e = read_url(Some("mysql://h/db".into()), pg).expect_err("other scheme");
        assert!(e.to_string().contains("LLMLAB_READ_DATABASE_URL"), "{e}");
        let e = read_url(Some("postgres://u@replica/db".into()), "sqlite://x.db")
            .expect_err("sqlite primary");
        assert!(e.to_string().contains("SQLite database"), "{e}");
    }

    #[test]
    fn reads_follow_the_verdict() {
        let replica = ReadReplica::open(
            "postgres://postgres@127.0.0.1:9/none",
            1,
            Duration::from_millis(100),
            5_000,
        )
        .expect("opens without connecting");
        // Block the background check so the verdicts below are the test's own.
        replica.checking.store(true, Ordering::Release);
        assert_eq!(replica.route(), Route::Unchecked);
        replica.record(Verdict::Healthy);
        assert_eq!(replica.route(), Route::Replica);
        replica.mark_unreachable();
        assert_eq!(replica.route(), Route::Fallback("unreachable"));
        replica.record(Verdict::Lagging);
        assert_eq!(replica.route(), Route::Fallback("lagging"));
        // An old "healthy" does not vouch for the replica any more.
        *replica.lock() = Some((Instant::now() - TRUST_FOR, Verdict::Healthy));
        assert_eq!(replica.route(), Route::Unchecked);
        replica.checking.store(false, Ordering::Release);
        assert_eq!(replica.check(), Verdict::Unreachable);
    }
}
