//! `cargo xtask bench analytics`: seeds one user's ledger through the batch endpoint,
//! then times the read endpoints a dashboard and a gateway call over it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, TimeDelta, Utc};

use super::client::Client;
use super::db::{FreshDb, Target};
use super::events::CallGen;
use super::http::BATCH_SIZE;
use super::load::{self, Quota, Request, Stats, Until, Workload};
use super::server::{self, Launch, Memory, Server};
use crate::Result;

/// The seeded history ends now and reaches this far back.
const HISTORY_DAYS: i64 = 90;
const SEED: u64 = 0x616e_616c;

#[derive(Debug, Clone)]
pub struct AnalyticsOptions {
    pub events: u64,
    /// Connections seeding in parallel.
    pub connections: usize,
    /// Timed calls per endpoint (after one untimed first call).
    pub repeat: usize,
}

/// Timings of one endpoint.
pub struct Timing {
    pub path: String,
    /// Of the first call; `None` without a response.
    pub status: Option<u16>,
    pub bytes: usize,
    /// The first call, on whatever the seeding left in the caches.
    pub first: Option<Duration>,
    /// The following calls, sorted, in microseconds.
    samples_us: Vec<u32>,
    /// A non-2xx answer or a failed call, the first one seen.
    pub problem: Option<String>,
}

impl Timing {
    /// `None` without timed calls.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        (!self.samples_us.is_empty()).then(|| load::percentile(&self.samples_us, p))
    }
}

pub struct AnalyticsResults {
    pub seeding: Stats,
    pub timings: Vec<Timing>,
    /// PostgreSQL: the timings again after `VACUUM ANALYZE`.
    pub settled: Option<Vec<Timing>>,
    pub memory: Memory,
    pub options: AnalyticsOptions,
}

pub fn run(
    target: &Target<'_>,
    bin: &Path,
    options: &AnalyticsOptions,
) -> Result<AnalyticsResults> {
    let db = FreshDb::create(target, "analytics")?;
    let server = Server::start(&Launch {
        bin,
        database_url: &db.url,
        dir: db.dir.path(),
        env: &[],
    })?;
    let results = measure(&server, &db, options).map_err(|e| server.explain(e))?;
    server.stop();
    Ok(results)
}

fn measure(server: &Server, db: &FreshDb, options: &AnalyticsOptions) -> Result<AnalyticsResults> {
    let account = server::sign_up(server.addr)?;
    let key = account.key;
    let seeding = seed(server, &key, options)?;
    // Budgets are managed by people, not keys.
    create_budgets(server.addr, &account.token)?;
    let timings = time_endpoints(server, &key, options.repeat);
    let settled = if db.url.starts_with("postgres") {
        eprintln!("xtask: VACUUM ANALYZE, then the same calls again");
        llmlab_store::admin::execute(&db.url, "VACUUM ANALYZE")
            .map_err(|e| format!("VACUUM ANALYZE: {e}"))?;
        Some(time_endpoints(server, &key, options.repeat))
    } else {
        None
    };
    Ok(AnalyticsResults {
        seeding,
        timings,
        settled,
        memory: server::memory(server.pid())?,
        options: options.clone(),
    })
}

/// Sends batches of generated history until the shared quota of events is used up.
struct Seeder {
    calls: CallGen,
    quota: Quota,
    body: Vec<u8>,
}

impl Workload for Seeder {
    fn next(&mut self) -> Option<Request<'_>> {
        let n = self.quota.take(BATCH_SIZE as u64);
        if n == 0 {
            return None;
        }
        self.body = self.calls.batch_body(usize::try_from(n).ok()?);
        Some(Request {
            method: "POST",
            path: "/api/events/batch",
            body: Some(&self.body),
        })
    }

    fn accepted(&mut self, body: &[u8]) -> u64 {
        load::accepted_in_batch(body)
    }
}

