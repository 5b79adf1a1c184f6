//! `cargo xtask bench tenants`: one server instance and many workspaces. For each count
//! of workspaces (1,000 and 5,000 by default), a fresh database is seeded through
//! llmlab-store (each workspace with a webhook channel to a receiver this process runs,
//! a budget and three events), then the release server is started on it and measured:
//!
//! 1. delivery: one monthly report per channel recorded at once, and how fast the
//!    server's outbox delivers them to the receiver;
//! 2. idle CPU: the server restarted with `LLMLAB_NOTIFY_INTERVAL_SECS=1`, the CPU of
//!    its process and of the database's PostgreSQL backends while nobody calls it;
//! 3. the notification scheduler's tick, from `/metrics`, over the same window;
//! 4. (at the largest count only) tag cardinality: one workspace with 200,000 events
//!    over 100,000 values of the tag `customer`, the anomalies and by-tag endpoints over
//!    it, and the server's memory.

mod probe;
mod receiver;
mod section;
mod seed;

use std::path::Path;
use std::time::{Duration, Instant};

use llmlab_store::Store;

use super::client::Client;
use super::db::{FreshDb, Target};
use super::load;
use super::server::{self, Launch, Memory, Server};
use crate::Result;
use probe::{CpuShare, Sample, TickFigures};
use receiver::Receiver;

pub use section::tenants_section;

/// Events and distinct `customer` values of the tag-cardinality workspace.
const TAG_EVENTS: usize = 200_000;
const TAG_VALUES: usize = 100_000;
/// Timed calls per endpoint one after the other, and per client of the four at once.
const SEQUENTIAL_CALLS: usize = 5;
const PARALLEL_CLIENTS: usize = 4;
const PARALLEL_CALLS: usize = 3;
/// Longest wait for the ranking the by-tag report asks for.
const RANKING_WAIT: Duration = Duration::from_secs(120);
/// A delivery phase that has not finished by then is reported as far as it got.
const DELIVERY_LIMIT: Duration = Duration::from_secs(600);
/// The scheduler's interval while idle CPU is measured.
const IDLE_INTERVAL_SECS: &str = "1";

#[derive(Debug, Clone)]
pub struct TenantOptions {
    /// Workspace counts, one fresh database each.
    pub workspaces: Vec<usize>,
    /// Seconds of the idle-CPU window.
    pub seconds: u64,
}

pub struct TenantResults {
    pub runs: Vec<ScaleRun>,
    /// At the largest count.
    pub tags: Option<TagResults>,
    pub options: TenantOptions,
}

/// The figures at one count of workspaces.
pub struct ScaleRun {
    pub workspaces: usize,
    pub seeding: Duration,
    pub delivery: Delivery,
    pub idle: Idle,
}

pub struct Delivery {
    /// Notifications recorded.
    pub queued: u64,
    /// Requests the receiver got.
    pub arrived: u64,
    /// From the first request at the receiver to the last.
    pub first_to_last: Duration,
    /// From the commit of the notifications until the outbox had recorded every one
    /// delivered; `None` if it did not within [`DELIVERY_LIMIT`].
    pub all_recorded: Option<Duration>,
}

impl Delivery {
    /// Requests per second while they arrived.
    pub fn per_sec(&self) -> f64 {
        load::per_sec(self.arrived.saturating_sub(1), self.first_to_last)
    }
}

pub struct Idle {
    /// The first ticks after the server started, until every workspace (all due: their
    /// channels are new) had been visited; `None` when not exposed or not done in time.
    pub first: Option<TickFigures>,
    pub server: CpuShare,
    /// PostgreSQL backends of the database (every node's, on a cluster); `None` on SQLite.
    pub database: Option<CpuShare>,
    /// `None` when the server does not expose the scheduler's metrics.
    pub tick: Option<TickFigures>,
}

pub struct TagResults {
    pub seeding: Duration,
    pub timings: Vec<TagTiming>,
    pub before: Memory,
    pub after: Memory,
}

pub struct TagTiming {
    /// What the path is timed as (the path, and how it is answered).
    pub path: String,
    /// Seconds from the untimed call until the key's ranking was built, when the
    /// timed calls waited for it.
    pub ranking_after: Option<f64>,
    pub status: Option<u16>,
    pub bytes: usize,
    /// Microseconds, sorted.
    pub sequential_us: Vec<u32>,
    pub parallel_us: Vec<u32>,
    pub problem: Option<String>,
}

