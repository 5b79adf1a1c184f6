//! The queue between the caller and the server, and the thread that empties it.
//!
//! The caller only ever takes the queue's lock to push one event; sending, waiting and
//! retrying happen on the sender thread, which holds the lock only to take a batch and
//! to record what became of it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::Stats;
use crate::event::Event;
use crate::transport::{Outcome, Transport};

/// How the sender batches and retries.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub capacity: usize,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How long one batch is retried before it is given up as failed.
    pub give_up_after: Duration,
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<(Instant, Event)>,
    /// Events taken into the queue so far, and of those, the ones whose fate is known
    /// (answered by the server, or given up): a flush waits for the second to reach the
    /// first as it was when the flush began.
    enqueued: u64,
    settled: u64,
    flush_requested: bool,
    closing: bool,
    /// When closing, the moment past which what is left is given up.
    deadline: Option<Instant>,
    stats: Stats,
    /// Whether the queue was full at the last push (a warning is logged when it fills).
    overflowing: bool,
}

#[derive(Debug)]
pub(crate) struct Queue {
    state: Mutex<State>,
    /// Wakes the sender: a batch is full, a flush is asked for, the client closes.
    wake: Condvar,
    /// Wakes flushers: events were settled.
    settled: Condvar,
    policy: Policy,
}

