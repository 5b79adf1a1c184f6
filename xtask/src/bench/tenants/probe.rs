//! What the tenants part reads beside the API: CPU time of processes from `/proc`, the
//! PostgreSQL backends serving the benchmark's database, and the scheduler's figures from
//! `/metrics`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use super::super::client::Client;
use crate::Result;

/// CPU time (user + system) of process `pid` so far, or `None` once it is gone.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_ticks(&stat)
}

/// `utime + stime` of a `/proc/<pid>/stat` line: the 14th and 15th fields, counted
/// after the command name, which may itself hold spaces and parentheses.
fn parse_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second of `/proc`'s CPU times (`getconf CLK_TCK`; 100 on Linux).
fn ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100)
}

/// The CPU a set of processes used over a window, as a share of one core.
#[derive(Debug, Clone, Copy)]
pub struct CpuShare {
    /// Percent of one core.
    pub percent: f64,
    /// Processes counted.
    pub processes: usize,
}

/// CPU time of each of a set of processes at one moment.
pub struct Sample {
    at: Instant,
    ticks: BTreeMap<u32, u64>,
}

impl Sample {
    pub fn take(pids: &[u32]) -> Sample {
        Sample {
            at: Instant::now(),
            ticks: pids
                .iter()
                .filter_map(|&p| cpu_ticks(p).map(|t| (p, t)))
                .collect(),
        }
    }
}

impl CpuShare {
    /// The CPU used between two samples. A process that appeared meanwhile counts from
    /// zero; one that ended is left out.
    pub fn between(before: &Sample, after: &Sample) -> CpuShare {
        let used: u64 = after
            .ticks
            .iter()
            .map(|(pid, t)| t.saturating_sub(before.ticks.get(pid).copied().unwrap_or(0)))
            .sum();
        let seconds = used as f64 / ticks_per_sec() as f64;
        let elapsed = after.at.duration_since(before.at).as_secs_f64();
        CpuShare {
            percent: if elapsed > 0.0 {
                100.0 * seconds / elapsed
            } else {
                0.0
            },
            processes: after.ticks.len(),
        }
    }
}

/// The server processes (backends) serving database `url` on its PostgreSQL server,
/// this query's own excepted.
pub fn pg_backends(url: &str) -> Vec<u32> {
    let sql = "SELECT coalesce(string_agg(pid::text, ','), '') AS text FROM pg_stat_activity \
               WHERE datname = current_database() AND pid <> pg_backend_pid()";
    llmlab_store::admin::query_text(url, sql)
        .map(|list| list.split(',').filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// The notification scheduler's figures over a window, from its metrics.
#[derive(Debug, Clone, Copy)]
pub struct TickFigures {
    /// Ticks completed in the window.
    pub ticks: f64,
    /// Mean seconds per tick.
    pub mean_seconds: f64,
    /// Mean statements per tick.
    pub statements: f64,
    /// Workspaces visited per tick.
    pub workspaces: f64,
}

/// Metric names the scheduler exposes (histograms: `_sum` and `_count`).
const TICK_SECONDS: &str = "llmlab_notify_tick_seconds";
const TICK_STATEMENTS: &str = "llmlab_notify_tick_statements";
const VISITED: &str = "llmlab_notify_workspaces_visited_total";

/// Scrapes `/metrics` of the server at `addr` before and after `wait` (a few scheduler
/// intervals, or whatever else is measured meanwhile): the mean tick time, statements
/// per tick and workspaces visited per tick in between, beside what `wait` returned.
/// `None` when the server does not expose them, or no tick completed.
pub fn tick_figures<T>(
    addr: SocketAddr,
    wait: impl FnOnce() -> T,
) -> Result<(T, Option<TickFigures>)> {
    let before = scrape(addr)?;
    let waited = wait();
    let after = scrape(addr)?;
    Ok((waited, tick_delta(&before, &after)))
}

fn tick_delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> Option<TickFigures> {
    let delta = |name: &str| Some(after.get(name)? - before.get(name).copied().unwrap_or(0.0));
    let ticks = delta(&format!("{TICK_SECONDS}_count"))?;
    if ticks <= 0.0 {
        return None;
    }
    Some(TickFigures {
        ticks,
        mean_seconds: delta(&format!("{TICK_SECONDS}_sum"))? / ticks,
        statements: delta(&format!("{TICK_STATEMENTS}_sum"))? / ticks,
        workspaces: delta(VISITED)? / ticks,
    })
}

/// Workspaces the scheduler of the server at `addr` has visited so far (0 when the
/// server does not expose it).
pub fn visited(addr: SocketAddr) -> Result<f64> {
    Ok(scrape(addr)?.get(VISITED).copied().unwrap_or(0.0))
}

/// Waits until the server at `addr` has built a tag ranking, at most `limit`; returns
/// how long that took.
pub fn ranking_built(addr: SocketAddr, limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    loop {
        if scrape(addr)?.get(RANKINGS_BUILT).copied().unwrap_or(0.0) >= 1.0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            return Err(format!("no tag ranking built within {} s", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const RANKINGS_BUILT: &str = "llmlab_tag_rankings_built_total";

/// `/metrics` as name → value, the values of a name's label sets summed.
fn scrape(addr: SocketAddr) -> Result<BTreeMap<String, f64>> {
    let (status, text) = Client::new(addr, None).call("GET", "/metrics", None)?;
    if status != 200 {
        return Err(format!("GET /metrics: {status}: {text}"));
    }
    Ok(parse_metrics(&text))
}

fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series).trim();
        if let Ok(v) = value.trim().parse::<f64>() {
            *out.entry(name.to_string()).or_default() += v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_past_the_command_name() {
        let stat = "42 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(parse_ticks(stat), Some(300));
        assert_eq!(parse_ticks("garbage"), None);
        assert!(cpu_ticks(std::process::id()).is_some());
    }

    #[test]
    fn tick_figures_from_two_scrapes() {
        let before = parse_metrics(
            "# HELP x\nllmlab_notify_tick_seconds_sum 1.5\nllmlab_notify_tick_seconds_count 3\n\
             llmlab_notify_tick_statements_sum 30\nllmlab_notify_tick_statements_count 3\n\
             llmlab_notify_workspaces_visited_total{instance=\"a\"} 300\n",
        );
        let after = parse_metrics(
            "llmlab_notify_tick_seconds_sum 3.5\nllmlab_notify_tick_seconds_count 5\n\
             llmlab_notify_tick_statements_sum 70\nllmlab_notify_tick_statements_count 5\n\
             llmlab_notify_workspaces_visited_total{instance=\"a\"} 500\n",
        );
        let f = tick_delta(&before, &after).expect("figures");
        assert_eq!(
            (f.ticks, f.mean_seconds, f.statements, f.workspaces),
            (2.0, 1.0, 20.0, 100.0)
        );
        assert!(tick_delta(&before, &parse_metrics("llmlab_http_requests_total 1\n")).is_none());
    }
}
