//! `cargo xtask bench hostile`: what hostile OTLP exports cost the running server, and
//! everyone else it serves. The export is the one seen to take a server from 50 MB to
//! 2.2 GB: one ScopeSpans holding 8.39 million empty spans, 16 MiB inflated and about
//! 16 KB of gzip on the wire. Measured: the server's peak memory after one such export,
//! and `GET /api/health/live` latency alone and while three clients send them back to
//! back.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::client::Client;
use super::db::{FreshDb, Target};
use super::load::percentile;
use super::server::{self, Launch, Memory, Server};
use crate::Result;

/// Empty spans in the export (`0x12 0x00` each): what was seen.
const EMPTY_SPANS: usize = 8_390_000;
/// Clients sending the export at once while health is measured.
pub const SENDERS: usize = 3;

/// Latencies of a run of `GET /api/health/live`, one request at a time.
pub struct Latency {
    pub requests: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

pub struct HostileResults {
    /// The export's size on the wire (gzip) and inflated.
    pub wire_bytes: usize,
    pub inflated_bytes: usize,
    /// The server before, and after one export.
    pub before: Memory,
    pub after_one: Memory,
    /// After the exports sent during the loaded health run.
    pub after_all: Memory,
    /// The status the export got, and how many were sent in all.
    pub status: u16,
    pub sent: u64,
    pub quiet: Latency,
    pub loaded: Latency,
}

pub fn run(target: &Target<'_>, bin: &Path, seconds: u64) -> Result<HostileResults> {
    let db = FreshDb::create(target, "hostile")?;
    let server = Server::start(&Launch {
        bin,
        database_url: &db.url,
        dir: db.dir.path(),
        env: &[],
    })?;
    let results = measure(&server, seconds).map_err(|e| server.explain(e))?;
    server.stop();
    Ok(results)
}

/// A protobuf `ExportTraceServiceRequest`: one ResourceSpans (field 1) holding one
/// ScopeSpans (field 2) holding `n` empty spans (field 2, length 0).
fn empty_spans(n: usize) -> Vec<u8> {
    fn len_field(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let mut len = body.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(body);
        out
    }
    len_field(0x0a, &len_field(0x12, &[0x12, 0x00].repeat(n)))
}

fn measure(server: &Server, seconds: u64) -> Result<HostileResults> {
    let account = server::sign_up(server.addr)?;
    let inflated = empty_spans(EMPTY_SPANS);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&inflated).map_err(|e| format!("gzip: {e}"))?;
    let bomb = Arc::new(gz.finish().map_err(|e| format!("gzip: {e}"))?);
    let span = Duration::from_secs(seconds.max(1));

    let quiet = health(server, span)?;
    let before = server::memory(server.pid())?;
    let mut sender = Client::new(server.addr, Some(&account.key))
        .sending("application/x-protobuf", Some("gzip"));
    let (status, _) = sender.call("POST", "/v1/traces", Some(&bomb))?;
    let after_one = server::memory(server.pid())?;

    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (stop, bomb, key, addr) =
                (stop.clone(), bomb.clone(), account.key.clone(), server.addr);
            std::thread::spawn(move || -> Result<u64> {
                let mut client =
                    Client::new(addr, Some(&key)).sending("application/x-protobuf", Some("gzip"));
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) {
                    client.call("POST", "/v1/traces", Some(&bomb))?;
                    sent += 1;
                }
                Ok(sent)
            })
        })
        .collect();
    // The senders get going before health is timed.
    std::thread::sleep(Duration::from_millis(200));
    let loaded = health(server, span);
    stop.store(true, Ordering::Relaxed);
    let mut sent = 1;
    for s in senders {
        sent += s.join().map_err(|_| "a sender panicked".to_string())??;
    }
    let loaded = loaded?;
    Ok(HostileResults {
        wire_bytes: bomb.len(),
        inflated_bytes: inflated.len(),
        before,
        after_one,
        after_all: server::memory(server.pid())?,
        status,
        sent,
        quiet,
        loaded,
    })
}

/// `GET /api/health/live` one request at a time for `span`.
fn health(server: &Server, span: Duration) -> Result<Latency> {
    let mut client = Client::new(server.addr, None);
    let mut micros = Vec::new();
    let mut body = Vec::new();
    let start = Instant::now();
    while start.elapsed() < span {
        let t = Instant::now();
        let status = client.send("GET", "/api/health/live", None, &mut body)?;
        if status != 200 {
            return Err(format!("GET /api/health/live answered {status}"));
        }
        micros.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
        // A person's monitor, not a load test: a few hundred requests a second at most.
        std::thread::sleep(Duration::from_millis(2));
    }
    micros.sort_unstable();
    Ok(Latency {
        requests: micros.len(),
        p50: percentile(&micros, 50.0),
        p99: percentile(&micros, 99.0),
        max: Duration::from_micros(micros.last().copied().unwrap_or(0).into()),
    })
}