pub fn run(target: &Target<'_>, bin: &Path, options: &TenantOptions) -> Result<TenantResults> {
    let receiver = Receiver::start()?;
    let mut runs = Vec::new();
    let mut tags = None;
    let largest = options.workspaces.iter().copied().max().unwrap_or(0);
    for &n in &options.workspaces {
        let db = FreshDb::create(target, "tenants")?;
        let store = Store::connect(&db.url, 2).map_err(|e| format!("{}: {e}", db.url))?;
        eprintln!("xtask: seeding {n} workspaces");
        let (tenants, seeding) = seed::workspaces(&store, n, &receiver.url())?;
        let allow_private = ("LLMLAB_WEBHOOK_ALLOW_PRIVATE", "true");
        let server = Server::start(&Launch {
            bin,
            database_url: &db.url,
            dir: db.dir.path(),
            env: &[allow_private],
        })?;
        let delivery = deliver(&store, &db, &receiver, &tenants).map_err(|e| server.explain(e))?;
        if n == largest && tags.is_none() {
            tags = Some(tag_cardinality(&server, &store).map_err(|e| server.explain(e))?);
        }
        server.stop();
        // Every workspace due at once, everything to look at (as after events everywhere):
        // the restarted server's first ticks are the scheduler's heaviest case.
        let now = chrono::Utc::now().timestamp_micros();
        store
            .mark_every_workspace_due(now)
            .map_err(|e| format!("marking every workspace due: {e}"))?;
        let server = Server::start(&Launch {
            bin,
            database_url: &db.url,
            dir: db.dir.path(),
            env: &[
                allow_private,
                ("LLMLAB_NOTIFY_INTERVAL_SECS", IDLE_INTERVAL_SECS),
            ],
        })?;
        let window = Duration::from_secs(options.seconds);
        let idle = idle(&server, &db, n, window).map_err(|e| server.explain(e))?;
        server.stop();
        runs.push(ScaleRun {
            workspaces: n,
            seeding,
            delivery,
            idle,
        });
    }
    Ok(TenantResults {
        runs,
        tags,
        options: options.clone(),
    })
}

