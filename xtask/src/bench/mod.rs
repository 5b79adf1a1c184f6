//! `cargo xtask bench`: the project's benchmark. Figures are reported, never asserted.
//!
//! - `engine`: the criterion benchmarks of llmlab-engine (pricing, aggregation).
//! - `http`: the release server on a fresh database, loaded over HTTP by threads on this
//!   machine: `/api/health`, single-event and batch ingestion, the same rows inserted
//!   without the server, the server's memory.
//! - `analytics`: the read endpoints over a seeded ledger (1,000,000 events by default).
//! - `reprice`: re-pricing a seeded ledger after a price change (dry run, apply, a second
//!   apply), with single events ingested beside it.
//! - `hostile`: hostile OTLP exports (millions of empty spans in 16 KB of gzip): the
//!   server's peak memory, and health latency while three clients send them.
//!
//! Without a part, all five run, on SQLite and PostgreSQL. Each backend's figures are
//! printed and written to `target/bench/results-<backend>.md` for docs/PERFORMANCE.md.

mod analytics;
mod ceiling;
pub(crate) mod client;
mod db;
mod engine;
mod events;
mod hostile;
mod http;
mod load;
mod otlp;
mod report;
mod reprice;
pub(crate) mod server;

use std::path::{Path, PathBuf};

use llmlab_store::Backend;

use self::analytics::AnalyticsOptions;
use self::db::{Target, backend_name};
use self::http::HttpOptions;
use self::report::Section;
use crate::Result;

pub const USAGE: &str = "\
bench [engine|http|analytics|reprice|hostile] [OPTIONS] [-- CRITERION ARGS]
                                   the benchmark (everything, on both backends, by default)
      --backend sqlite|postgres|both   databases to run http/analytics on (default both)
      --seconds N                      measured seconds per HTTP phase (default 10)
      --connections N                  clients for health and track (default 32)
      --batch-connections N            clients for batch ingestion and seeding (default 4)
      --events N                       events seeded for analytics and reprice (default 1000000)
      --repeat N                       timed calls per analytics endpoint (default 20)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    All,
    Engine,
    Http,
    Analytics,
    Reprice,
    Hostile,
}

#[derive(Debug)]
struct Plan {
    part: Part,
    backends: Vec<Backend>,
    http: HttpOptions,
    analytics: AnalyticsOptions,
    criterion_args: Vec<String>,
}

impl Plan {
    fn runs_engine(&self) -> bool {
        matches!(self.part, Part::All | Part::Engine)
    }

    fn runs_http(&self) -> bool {
        matches!(self.part, Part::All | Part::Http)
    }

    fn runs_analytics(&self) -> bool {
        matches!(self.part, Part::All | Part::Analytics)
    }

    fn runs_reprice(&self) -> bool {
        matches!(self.part, Part::All | Part::Reprice)
    }

