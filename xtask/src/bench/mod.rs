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
//! - `tenants`: thousands of workspaces on one server: the outbox's delivery rate, idle
//!   CPU and the notification scheduler's tick, and one workspace's high-cardinality tag.
//!
//! Without a part, all six run, on SQLite and PostgreSQL; with `--citus`, then again on
//! a Citus cluster the run starts (`crate::pg::citus`). Each backend's figures are
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
mod tenants;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use llmlab_store::Backend;

use self::analytics::AnalyticsOptions;
use self::db::{Target, backend_name};
use self::http::HttpOptions;
use self::report::Section;
use self::tenants::TenantOptions;
use crate::Result;

/// `cargo xtask bench`'s arguments: a part, or none for all of them, and the options.
#[derive(Debug, Args)]
// Options go after the part (`bench http --seconds 3`): before it they would belong to the
// run of every part, which a part does not inherit.
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    part: Option<PartArgs>,
    #[command(flatten)]
    options: Options,
    /// Passed to criterion for the engine part (`-- --save-baseline main`)
    #[arg(last = true, value_name = "CRITERION ARGS")]
    criterion_args: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum PartArgs {
    /// The criterion benchmarks of llmlab-engine (pricing, aggregation)
    Engine {
        /// Passed to criterion (`-- --save-baseline main`)
        #[arg(last = true, value_name = "CRITERION ARGS")]
        criterion_args: Vec<String>,
    },
    /// The release server under HTTP load
    ///
    /// A fresh database, loaded over HTTP by threads on this machine: /api/health,
    /// single-event and batch ingestion, the same rows inserted without the server, the
    /// server's memory.
    Http(Options),
    /// The read endpoints over a seeded ledger
    Analytics(Options),
    /// Re-pricing a seeded ledger after a price change
    ///
    /// A dry run, an apply and a second apply, with single events ingested beside them.
    Reprice(Options),
    /// Hostile OTLP exports: the server's peak memory and health latency
    ///
    /// Millions of empty spans in 16 KB of gzip; health latency is measured while three
    /// clients send them.
    Hostile(Options),
    /// Thousands of workspaces on one server
    ///
    /// Seeded through the store (each with a webhook channel, a budget and three events):
    /// the outbox's delivery rate to a local receiver, idle CPU of the server and its
    /// database with the scheduler ticking every second, the scheduler's tick from
    /// /metrics, and one workspace with 100,000 values of a tag.
    Tenants(Options),
}

/// The options of the parts that start the server.
#[derive(Debug, Args)]
struct Options {
    /// Databases to run the server's parts on
    #[arg(long, value_enum, value_name = "BACKEND", default_value_t = Backends::Both)]
    backend: Backends,
    /// Measured seconds per HTTP phase (and per hostile phase)
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = positive::<u64>)]
    seconds: u64,
    /// Clients for health and track
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = positive::<usize>)]
    connections: usize,
    /// Clients for batch ingestion and seeding
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = positive::<usize>)]
    batch_connections: usize,
    /// Events seeded for analytics and reprice (`_` may group digits: 100_000)
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = positive::<u64>)]
    events: u64,
    /// Timed calls per analytics endpoint
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = positive::<usize>)]
    repeat: usize,
    /// Workspace counts of the tenants part, a fresh database each
    #[arg(
        long,
        value_name = "N,N…",
        value_delimiter = ',',
        default_values_t = [1_000, 5_000],
        value_parser = positive::<usize>
    )]
    workspaces: Vec<usize>,
    /// Then the same parts on a Citus cluster this run starts (a coordinator and two
    /// workers on loopback, 32 shards per table), for a side-by-side report
    #[arg(long)]
    citus: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backends {
    Sqlite,
    #[value(alias = "postgresql", alias = "pg")]
    Postgres,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    All,
    Engine,
    Http,
    Analytics,
    Reprice,
    Hostile,
    Tenants,
}

#[derive(Debug)]
struct Plan {
    part: Part,
    backends: Vec<Backend>,
    /// Also on a Citus cluster, after `backends`.
    citus: bool,
    http: HttpOptions,
    analytics: AnalyticsOptions,
    tenants: TenantOptions,
    criterion_args: Vec<String>,
}