/// Phase 1: records a report for every tenant's channel and waits until the receiver has
/// them all and the outbox has recorded them delivered.
fn deliver(
    store: &Store,
    db: &FreshDb,
    receiver: &Receiver,
    tenants: &[seed::Tenant],
) -> Result<Delivery> {
    let queued = tenants.len() as u64;
    receiver.reset();
    eprintln!("xtask: {queued} notifications to deliver");
    let committed = seed::notifications(store, tenants)?;
    let deadline = committed + DELIVERY_LIMIT;
    while receiver.arrivals().count < queued && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut all_recorded = None;
    while Instant::now() < deadline {
        if delivered(&db.url)? >= queued {
            all_recorded = Some(committed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let a = receiver.arrivals();
    let first_to_last = match (a.first, a.last) {
        (Some(first), Some(last)) => last.duration_since(first),
        _ => Duration::ZERO,
    };
    Ok(Delivery {
        queued,
        arrived: a.count,
        first_to_last,
        all_recorded,
    })
}

/// Notifications the outbox has recorded as delivered.
fn delivered(url: &str) -> Result<u64> {
    let sql = "SELECT CAST(count(*) AS TEXT) AS text FROM notifications WHERE status = 'delivered'";
    llmlab_store::admin::query_text(url, sql)
        .map_err(|e| format!("counting deliveries: {e}"))?
        .parse()
        .map_err(|e| format!("counting deliveries: {e}"))
}

/// Phases 2 and 3: the first ticks, which visit every one of the `workspaces` (all due);
/// then nobody calls the server for `window` (after two scheduler intervals to settle),
/// while its CPU, its database backends' CPU and its scheduler's ticks are read.
fn idle(server: &Server, db: &FreshDb, workspaces: usize, window: Duration) -> Result<Idle> {
    eprintln!("xtask: waiting for the scheduler to visit {workspaces} workspaces");
    let deadline = Instant::now() + DELIVERY_LIMIT;
    let (_, first) = probe::tick_figures(server.addr, || {
        while probe::visited(server.addr).unwrap_or(0.0) < workspaces as f64
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    })?;
    eprintln!("xtask: idle for {} s", window.as_secs());
    std::thread::sleep(Duration::from_secs(2));
    let nodes = db.node_urls();
    let backends = || -> Vec<u32> { nodes.iter().flat_map(|u| probe::pg_backends(u)).collect() };
    let pid = server.pid();
    let ((server_cpu, database), tick) = probe::tick_figures(server.addr, || {
        let (s0, d0) = (Sample::take(&[pid]), Sample::take(&backends()));
        std::thread::sleep(window);
        let (s1, d1) = (Sample::take(&[pid]), Sample::take(&backends()));
        (
            CpuShare::between(&s0, &s1),
            (!nodes.is_empty()).then(|| CpuShare::between(&d0, &d1)),
        )
    })?;
    Ok(Idle {
        first,
        server: server_cpu,
        database,
        tick,
    })
}

/// Phase 4: a workspace with [`TAG_EVENTS`] events over [`TAG_VALUES`] values of the tag
/// `customer`, and the endpoints that read every value of a tag.
fn tag_cardinality(server: &Server, store: &Store) -> Result<TagResults> {
    let account = server::sign_up(server.addr)?;
    let workspace = seed::workspace_of(store, &account.email)?;
    eprintln!("xtask: {TAG_EVENTS} events over {TAG_VALUES} customers");
    let seeding = seed::tagged_ledger(store, workspace, TAG_EVENTS, TAG_VALUES)?;
    // Timed as a database that has lived with these rows would answer, not in the
    // minutes after a bulk load when PostgreSQL has no statistics of them yet.
    if store.backend() == llmlab_store::Backend::Postgres {
        store
            .execute_batch("VACUUM ANALYZE")
            .map_err(|e| format!("VACUUM ANALYZE: {e}"))?;
    }
    let before = server::memory(server.pid())?;
    // The same 200,000 rollup rows added up: a range starting 35 days ago is too far from
    // the ranking's window for one to answer (or to be asked for).
    let far = (chrono::Utc::now() - chrono::Duration::days(35)).format("%Y-%m-%d");
    let timings = vec![
        time_path(
            server,
            &account.key,
            "/api/recommendations/anomalies".into(),
            false,
        ),
        time_path(
            server,
            &account.key,
            format!("/api/costs/by-tag?key=customer&start={far}"),
            false,
        ),
        time_path(
            server,
            &account.key,
            "/api/costs/by-tag?key=customer".into(),
            true,
        ),
    ];
    let after = server::memory(server.pid())?;
    Ok(TagResults {
        seeding,
        timings,
        before,
        after,
    })
}

/// One untimed call, [`SEQUENTIAL_CALLS`] back to back, then [`PARALLEL_CLIENTS`]
/// clients making [`PARALLEL_CALLS`] each at once; with `ranked`, the timed calls wait
/// until the ranking the untimed call asked for is built.
fn time_path(server: &Server, key: &str, path: String, ranked: bool) -> TagTiming {
    eprintln!("xtask: GET {path}");
    let mut timing = TagTiming {
        path: path.clone(),
        ranking_after: None,
        status: None,
        bytes: 0,
        sequential_us: Vec::new(),
        parallel_us: Vec::new(),
        problem: None,
    };
    let mut client = Client::new(server.addr, Some(key));
    let mut body = Vec::new();
    match client.send("GET", &path, None, &mut body) {
        Ok(status) => {
            timing.status = Some(status);
            timing.bytes = body.len();
            if !(200..300).contains(&status) {
                let text = String::from_utf8_lossy(&body);
                timing.problem = Some(format!(
                    "{status} {}",
                    text.chars().take(200).collect::<String>()
                ));
                return timing;
            }
        }
        Err(e) => {
            timing.problem = Some(e);
            return timing;
        }
    }
    if ranked {
        match probe::ranking_built(server.addr, RANKING_WAIT) {
            Ok(waited) => timing.ranking_after = Some(waited.as_secs_f64()),
            Err(e) => {
                timing.problem = Some(e);
                return timing;
            }
        }
    }
    let path = path.as_str();
    let timed = |client: &mut Client, calls: usize| -> Result<Vec<u32>> {
        let mut body = Vec::new();
        (0..calls)
            .map(|_| {
                let started = Instant::now();
                let status = client.send("GET", path, None, &mut body)?;
                if !(200..300).contains(&status) {
                    return Err(format!("a timed call answered {status}"));
                }
                Ok(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX))
            })
            .collect()
    };
    match timed(&mut client, SEQUENTIAL_CALLS) {
        Ok(samples) => timing.sequential_us = samples,
        Err(e) => timing.problem = Some(e),
    }
    let parallel = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..PARALLEL_CLIENTS)
            .map(|_| {
                scope.spawn(|| timed(&mut Client::new(server.addr, Some(key)), PARALLEL_CALLS))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a client panicked".into())))
            .collect::<Result<Vec<Vec<u32>>>>()
    });
    match parallel {
        Ok(samples) => timing.parallel_us = samples.concat(),
        Err(e) => timing.problem = Some(e),
    }
    timing.sequential_us.sort_unstable();
    timing.parallel_us.sort_unstable();
    timing
}