impl Queue {
    pub fn new(policy: Policy) -> Arc<Queue> {
        Arc::new(Queue {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            settled: Condvar::new(),
            policy,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves counters, not broken invariants.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `event`, or gives it back when the queue is full or closed.
    pub fn push(&self, event: Event) -> Result<(), Box<Event>> {
        let mut state = self.lock();
        if state.closing || state.queue.len() >= self.policy.capacity {
            state.stats.dropped += 1;
            if !state.overflowing {
                state.overflowing = true;
                log::warn!(
                    "llmlab-client: queue full ({} events): dropping events until the server \
                     catches up",
                    self.policy.capacity
                );
            }
            return Err(Box::new(event));
        }
        state.overflowing = false;
        state.queue.push_back((Instant::now(), event));
        state.enqueued += 1;
        state.stats.queued = state.queue.len() as u64;
        if state.queue.len() >= self.policy.batch_size {
            self.wake.notify_one();
        }
        Ok(())
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Waits until every event queued before the call is settled, or `timeout` passes;
    /// whether it got there.
    pub fn flush(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut state = self.lock();
        let target = state.enqueued;
        state.flush_requested = true;
        self.wake.notify_one();
        while state.settled < target {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .settled
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Stops taking events; the sender delivers what is queued within the shutdown
    /// timeout, then ends.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closing = true;
        state.deadline = Some(Instant::now() + self.policy.shutdown_timeout);
        self.wake.notify_all();
    }

    /// The sender thread's loop: take a batch when one is due, send it until its fate is
    /// known, record it; end when closed and empty.
    pub fn run(&self, transport: &Transport) {
        while let Some(batch) = self.next_batch() {
            let n = batch.len() as u64;
            self.deliver(transport, batch);
            let mut state = self.lock();
            state.settled += n;
            state.stats.queued = state.queue.len() as u64;
            self.settled.notify_all();
        }
    }

    fn next_batch(&self) -> Option<Vec<Event>> {
        let mut state = self.lock();
        loop {
            if state.closing && state.deadline.is_some_and(|d| Instant::now() >= d) {
                let left = state.queue.len();
                if left > 0 {
                    log::error!(
                        "llmlab-client: {left} events not delivered: closed before the server \
                         took them"
                    );
                    state.queue.clear();
                    state.stats.failed += left as u64;
                    state.settled += left as u64;
                    state.stats.queued = 0;
                    self.settled.notify_all();
                }
                return None;
            }
            let due = match state.queue.front() {
                None if state.closing => return None,
                None => {
                    state.flush_requested = false;
                    None
                }
                Some(_)
                    if state.closing
                        || state.flush_requested
                        || state.queue.len() >= self.policy.batch_size =>
                {
                    Some(Duration::ZERO)
                }
                Some((since, _)) => Some(
                    (*since + self.policy.flush_interval).saturating_duration_since(Instant::now()),
                ),
            };
            match due {
                Some(wait) if wait.is_zero() => {
                    let n = state.queue.len().min(self.policy.batch_size);
                    let batch = state.queue.drain(..n).map(|(_, e)| e).collect();
                    if state.queue.is_empty() {
                        state.flush_requested = false;
                    }
                    return Some(batch);
                }
                Some(wait) => {
                    state = self
                        .wake
                        .wait_timeout(state, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                None => state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    /// Sends `batch` until the server has answered for every event in it, or it is
    /// given up (refused, retried too long, or the client closed past its deadline).
    fn deliver(&self, transport: &Transport, batch: Vec<Event>) {
        let mut pending = vec![batch];
        while let Some(batch) = pending.pop() {
            let started = Instant::now();
            let mut attempt = 0u32;
            loop {
                match transport.send_batch(&batch) {
                    Outcome::Answered(answer) => {
                        self.record_answer(&batch, &answer);
                        break;
                    }
                    Outcome::TooLarge(_) if batch.len() > 1 => {
                        let mut first = batch;
                        let second = first.split_off(first.len() / 2);
                        pending.push(second);
                        pending.push(first);
                        break;
                    }
                    Outcome::TooLarge(reason) | Outcome::Refused(reason) => {
                        self.give_up(batch.len(), &reason);
                        break;
                    }
                    Outcome::Retry { after, reason } => {
                        attempt += 1;
                        let wait = after.unwrap_or_else(|| self.backoff(attempt));
                        if started.elapsed() + wait > self.policy.give_up_after || !self.pause(wait)
                        {
                            self.give_up(batch.len(), &reason);
                            break;
                        }
                        self.lock().stats.retries += 1;
                    }
                }
            }
        }
    }

    /// Exponential backoff with jitter: between half and all of
    /// `first_backoff · 2^(attempt-1)`, capped at `max_backoff`.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .policy
            .first_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.policy.max_backoff);
        cap / 2 + cap.mul_f64(rand::random::<f64>() / 2.0)
    }

    /// Sleeps `wait` unless the client closes past its deadline first; whether to go on.
    fn pause(&self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            if state.deadline.is_some_and(|d| now >= d) {
                return false;
            }
            if now >= until {
                return true;
            }
            let next = state.deadline.map_or(until, |d| d.min(until));
            state = self
                .wake
                .wait_timeout(state, next.saturating_duration_since(now))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn record_answer(&self, batch: &[Event], answer: &crate::transport::BatchAnswer) {
        let mut state = self.lock();
        state.stats.accepted += answer.accepted;
        state.stats.duplicates += answer.duplicates;
        state.stats.rejected += answer.rejected;
        for item in answer.results.iter().filter(|i| i.status == "rejected") {
            let id = batch.get(item.index).and_then(Event::id).unwrap_or("?");
            let why = item
                .error
                .as_ref()
                .and_then(|e| e["message"].as_str())
                .unwrap_or("rejected");
            log::warn!("llmlab-client: event {id} rejected: {why}");
            state.stats.last_error = Some(format!("event {id} rejected: {why}"));
        }
    }

    fn give_up(&self, events: usize, reason: &str) {
        log::error!("llmlab-client: {events} events not delivered: {reason}");
        let mut state = self.lock();
        state.stats.failed += events as u64;
        state.stats.last_error = Some(reason.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            batch_size: 3,
            flush_interval: Duration::from_secs(60),
            capacity: 4,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            give_up_after: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(1),
        }
    }

    fn event() -> Event {
        Event::new("openai", "gpt-4o", 1, 1)
    }

    #[test]
    fn a_full_queue_gives_the_event_back_and_counts_it() {
        let queue = Queue::new(policy());
        for _ in 0..4 {
            assert!(queue.push(event()).is_ok());
        }
        assert!(queue.push(event()).is_err());
        let stats = queue.stats();
        assert_eq!((stats.queued, stats.dropped), (4, 1));
    }

    #[test]
    fn batches_are_taken_when_full_or_asked_for() {
        let queue = Queue::new(policy());
        for _ in 0..4 {
            assert!(queue.push(event()).is_ok());
        }
        assert_eq!(queue.next_batch().map(|b| b.len()), Some(3));
        queue.lock().flush_requested = true;
        assert_eq!(queue.next_batch().map(|b| b.len()), Some(1));
        queue.close();
        assert!(queue.next_batch().is_none());
    }

    #[test]
    fn backoff_doubles_within_its_bounds() {
        let queue = Queue::new(policy());
        for attempt in 1..40 {
            let cap = Duration::from_millis(100)
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(Duration::from_secs(5));
            let wait = queue.backoff(attempt);
            assert!(wait >= cap / 2 && wait <= cap, "{attempt}: {wait:?}");
        }
    }
}
