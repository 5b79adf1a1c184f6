//! `cargo xtask bench http`: request throughput and latency of the running server —
//! the `/api/health` ceiling, single-event and batch ingestion, the same rows inserted
//! without the server, and the server's memory along the way.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use llmlab_engine::providers::Catalog;
use llmlab_store::NewEvent;

use super::ceiling::{self, InsertRun};
use super::db::{FreshDb, Target};
use super::events::CallGen;
use super::load::{self, Get, PostCycle, ReserveRelease, Stats, Until};
use super::otlp::{self, Exports};
use super::server::{self, Launch, Memory, Server};
use crate::Result;

/// Distinct prepared bodies per phase: enough variety for realistic rows, few enough
/// to build before measuring.
const TRACK_BODIES: usize = 4096;
const BATCH_BODIES: usize = 8;
/// Events per batch request: the API's maximum.
pub const BATCH_SIZE: usize = 1000;
const OTLP_EXPORTS: usize = 16;
const TRACK_SEED: u64 = 0x7261_636b;
const OTLP_SEED: u64 = 0x6f74_6c70;
const BATCH_SEED: u64 = 0x6261_7463;

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub seconds: u64,
    /// Connections for the health and single-event phases.
    pub connections: usize,
    /// Connections (and direct writers) for batch ingestion.
    pub batch_connections: usize,
}

/// Figures of one backend.
pub struct HttpResults {
    pub phases: Phases,
    /// Direct inserts of as many of the same rows as the batch phase stored.
    pub ceilings: Vec<InsertRun>,
    pub options: HttpOptions,
}

