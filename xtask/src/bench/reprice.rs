//! `cargo xtask bench reprice`: re-pricing a seeded ledger after a price change (a dry
//! run, the apply, and a second apply that finds nothing), with single events ingested
//! beside it the whole time.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::analytics::{AnalyticsOptions, seed};
use super::client::Client;
use super::db::{FreshDb, Target};
use super::events::CallGen;
use super::load::{self, PostCycle, Request, Stats, Until, Workload};
use super::server::{self, Launch, Server};
use crate::Result;

/// One re-pricing call and the ingestion beside it.
pub struct Phase {
    pub label: &'static str,
    pub took: Duration,
    pub matched: i64,
    pub changed: i64,
    /// Single events sent meanwhile.
    pub beside: Stats,
}

pub struct RepriceResults {
    pub seeding: Stats,
    pub phases: Vec<Phase>,
    /// Whether every report after the apply still equals its events (the summary's total
    /// against the sum of the by-provider rows, which read different tables).
    pub consistent: bool,
}

/// Sends single events until told to stop.
struct Beside {
    inner: PostCycle,
    stop: Arc<AtomicBool>,
}

impl Workload for Beside {
    fn next(&mut self) -> Option<Request<'_>> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        self.inner.next()
    }
}

pub fn run(target: &Target<'_>, bin: &Path, options: &AnalyticsOptions) -> Result<RepriceResults> {
    let db = FreshDb::create(target, "reprice")?;
    let server = Server::start(&Launch {
        bin,
        database_url: &db.url,
        dir: db.dir.path(),
        env: &[],
    })?;
    let results = measure(&server, options).map_err(|e| server.explain(e))?;
    if results.phases.iter().any(|p| p.beside.errors > 0) {
        eprintln!(
            "xtask: events beside the re-pricing failed; the server logged:\n{}",
            server.logged_errors()
        );
    }
    server.stop();
    Ok(results)
}

fn measure(server: &Server, options: &AnalyticsOptions) -> Result<RepriceResults> {
    let account = server::sign_up(server.addr)?;
    let seeding = seed(server, &account.key, options)?;
    // A negotiated price for one of the seeded models: every one of its events moves.
    let mut person = Client::patient(server.addr, Some(&account.token), Duration::from_secs(3600));
    let price = serde_json::json!({"input_per_mtok_usd": "0.12", "output_per_mtok_usd": "0.48"});
    server::expect_json(
        person.call(
            "PUT",
            "/api/pricing/custom/openai/gpt-4o-mini",
            Some(price.to_string().as_bytes()),
        )?,
        200,
        "PUT /api/pricing/custom",
    )?;
    let mut phases = Vec::new();
    for (label, body) in [
        ("dry run", r#"{"dry_run":true}"#),
        ("apply", r#"{"dry_run":false}"#),
        ("apply again (nothing to change)", r#"{"dry_run":false}"#),
    ] {
        eprintln!("xtask: POST /api/pricing/reprice ({label}) with ingestion beside");
        phases.push(phase(server, &account.key, &mut person, label, body)?);
    }
    let summary = server::expect_json(
        person.call(
            "GET",
            "/api/costs/summary?start=2000-01-01&end=2100-01-01&granularity=month",
            None,
        )?,
        200,
        "GET /api/costs/summary",
    )?;
    let providers = server::expect_json(
        person.call(
            "GET",
            "/api/costs/by-provider?start=2000-01-01&end=2100-01-01",
            None,
        )?,
        200,
        "GET /api/costs/by-provider",
    )?;
    let nanos = |v: &serde_json::Value| -> i64 {
        // Exact: the API writes costs with at most nine decimals.
        let text = v.to_string();
        let (units, frac) = text.split_once('.').unwrap_or((&text, ""));
        let frac = format!("{frac:0<9}");
        units.parse::<i64>().unwrap_or(0) * 1_000_000_000 + frac[..9].parse::<i64>().unwrap_or(0)
    };
    let by_provider: i64 = providers["providers"]
        .as_array()
        .map(|rows| rows.iter().map(|r| nanos(&r["cost_usd"])).sum())
        .unwrap_or(0);
    Ok(RepriceResults {
        seeding,
        phases,
        consistent: nanos(&summary["total_cost_usd"]) == by_provider,
    })
}

fn phase(
    server: &Server,
    key: &str,
    person: &mut Client,
    label: &'static str,
    body: &str,
) -> Result<Phase> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut calls = CallGen::live(7);
    let bodies = Arc::new((0..256).map(|_| calls.track_body()).collect::<Vec<_>>());
    let beside = Beside {
        inner: PostCycle::new("/api/events/track", bodies, 0),
        stop: stop.clone(),
    };
    let addr = server.addr;
    let key = key.to_string();
    let ingesting = std::thread::spawn(move || load::run(addr, &key, vec![beside], Until::Done));
    let start = Instant::now();
    let answer = person.call("POST", "/api/pricing/reprice", Some(body.as_bytes()));
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let beside = ingesting
        .join()
        .map_err(|_| "the ingestion thread panicked".to_string())??;
    let r = server::expect_json(answer?, 200, "POST /api/pricing/reprice")?;
    Ok(Phase {
        label,
        took,
        matched: r["events_matched"].as_i64().unwrap_or(0),
        changed: r["events_changed"].as_i64().unwrap_or(0),
        beside,
    })
}