pub(super) fn seed(server: &Server, key: &str, options: &AnalyticsOptions) -> Result<Stats> {
    eprintln!(
        "xtask: seeding {} events over {HISTORY_DAYS} days ({} connections)",
        options.events, options.connections
    );
    let quota = Quota::new(options.events);
    let end = Utc::now();
    let seeders = (0..options.connections)
        .map(|i| Seeder {
            calls: CallGen::history(
                SEED + i as u64,
                end,
                HISTORY_DAYS,
                options.events / options.connections.max(1) as u64,
            ),
            quota: quota.clone(),
            body: Vec::new(),
        })
        .collect();
    let stats = load::run(server.addr, key, seeders, Until::Done)?;
    if stats.items < options.events {
        eprintln!(
            "xtask: warning: only {} of {} events were accepted{}",
            stats.items,
            options.events,
            stats
                .failure_summary()
                .map(|f| format!(": {f}"))
                .unwrap_or_default()
        );
    }
    Ok(stats)
}

/// A monthly total, one scoped to a provider and one to a tag: the three kinds of scope
/// `/api/budgets` and `/api/budgets/check` evaluate.
fn create_budgets(addr: SocketAddr, key: &str) -> Result<()> {
    let budgets = [
        serde_json::json!({"name": "Monthly total", "amount_usd": 50000, "period": "monthly"}),
        serde_json::json!({"name": "OpenAI", "amount_usd": 20000, "period": "monthly",
                           "scope": {"provider": "openai"}}),
        serde_json::json!({"name": "Team A", "amount_usd": 5000, "period": "monthly",
                           "scope": {"tag": "team:a"}}),
    ];
    let mut client = Client::new(addr, Some(key));
    for b in budgets {
        let response = client.call("POST", "/api/budgets", Some(b.to_string().as_bytes()))?;
        server::expect_json(response, 201, "POST /api/budgets")?;
    }
    Ok(())
}

fn endpoints() -> Vec<String> {
    let week_ago = (Utc::now() - TimeDelta::days(7)).to_rfc3339_opts(SecondsFormat::Secs, true);
    [
        "/api/costs/summary".to_string(),
        format!("/api/costs/summary?granularity=hour&start={week_ago}"),
        "/api/costs/by-provider".into(),
        "/api/costs/top-models".into(),
        "/api/costs/by-tag?key=team".into(),
        "/api/budgets".into(),
        "/api/budgets/check?provider=openai".into(),
        "/api/recommendations".into(),
        "/api/recommendations/anomalies".into(),
    ]
    .into()
}

fn time_endpoints(server: &Server, key: &str, repeat: usize) -> Vec<Timing> {
    let mut client = Client::new(server.addr, Some(key));
    endpoints()
        .into_iter()
        .map(|path| time_endpoint(&mut client, path, repeat))
        .collect()
}

/// One call on its own (`first`), then `repeat` back to back. A failure is recorded in
/// the timing, so one broken endpoint does not hide the figures of the others.
fn time_endpoint(client: &mut Client, path: String, repeat: usize) -> Timing {
    eprintln!("xtask: GET {path} ×{}", repeat + 1);
    let mut timing = Timing {
        path,
        status: None,
        bytes: 0,
        first: None,
        samples_us: Vec::with_capacity(repeat),
        problem: None,
    };
    let mut body = Vec::new();
    for call in 0..=repeat {
        let start = Instant::now();
        let status = match client.send("GET", &timing.path, None, &mut body) {
            Ok(status) => status,
            Err(e) => {
                timing.problem = Some(e);
                break;
            }
        };
        let took = start.elapsed();
        if call == 0 {
            timing.first = Some(took);
            timing.status = Some(status);
            timing.bytes = body.len();
        } else {
            timing
                .samples_us
                .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        }
        if !(200..300).contains(&status) && timing.problem.is_none() {
            let text = String::from_utf8_lossy(&body);
            timing.problem = Some(format!(
                "{status} {}",
                text.chars().take(200).collect::<String>()
            ));
        }
    }
    if let Some(problem) = &timing.problem {
        eprintln!("xtask: warning: GET {}: {problem}", timing.path);
    }
    timing.samples_us.sort_unstable();
    timing
}