    fn runs_hostile(&self) -> bool {
        matches!(self.part, Part::All | Part::Hostile)
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let plan = parse(args)?;
    let needs_server =
        plan.runs_http() || plan.runs_analytics() || plan.runs_reprice() || plan.runs_hostile();
    if needs_server && cfg!(debug_assertions) {
        return rerun_optimised(args);
    }
    let target_dir = target_dir()?;
    let command = format!("cargo xtask bench {}", args.join(" "));
    let command = command.trim_end();
    if plan.runs_engine() {
        engine::run(&plan.criterion_args, &target_dir, command)?;
    }
    if !needs_server {
        return Ok(());
    }
    let bin = server::build_release(&target_dir)?;
    let mut failed = Vec::new();
    for &backend in &plan.backends {
        if let Err(e) = run_backend(backend, &plan, &bin, &target_dir, command) {
            eprintln!("xtask: {} benchmark failed: {e}", backend_name(backend));
            failed.push(backend_name(backend));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("the benchmark failed on {}", failed.join(" and ")))
    }
}

/// The load generator shares the cores with the server it measures, so an unoptimised
/// build of it would eat into the server's share: run again as a release build.
fn rerun_optimised(args: &[String]) -> Result<()> {
    let mut cmd = crate::cargo();
    cmd.args([
        "run",
        "--quiet",
        "--release",
        "--package",
        "xtask",
        "--",
        "bench",
    ]);
    cmd.args(args);
    // The optimised run has reported its own errors.
    crate::run(cmd).map_err(|_| String::new())
}

fn run_backend(
    backend: Backend,
    plan: &Plan,
    bin: &Path,
    target_dir: &Path,
    command: &str,
) -> Result<()> {
    let name = backend_name(backend);
    // Kept alive for the whole backend run; stops a cluster this process started.
    let pg_server;
    let target = match backend {
        Backend::Sqlite => Target::Sqlite,
        Backend::Postgres => {
            pg_server = crate::pg::ensure_server()?;
            Target::Postgres(&pg_server)
        }
    };
    let mut sections = Vec::new();
    let outcome = run_parts(&target, plan, bin, &mut sections);
    if !sections.is_empty() {
        let header = report::header(
            &format!("Benchmark results — {name}"),
            command,
            &[
                format!("database: {}", target.describe()?),
                format!(
                    "server: release build of llmlab-server; {}",
                    server_settings()
                ),
                "load generator: on the same machine, competing with the server for its cores"
                    .into(),
            ],
        );
        let path = report::write_markdown(target_dir, name, &header, &sections)?;
        println!("\nmarkdown: {}", path.display());
    }
    outcome
}

/// Runs the HTTP and analytics parts of `plan` on `target`, printing each section as it
/// completes and adding it to `sections` (so a later failure keeps the earlier figures).
fn run_parts(
    target: &Target<'_>,
    plan: &Plan,
    bin: &Path,
    sections: &mut Vec<Section>,
) -> Result<()> {
    let name = backend_name(target.backend());
    if plan.runs_http() {
        eprintln!("xtask: HTTP benchmark on {name}");
        let results = http::run(target, bin, &plan.http)?;
        let section = report::http_section(name, &results);
        print!("{}", section.text());
        sections.push(section);
    }
    if plan.runs_analytics() {
        eprintln!("xtask: analytics benchmark on {name}");
        let results = analytics::run(target, bin, &plan.analytics)?;
        let section = report::analytics_section(name, &results);
        print!("{}", section.text());
        sections.push(section);
    }
    if plan.runs_reprice() {
        eprintln!("xtask: re-pricing benchmark on {name}");
        let results = reprice::run(target, bin, &plan.analytics)?;
        let section = report::reprice_section(name, &results);
        print!("{}", section.text());
        sections.push(section);
    }
    if plan.runs_hostile() {
        eprintln!("xtask: hostile OTLP exports on {name}");
        let results = hostile::run(target, bin, plan.http.seconds)?;
        let section = report::hostile_section(name, &results);
        print!("{}", section.text());
        sections.push(section);
    }
    Ok(())
}

/// The server settings that shape the figures, as the benchmark's server sees them.
fn server_settings() -> String {
    let env_or = |key: &str, default: &str| {
        let value = std::env::var(key)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| default.to_string());
        format!("{key}={value}")
    };
    [
        env_or("LLMLAB_DB_POOL_SIZE", "8"),
        env_or("LLMLAB_DB_TIMEOUT_MS", "5000"),
        format!("RUST_LOG={}", server::server_log_level()),
        env_or("LLMLAB_MAX_BODY_BYTES", "1048576"),
    ]
    .join(", ")
}

/// The workspace's target directory, wherever `CARGO_TARGET_DIR` or a config put it.
fn target_dir() -> Result<PathBuf> {
    let out = crate::cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    meta.get("target_directory")
        .and_then(serde_json::Value::as_str)
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata has no target_directory".into())
}