/// What the server did under load.
pub struct Phases {
    pub health: Stats,
    pub track: Stats,
    /// `POST /api/budgets/reserve` against one hard budget, each followed by its release.
    pub reserve: Stats,
    pub batch: Stats,
    /// OpenTelemetry trace exports (`POST /v1/traces`, OTLP JSON).
    pub otlp: Stats,
    /// (moment, memory of the server process).
    pub memory: Vec<(&'static str, Memory)>,
}

pub fn run(target: &Target<'_>, bin: &Path, options: &HttpOptions) -> Result<HttpResults> {
    let db = FreshDb::create(target, "http")?;
    let server = Server::start(&Launch {
        bin,
        database_url: &db.url,
        dir: db.dir.path(),
        env: &[],
    })?;
    let phases = load_server(&server, options).map_err(|e| server.explain(e))?;
    server.stop();
    drop(db);
    let ceilings = insert_ceilings(target, phases.batch.items, options.batch_connections)?;
    Ok(HttpResults {
        phases,
        ceilings,
        options: options.clone(),
    })
}

fn load_server(server: &Server, options: &HttpOptions) -> Result<Phases> {
    let measure = Duration::from_secs(options.seconds.max(1));
    // A short warm-up fills the connection pool and the caches before anything counts.
    let until = Until::Elapsed {
        warmup: Duration::from_secs(1).min(measure / 3),
        measure,
    };
    let track_bodies = Arc::new(track_bodies());
    let batch_bodies = Arc::new(batch_bodies());
    let account = server::sign_up(server.addr)?;
    let key = account.key.clone();
    let mut memory = vec![("after start-up", server::memory(server.pid())?)];

    eprintln!(
        "xtask: GET /api/health, {} connections",
        options.connections
    );
    let health_load = (0..options.connections).map(|_| Get("/api/health".into()));
    let health = load::run(server.addr, &key, health_load.collect(), until)?;
    memory.push(("after GET /api/health", server::memory(server.pid())?));

    eprintln!(
        "xtask: POST /api/events/track, {} connections",
        options.connections
    );
    let track_load = cycles("/api/events/track", &track_bodies, options.connections);
    let track = load::run(server.addr, &key, track_load, until)?;
    memory.push((
        "after POST /api/events/track",
        server::memory(server.pid())?,
    ));

    eprintln!(
        "xtask: POST /api/budgets/reserve (and release), {} connections",
        options.connections
    );
    hard_budget(server, &account.token)?;
    let reserve_bodies = Arc::new(reserve_bodies());
    let stride = reserve_bodies.len() / options.connections.max(1);
    let reserve_load = (0..options.connections)
        .map(|i| ReserveRelease::new(Arc::clone(&reserve_bodies), i * stride))
        .collect();
    let reserve = load::run(server.addr, &key, reserve_load, until)?;

    eprintln!(
        "xtask: POST /api/events/batch ({BATCH_SIZE} events), {} connections",
        options.batch_connections
    );
    let batch_load = cycles(
        "/api/events/batch",
        &batch_bodies,
        options.batch_connections,
    );
    let batch = load::run(server.addr, &key, batch_load, until)?;
    memory.push((
        "after POST /api/events/batch",
        server::memory(server.pid())?,
    ));

    eprintln!(
        "xtask: POST /v1/traces ({} spans), {} connections",
        otlp::SPANS_PER_EXPORT,
        options.batch_connections
    );
    let exports = Arc::new(otlp::exports(OTLP_SEED, OTLP_EXPORTS));
    let otlp_load = (0..options.batch_connections)
        .map(|i| Exports::new(Arc::clone(&exports), i))
        .collect();
    let otlp = load::run(server.addr, &key, otlp_load, until)?;
    memory.push(("after POST /v1/traces", server::memory(server.pid())?));
    check_server_alive(&[&health, &track, &reserve, &batch, &otlp])?;
    Ok(Phases {
        health,
        track,
        reserve,
        batch,
        otlp,
        memory,
    })
}

fn cycles(path: &str, bodies: &Arc<Vec<Vec<u8>>>, connections: usize) -> Vec<PostCycle> {
    let stride = bodies.len() / connections.max(1);
    (0..connections)
        .map(|i| PostCycle::new(path, Arc::clone(bodies), i * stride))
        .collect()
}

fn track_bodies() -> Vec<Vec<u8>> {
    let mut calls = CallGen::live(TRACK_SEED);
    (0..TRACK_BODIES).map(|_| calls.track_body()).collect()
}

/// One monthly hard budget over all of the workspace's spend, large enough that the
/// phase's reservations (each released at once) are never refused: every reservation
/// takes the lock on it, so the phase measures reservations queueing on one budget.
fn hard_budget(server: &Server, token: &str) -> Result<()> {
    let mut user = super::client::Client::new(server.addr, Some(token));
    let body = br#"{"name":"gateway","amount_usd":1000000,"period":"monthly","enforce":"hard"}"#;
    server::expect_json(
        user.call("POST", "/api/budgets", Some(body))?,
        201,
        "POST /api/budgets",
    )?;
    Ok(())
}

/// Reservations of the calls the track phase sends: their input tokens, at most 1,024
/// output tokens.
fn reserve_bodies() -> Vec<Vec<u8>> {
    let mut calls = CallGen::live(TRACK_SEED);
    (0..TRACK_BODIES)
        .map(|_| {
            let call: serde_json::Value =
                serde_json::from_slice(&calls.track_body()).unwrap_or_default();
            serde_json::json!({
                "provider": call["provider"],
                "model": call["model"],
                "input_tokens": call["input_tokens"].as_i64().unwrap_or(1_000),
                "max_output_tokens": 1_024,
            })
            .to_string()
            .into_bytes()
        })
        .collect()
}

fn batch_bodies() -> Vec<Vec<u8>> {
    let mut calls = CallGen::live(BATCH_SEED);
    (0..BATCH_BODIES)
        .map(|_| calls.batch_body(BATCH_SIZE))
        .collect()
}

/// The rows of [`batch_bodies`], priced as the server prices them.
fn batch_rows() -> Result<Vec<Vec<NewEvent>>> {
    let catalog = Catalog::builtin();
    let now = Utc::now();
    let mut calls = CallGen::live(BATCH_SEED);
    (0..BATCH_BODIES)
        .map(|_| {
            (0..BATCH_SIZE)
                .map(|_| calls.next_call().to_new_event(catalog, now))
                .collect()
        })
        .collect()
}

/// A phase where every request failed at the socket means the server died: say so
/// rather than report zeros.
fn check_server_alive(phases: &[&Stats]) -> Result<()> {
    let dead = phases
        .iter()
        .any(|s| s.requests > 0 && s.failures.get(&0) == Some(&s.requests));
    if dead {
        return Err("every request of a phase failed at the socket".into());
    }
    Ok(())
}

/// Inserts as many of the batch phase's rows as it stored, on a fresh database, through
/// the store and as plain SQL.
fn insert_ceilings(target: &Target<'_>, events: u64, writers: usize) -> Result<Vec<InsertRun>> {
    let batches = events.div_ceil(BATCH_SIZE as u64);
    if batches == 0 {
        return Ok(Vec::new());
    }
    let rows = batch_rows()?;
    let db = FreshDb::create(target, "ceiling")?;
    let (store, user_id) = ceiling::open(&db.url, writers)?;
    eprintln!(
        "xtask: {} events through Store::insert_batch",
        batches * BATCH_SIZE as u64
    );
    let load = ceiling::Load {
        store: &store,
        user_id,
        chunks: &rows,
        batches,
        writers,
    };
    let mut runs = vec![ceiling::through_store(&load)?];
    // On a cluster a bare table would be the coordinator's alone: no ceiling of the
    // cluster's own.
    if matches!(target, Target::Citus(_)) {
        drop(store);
        return Ok(runs);
    }
    eprintln!("xtask: the same events as plain SQL");
    runs.push(ceiling::plain_insert(&load)?);
    if let Some(copy) = ceiling::copy(&load, &db.url)? {
        runs.push(copy);
    }
    drop(store);
    Ok(runs)
}
