//! The load generator: one OS thread and one keep-alive connection per simulated client,
//! each sending requests back to back (closed loop) and recording every latency.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::client::Client;
use crate::Result;

/// A thread gives up after this many I/O failures in a row: the server is gone, and
/// spinning on `connection refused` would only inflate the error count.
const MAX_CONSECUTIVE_IO_ERRORS: u32 = 50;

/// The next request a client sends.
pub struct Request<'a> {
    pub method: &'static str,
    pub path: &'a str,
    pub body: Option<&'a [u8]>,
}

/// What one simulated client sends, request after request.
pub trait Workload: Send {
    /// The next request, or `None` when this client's work is done.
    fn next(&mut self) -> Option<Request<'_>>;

    /// Items a successful response stands for (events, for a batch); one by default.
    fn accepted(&mut self, _body: &[u8]) -> u64 {
        1
    }

    /// Whether the request just sent is one the phase times (a workload may send
    /// others in between, such as the release after a reservation); all by default.
    fn timed(&self) -> bool {
        true
    }
}

/// A gateway's loop without the call: reserve a call's worst case against a hard
/// budget, then release it. Only the reservations are timed.
pub struct ReserveRelease {
    bodies: Arc<Vec<Vec<u8>>>,
    next: usize,
    /// The reservation to release next, and the path that does.
    held: Option<String>,
    releasing: bool,
}

impl ReserveRelease {
    pub fn new(bodies: Arc<Vec<Vec<u8>>>, offset: usize) -> ReserveRelease {
        ReserveRelease {
            bodies,
            next: offset,
            held: None,
            releasing: false,
        }
    }
}

impl Workload for ReserveRelease {
    fn next(&mut self) -> Option<Request<'_>> {
        self.releasing = self.held.is_some();
        if let Some(path) = &self.held {
            return Some(Request {
                method: "DELETE",
                path,
                body: None,
            });
        }
        let body = self.bodies.get(self.next % self.bodies.len().max(1))?;
        self.next = self.next.wrapping_add(1);
        Some(Request {
            method: "POST",
            path: "/api/budgets/reserve",
            body: Some(body),
        })
    }

    fn accepted(&mut self, body: &[u8]) -> u64 {
        if std::mem::take(&mut self.releasing) {
            self.held = None;
            return 0;
        }
        let id = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("reservation_id")?.as_str().map(str::to_string));
        self.held = id.map(|id| format!("/api/budgets/reservations/{id}"));
        1
    }

    fn timed(&self) -> bool {
        !self.releasing
    }
}

/// The same GET again and again.
pub struct Get(pub String);

impl Workload for Get {
    fn next(&mut self) -> Option<Request<'_>> {
        Some(Request {
            method: "GET",
            path: &self.0,
            body: None,
        })
    }
}

/// POSTs prepared bodies in turn, so generating them costs nothing while measuring.
pub struct PostCycle {
    path: String,
    bodies: Arc<Vec<Vec<u8>>>,
    next: usize,
}

impl PostCycle {
    /// Starts at `offset`, so concurrent clients do not send the same body in lockstep.
    pub fn new(path: &str, bodies: Arc<Vec<Vec<u8>>>, offset: usize) -> PostCycle {
        PostCycle {
            path: path.to_string(),
            bodies,
            next: offset,
        }
    }
}

impl Workload for PostCycle {
    fn next(&mut self) -> Option<Request<'_>> {
        let body = self.bodies.get(self.next % self.bodies.len().max(1))?;
        self.next = self.next.wrapping_add(1);
        Some(Request {
            method: "POST",
            path: &self.path,
            body: Some(body),
        })
    }

    fn accepted(&mut self, body: &[u8]) -> u64 {
        if self.path.ends_with("/batch") {
            accepted_in_batch(body)
        } else {
            1
        }
    }
}

/// The `accepted` count of a `/api/events/batch` response (0 if unreadable).
pub fn accepted_in_batch(body: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("accepted").and_then(serde_json::Value::as_u64))
        .unwrap_or(0)
}

/// Work shared by clients that stop when it runs out (seeding a fixed number of events).
#[derive(Clone)]
pub struct Quota(Arc<AtomicU64>);

impl Quota {
    pub fn new(units: u64) -> Quota {
        Quota(Arc::new(AtomicU64::new(units)))
    }

    /// Takes up to `max` units; returns how many it got (0 once none are left).
    pub fn take(&self, max: u64) -> u64 {
        match self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n > 0).then(|| n - n.min(max))
            }) {
            Ok(before) => before.min(max),
            Err(_) => 0,
        }
    }
}

/// How long a phase runs.
#[derive(Clone, Copy)]
pub enum Until {
    /// Warm up (nothing recorded), then measure for the given time.
    Elapsed { warmup: Duration, measure: Duration },
    /// Until every workload returns `None`; everything is measured.
    Done,
}

/// The figures of one phase, over every client.
#[derive(Debug, Default)]
pub struct Stats {
    /// Responses received (any status) and I/O failures.
    pub requests: u64,
    /// Non-2xx responses and I/O failures.
    pub errors: u64,
    /// Count per failing status; 0 stands for an I/O failure.
    pub failures: BTreeMap<u16, u64>,
    /// The first failure seen, for the report.
    pub first_failure: Option<String>,
    /// Items accepted by successful responses (requests, or events for a batch).
    pub items: u64,
    /// Wall time measured.
    pub elapsed: Duration,
    /// Latency of every measured request in microseconds, sorted after [`run`].
    latencies_us: Vec<u32>,
}

