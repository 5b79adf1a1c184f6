//! Per-user ingestion quotas (`LLMLAB_INGEST_EVENTS_PER_MINUTE`).
//!
//! Kept in memory per instance: a quota protects an instance's capacity from one
//! tenant, and checking it must not cost a database write per event. With several
//! instances behind a balancer a user can send up to the quota to each.

use llmlab_store::WorkspaceId;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, InsufficientCapacity, Quota, RateLimiter};

use crate::AppError;

/// Users tracked before idle ones are first dropped (their allowance is full again
/// anyway).
const RETAIN_ABOVE: usize = 10_000;

/// Events per minute per workspace, refilled continuously (GCRA), bursting up to a minute's
/// worth.
pub struct IngestQuota {
    per_minute: NonZeroU32,
    limiter: DefaultKeyedRateLimiter<WorkspaceId>,
    /// Size at which idle users are dropped next: twice what a sweep left, so sweeps
    /// (which visit every user) stay rare however many users are active.
    sweep_at: AtomicUsize,
}

impl IngestQuota {
    /// `None` when `per_minute` is 0 (no quota).
    pub fn new(per_minute: u32) -> Option<IngestQuota> {
        let per_minute = NonZeroU32::new(per_minute)?;
        Some(IngestQuota {
            per_minute,
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            sweep_at: AtomicUsize::new(RETAIN_ABOVE),
        })
    }

    /// Takes `events` from `workspace`'s allowance: 429 with the wait until they fit, or
    /// 422 for a batch larger than a whole minute's allowance (no wait would help).
    pub fn take(&self, workspace: WorkspaceId, events: usize) -> Result<(), AppError> {
        let Some(n) = u32::try_from(events).ok().and_then(NonZeroU32::new) else {
            return Ok(());
        };
        if self.limiter.len() > self.sweep_at.load(Ordering::Relaxed) {
            self.limiter.retain_recent();
            let next = (self.limiter.len() * 2).max(RETAIN_ABOVE);
            self.sweep_at.store(next, Ordering::Relaxed);
        }
        match self.limiter.check_key_n(&workspace, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Err(AppError::RateLimited {
                    retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                    message: format!(
                        "ingestion quota of {} events per minute exceeded; retry later",
                        self.per_minute
                    ),
                })
            }
            Err(InsufficientCapacity(_)) => Err(AppError::invalid(
                "events",
                format!(
                    "a batch of {events} events exceeds the ingestion quota of {} events per \
                     minute; send smaller batches",
                    self.per_minute
                ),
            )),
        }
    }
}