impl From<BenchArgs> for Plan {
    fn from(args: BenchArgs) -> Self {
        let (part, options, criterion_args) = match args.part {
            None => (Part::All, args.options, args.criterion_args),
            Some(PartArgs::Engine { criterion_args }) => {
                (Part::Engine, args.options, criterion_args)
            }
            Some(PartArgs::Http(o)) => (Part::Http, o, Vec::new()),
            Some(PartArgs::Analytics(o)) => (Part::Analytics, o, Vec::new()),
            Some(PartArgs::Reprice(o)) => (Part::Reprice, o, Vec::new()),
            Some(PartArgs::Hostile(o)) => (Part::Hostile, o, Vec::new()),
            Some(PartArgs::Tenants(o)) => (Part::Tenants, o, Vec::new()),
        };
        Plan {
            part,
            backends: match options.backend {
                Backends::Sqlite => vec![Backend::Sqlite],
                Backends::Postgres => vec![Backend::Postgres],
                Backends::Both => vec![Backend::Sqlite, Backend::Postgres],
            },
            citus: options.citus,
            http: HttpOptions {
                seconds: options.seconds,
                connections: options.connections,
                batch_connections: options.batch_connections,
            },
            analytics: AnalyticsOptions {
                events: options.events,
                connections: options.batch_connections,
                repeat: options.repeat,
            },
            tenants: TenantOptions {
                workspaces: options.workspaces,
                seconds: options.seconds,
            },
            criterion_args,
        }
    }
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

    fn runs_tenants(&self) -> bool {
        matches!(self.part, Part::All | Part::Tenants)
    }
}

/// Runs the benchmark `args` asks for; `raw` are the words after `bench` that said so.
pub fn run(args: BenchArgs, raw: &[String]) -> Result<()> {
    let plan = Plan::from(args);
    let needs_server = plan.runs_http()
        || plan.runs_analytics()
        || plan.runs_reprice()
        || plan.runs_hostile()
        || plan.runs_tenants();
    if needs_server && cfg!(debug_assertions) {
        return rerun_optimised(raw);
    }
    let target_dir = target_dir()?;
    let command = format!("cargo xtask bench {}", raw.join(" "));
    let command = command.trim_end();
    if plan.runs_engine() {
        engine::run(&plan.criterion_args, &target_dir, command)?;
    }
    if !needs_server {
        return Ok(());
    }
    let bin = server::private_copy(&server::build_release(&target_dir)?, &target_dir)?;
    let outcome = run_targets(&plan, &bin, &target_dir, command);
    let _ = std::fs::remove_file(&bin);
    outcome
}