impl Stats {
    pub fn requests_per_sec(&self) -> f64 {
        per_sec(self.requests, self.elapsed)
    }

    pub fn items_per_sec(&self) -> f64 {
        per_sec(self.items, self.elapsed)
    }

    /// The `p`-th percentile latency (nearest rank), zero without samples.
    pub fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies_us, p)
    }

    /// A one-line account of the failures, e.g. `503×12 (first: …)`.
    pub fn failure_summary(&self) -> Option<String> {
        if self.errors == 0 {
            return None;
        }
        let counts: Vec<String> = self
            .failures
            .iter()
            .map(|(status, n)| match status {
                0 => format!("I/O error×{n}"),
                s => format!("{s}×{n}"),
            })
            .collect();
        let first = self.first_failure.as_deref().unwrap_or("");
        Some(format!("{} (first: {first})", counts.join(", ")))
    }

    fn record(&mut self, took: Duration) {
        self.requests += 1;
        self.latencies_us
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    fn fail(&mut self, status: u16, what: impl FnOnce() -> String) {
        self.errors += 1;
        *self.failures.entry(status).or_default() += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(what());
        }
    }

    fn merge(&mut self, other: Stats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.items += other.items;
        for (status, n) in other.failures {
            *self.failures.entry(status).or_default() += n;
        }
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.latencies_us.extend(other.latencies_us);
    }
}

pub fn per_sec(n: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// Nearest-rank percentile of sorted microsecond samples.
pub fn percentile(sorted_us: &[u32], p: f64) -> Duration {
    if sorted_us.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    Duration::from_micros(u64::from(sorted_us[index]))
}

/// Runs one client per workload against `addr` until `until`, and merges their figures.
pub fn run<W: Workload>(
    addr: SocketAddr,
    bearer: &str,
    workloads: Vec<W>,
    until: Until,
) -> Result<Stats> {
    let started = Instant::now();
    let (measure_from, deadline) = match until {
        Until::Elapsed { warmup, measure } => (started + warmup, Some(started + warmup + measure)),
        Until::Done => (started, None),
    };
    let per_client = std::thread::scope(|scope| {
        let handles: Vec<_> = workloads
            .into_iter()
            .map(|w| scope.spawn(move || drive(w, addr, bearer, measure_from, deadline)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "a load generator thread panicked".to_string())
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let mut total = Stats::default();
    let mut finished = measure_from;
    for (stats, ended) in per_client {
        total.merge(stats);
        finished = finished.max(ended);
    }
    total.elapsed = finished.saturating_duration_since(measure_from);
    total.latencies_us.sort_unstable();
    Ok(total)
}

/// One client's loop; returns its figures and when its last request ended.
fn drive<W: Workload>(
    mut workload: W,
    addr: SocketAddr,
    bearer: &str,
    measure_from: Instant,
    deadline: Option<Instant>,
) -> (Stats, Instant) {
    let mut client = Client::new(addr, Some(bearer));
    let mut stats = Stats::default();
    let mut body = Vec::with_capacity(64 * 1024);
    let mut io_errors_in_a_row = 0;
    let mut ended = Instant::now();
    while deadline.is_none_or(|d| ended < d) && io_errors_in_a_row < MAX_CONSECUTIVE_IO_ERRORS {
        let Some(req) = workload.next() else { break };
        let start = Instant::now();
        let outcome = client.send(req.method, req.path, req.body, &mut body);
        ended = Instant::now();
        if start < measure_from {
            // Warming up: a reservation made is still released.
            if matches!(outcome, Ok(status) if (200..300).contains(&status)) {
                workload.accepted(&body);
            }
            continue;
        }
        if workload.timed() {
            stats.record(ended - start);
        }
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                io_errors_in_a_row = 0;
                stats.items += workload.accepted(&body);
            }
            Ok(status) => {
                io_errors_in_a_row = 0;
                stats.fail(status, || {
                    let text = String::from_utf8_lossy(&body);
                    format!("{status} {}", truncate(&text, 200))
                });
            }
            Err(e) => {
                io_errors_in_a_row += 1;
                stats.fail(0, || e);
            }
        }
    }
    (stats, ended)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), Duration::from_micros(50));
        assert_eq!(percentile(&samples, 99.0), Duration::from_micros(99));
        assert_eq!(percentile(&samples, 100.0), Duration::from_micros(100));
        assert_eq!(percentile(&[7], 99.0), Duration::from_micros(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn quota_runs_out() {
        let q = Quota::new(2500);
        assert_eq!(q.take(1000), 1000);
        assert_eq!(q.clone().take(1000), 1000);
        assert_eq!(q.take(1000), 500);
        assert_eq!(q.take(1000), 0);
    }

    #[test]
    fn reads_the_accepted_count() {
        assert_eq!(accepted_in_batch(br#"{"accepted":998,"rejected":2}"#), 998);
        assert_eq!(accepted_in_batch(b"not json"), 0);
    }
}