fn parse(args: &[String]) -> Result<Plan> {
    let (ours, criterion_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (args, Vec::new()),
    };
    let (part, flags) = match ours.first().map(String::as_str) {
        Some("engine") => (Part::Engine, &ours[1..]),
        Some("http") => (Part::Http, &ours[1..]),
        Some("analytics") => (Part::Analytics, &ours[1..]),
        Some("reprice") => (Part::Reprice, &ours[1..]),
        Some("hostile") => (Part::Hostile, &ours[1..]),
        _ => (Part::All, ours),
    };
    let mut plan = Plan {
        part,
        backends: vec![Backend::Sqlite, Backend::Postgres],
        http: HttpOptions {
            seconds: 10,
            connections: 32,
            batch_connections: 4,
        },
        analytics: AnalyticsOptions {
            events: 1_000_000,
            connections: 4,
            repeat: 20,
        },
        criterion_args,
    };
    let mut it = flags.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        apply(&mut plan, flag, &mut value)?;
    }
    if part == Part::Engine && !flags.is_empty() {
        return Err(format!(
            "`bench engine` takes no options; pass criterion's after `--`\n\nusage: cargo xtask {USAGE}"
        ));
    }
    Ok(plan)
}

fn apply(plan: &mut Plan, flag: &str, value: &mut dyn FnMut() -> Result<String>) -> Result<()> {
    match flag {
        "--backend" => plan.backends = backends(&value()?)?,
        "--seconds" => plan.http.seconds = number(flag, &value()?)?,
        "--connections" => plan.http.connections = number(flag, &value()?)?,
        "--batch-connections" => {
            let n = number(flag, &value()?)?;
            plan.http.batch_connections = n;
            plan.analytics.connections = n;
        }
        "--events" => plan.analytics.events = number(flag, &value()?)?,
        "--repeat" => plan.analytics.repeat = number(flag, &value()?)?,
        other => {
            return Err(format!(
                "unknown option {other}\n\nusage: cargo xtask {USAGE}"
            ));
        }
    }
    Ok(())
}

fn backends(value: &str) -> Result<Vec<Backend>> {
    match value {
        "sqlite" => Ok(vec![Backend::Sqlite]),
        "postgres" | "postgresql" | "pg" => Ok(vec![Backend::Postgres]),
        "both" => Ok(vec![Backend::Sqlite, Backend::Postgres]),
        other => Err(format!(
            "--backend must be sqlite, postgres or both, not {other}"
        )),
    }
}

/// A positive integer option.
fn number<T: std::str::FromStr + Default + PartialEq>(flag: &str, value: &str) -> Result<T> {
    value
        .replace('_', "")
        .parse::<T>()
        .ok()
        .filter(|n| *n != T::default())
        .ok_or_else(|| format!("{flag} needs a positive integer, not {value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<Plan> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_run_everything_on_both_backends() -> Result<()> {
        let p = plan(&[])?;
        assert_eq!(p.part, Part::All);
        assert_eq!(p.backends, vec![Backend::Sqlite, Backend::Postgres]);
        assert_eq!((p.http.seconds, p.http.connections), (10, 32));
        assert_eq!(p.analytics.events, 1_000_000);
        Ok(())
    }

    #[test]
    fn parts_and_options() -> Result<()> {
        let p = plan(&["http", "--backend", "sqlite", "--seconds=3"])?;
        assert_eq!((p.part, p.http.seconds), (Part::Http, 3));
        assert_eq!(p.backends, vec![Backend::Sqlite]);
        let p = plan(&["analytics", "--events", "100_000", "--backend=postgres"])?;
        assert_eq!((p.part, p.analytics.events), (Part::Analytics, 100_000));
        assert_eq!(p.backends, vec![Backend::Postgres]);
        let p = plan(&["engine", "--", "--save-baseline", "main"])?;
        assert_eq!(p.criterion_args, vec!["--save-baseline", "main"]);
        Ok(())
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(plan(&["http", "--seconds", "0"]).is_err());
        assert!(plan(&["http", "--seconds"]).is_err());
        assert!(plan(&["http", "--backend", "mysql"]).is_err());
        assert!(plan(&["http", "--fast"]).is_err());
        assert!(plan(&["engine", "--seconds", "3"]).is_err());
    }
}