/// The server's parts of `plan` on each backend it names, then on Citus if asked.
fn run_targets(plan: &Plan, bin: &Path, target_dir: &Path, command: &str) -> Result<()> {
    let mut failed = Vec::new();
    for &backend in &plan.backends {
        if let Err(e) = run_backend(backend, plan, bin, target_dir, command) {
            eprintln!("xtask: {} benchmark failed: {e}", backend_name(backend));
            failed.push(backend_name(backend));
        }
    }
    if plan.citus {
        let outcome = crate::pg::citus::start_durable().and_then(|cluster| {
            let cluster = cluster.ok_or("Citus is not available here (see above)")?;
            let target = Target::Citus(&cluster);
            run_target("citus", &target, plan, bin, target_dir, command)
        });
        if let Err(e) = outcome {
            eprintln!("xtask: citus benchmark failed: {e}");
            failed.push("citus");
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
    // Kept alive for the whole backend run; stops a cluster this process started.
    let pg_server;
    let target = match backend {
        Backend::Sqlite => Target::Sqlite,
        Backend::Postgres => {
            pg_server = crate::pg::ensure_server()?;
            Target::Postgres(&pg_server)
        }
    };
    run_target(
        backend_name(backend),
        &target,
        plan,
        bin,
        target_dir,
        command,
    )
}

/// The parts of `plan` on `target`, reported as `name` (`results-<name>.md`).
fn run_target(
    name: &str,
    target: &Target<'_>,
    plan: &Plan,
    bin: &Path,
    target_dir: &Path,
    command: &str,
) -> Result<()> {
    let mut sections = Vec::new();
    let outcome = run_parts(target, name, plan, bin, &mut sections);
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
    name: &str,
    plan: &Plan,
    bin: &Path,
    sections: &mut Vec<Section>,
) -> Result<()> {
    // Requests answered with an error the part did not ask for: their figures would be
    // an error's speed, so the run fails (after every part has reported what it
    // measured).
    let mut errors: Vec<String> = Vec::new();
    if plan.runs_http() {
        eprintln!("xtask: HTTP benchmark on {name}");
        let results = http::run(target, bin, &plan.http)?;
        let p = &results.phases;
        refused(&mut errors, "GET /api/health", &p.health);
        refused(&mut errors, "POST /api/events/track", &p.track);
        refused(&mut errors, "POST /api/budgets/reserve", &p.reserve);
        refused(&mut errors, "POST /api/events/batch", &p.batch);
        refused(&mut errors, "POST /v1/traces", &p.otlp);
        let section = report::http_section(name, &results);
        print!("{}", section.text());
        sections.push(section);
    }
    if plan.runs_analytics() {
        eprintln!("xtask: analytics benchmark on {name}");
        let results = analytics::run(target, bin, &plan.analytics)?;
        refused(&mut errors, "seeding", &results.seeding);
        let timings = results
            .timings
            .iter()
            .chain(results.settled.iter().flatten());
        errors.extend(timings.filter_map(|t| answered(&t.path, &t.problem)));
        let section = report::analytics_section(name, &results);
        print!("{}", section.text());
        sections.push(section);
    }
    if plan.runs_reprice() {
        eprintln!("xtask: re-pricing benchmark on {name}");
        let results = reprice::run(target, bin, &plan.analytics)?;
        refused(&mut errors, "seeding", &results.seeding);
        for phase in &results.phases {
            refused(
                &mut errors,
                &format!("events beside ({})", phase.label),
                &phase.beside,
            );
        }
        if !results.consistent {
            errors.push("after re-pricing, the summary's total is not the providers' sum".into());
        }
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
    if plan.runs_tenants() {
        eprintln!("xtask: many tenants on {name}");
        let results = tenants::run(target, bin, &plan.tenants)?;
        let timings = results.tags.iter().flat_map(|t| &t.timings);
        errors.extend(timings.filter_map(|t| answered(&t.path, &t.problem)));
        let section = tenants::tenants_section(name, &results);
        print!("{}", section.text());
        sections.push(section);
    }
    match errors.as_slice() {
        [] => Ok(()),
        all => Err(format!(
            "{} timed request(s) on {name} were answered with an error, so their figures \
             are not the endpoint's: {}",
            all.len(),
            all.join("; ")
        )),
    }
}

/// Notes in `errors` the requests of `what` answered with an error.
fn refused(errors: &mut Vec<String>, what: &str, stats: &load::Stats) {
    if let Some(failures) = stats.failure_summary() {
        errors.push(format!("{what}: {failures}"));
    }
}

/// A timed `GET path` that was answered with an error (`problem`), as the run reports it.
fn answered(path: &str, problem: &Option<String>) -> Option<String> {
    Some(format!("GET {path}: {}", problem.as_ref()?))
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
    crate::tidy::cargo_metadata(Path::new("."), &["--no-deps"])?
        .get("target_directory")
        .and_then(serde_json::Value::as_str)
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata has no target_directory".into())
}

/// A positive integer option; `_` may group its digits (`1_000_000`).
fn positive<T: std::str::FromStr + Default + PartialEq>(value: &str) -> Result<T> {
    value
        .replace('_', "")
        .parse::<T>()
        .ok()
        .filter(|n| *n != T::default())
        .ok_or_else(|| "needs a positive integer".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<Plan> {
        match crate::tests::parse(&[&["bench"], args].concat())? {
            crate::Task::Bench(args) => Ok(Plan::from(args)),
            other => Err(format!("not the benchmark: {other:?}")),
        }
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
        let p = plan(&["--batch-connections", "2", "--", "--quick"])?;
        assert_eq!((p.part, p.http.batch_connections), (Part::All, 2));
        assert_eq!(p.analytics.connections, 2);
        assert_eq!(p.criterion_args, vec!["--quick"]);
        let p = plan(&["http", "--backend", "postgres", "--citus"])?;
        assert!(p.citus);
        assert!(!plan(&["http"])?.citus);
        let p = plan(&[
            "tenants",
            "--workspaces",
            "1_000,5000",
            "--backend",
            "sqlite",
        ])?;
        assert_eq!(
            (p.part, p.tenants.workspaces),
            (Part::Tenants, vec![1000, 5000])
        );
        assert_eq!(plan(&["tenants"])?.tenants.workspaces, vec![1000, 5000]);
        let p = plan(&["hostile", "--backend", "pg"])?;
        assert_eq!(
            (p.part, p.backends),
            (Part::Hostile, vec![Backend::Postgres])
        );
        Ok(())
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(plan(&["http", "--seconds", "0"]).is_err());
        assert!(plan(&["http", "--seconds"]).is_err());
        assert!(plan(&["http", "--backend", "mysql"]).is_err());
        assert!(plan(&["http", "--fast"]).is_err());
        assert!(plan(&["engine", "--seconds", "3"]).is_err());
        assert!(plan(&["tenants", "--workspaces", "1000,0"]).is_err());
        assert!(plan(&["engine", "--save-baseline", "main"]).is_err());
        // Options before a part would be lost to it.
        assert!(plan(&["--seconds", "3", "http"]).is_err());
    }
}
