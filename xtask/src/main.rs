//! `cargo xtask` — the front door for LLMLab's chores. Arguments are clap derives:
//! `cargo xtask help` lists the commands, `cargo xtask <command> --help` their options.
//!
//! - `cargo xtask test [--sqlite-only] [-- <test args>]`: every test of the workspace, on
//!   SQLite and PostgreSQL (finding or starting a PostgreSQL server first).
//!   Then schemathesis checks the OpenAPI document against a running server (see
//!   `schemathesis.rs`; `--no-schemathesis` skips it and says so).
//!   The dashboard's browser suite runs in Debian's Chromium (see `browser.rs`;
//!   `--no-browser` skips it and says so).
//! - `cargo xtask screenshots`: the browser suite, then `docs/screenshots/` refreshed.
//! - `cargo xtask tidy`: the tree against the rules of docs/ARCHITECTURE.md (run first by
//!   `cargo xtask test`; see `tidy.rs`).
//! - `cargo xtask migrate [--database-url URL] [--revert]`: apply (or revert the last)
//!   migrations of a database.
//! - `cargo xtask distribute [--database-url URL]`: an existing PostgreSQL database,
//!   whose server is a Citus coordinator with its workers added, made a distributed one
//!   (docs/SCALING.md); `migrate` does the same for new tables on a coordinator.
//! - `cargo xtask reprice [--database-url URL] [--catalog PATH] [--apply]`: what
//!   re-pricing every workspace's events with today's prices would change (a dry run),
//!   or change it; the same use case as `POST /api/pricing/reprice`.
//! - `cargo xtask bench [engine|http|analytics|reprice|hostile] [OPTIONS]`: the benchmark —
//!   criterion for the engine, the release server under HTTP load on SQLite and
//!   PostgreSQL, analytics and re-pricing over a seeded ledger, hostile OTLP exports;
//!   figures go to docs/PERFORMANCE.md (see `bench/mod.rs`).
//! - `cargo xtask backup --database-url URL --out FILE` and
//!   `cargo xtask restore --from FILE --database-url URL [--force]`: a consistent copy of
//!   a running database and its way back (see `ops.rs`; docs/DEPLOY.md).
//! - `cargo xtask dist [--check FILE]`: the release tarball, and that tarball unpacked and
//!   started in an empty directory (see `dist.rs`).

mod bench;
mod browser;
mod dist;
mod ops;
mod pg;
mod schemathesis;
mod tidy;

use std::process::{Command, ExitCode};

use clap::{Args, Parser, Subcommand};

type Result<T> = std::result::Result<T, String>;

/// The database `migrate`, `reprice`, `backup` and `restore` use when neither
/// `--database-url` nor `DATABASE_URL` names one: the server's own default.
const DEFAULT_DATABASE_URL: &str = "sqlite://llmlab.db";

/// LLMLab's chores: tests, migrations, re-pricing, benchmarks, backups and releases.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    arg_required_else_help = true,
    // The hand parsers this replaced let a repeated option's last value win.
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Every test, on SQLite and PostgreSQL, then the browser suite and schemathesis
    ///
    /// Tidy runs first. A PostgreSQL server is found or started (and stopped at the end if
    /// this run started it), with a streaming replica for the read-replica tests; the
    /// tests run under cargo nextest when it is installed (then the doc tests under cargo
    /// test), else under cargo test.
    Test(TestArgs),
    /// The dashboard's browser suite, then docs/screenshots/ refreshed
    Screenshots,
    /// The tree against the rules of docs/ARCHITECTURE.md
    Tidy,
    /// The OpenAPI document against a running server
    ///
    /// Schemathesis (pinned, installed once under target/) against a fresh debug server on
    /// SQLite; its settings are in xtask/schemathesis.toml.
    Schemathesis,
    /// Apply pending migrations to a database (or revert the last)
    ///
    /// On a Citus coordinator the tables are then distributed (docs/SCALING.md).
    Migrate(MigrateArgs),
    /// Make a PostgreSQL database on a Citus coordinator a distributed one
    ///
    /// Pending migrations first; then each table becomes what docs/SCALING.md says
    /// (reference, distributed by workspace_id, or left on the coordinator), its rows
    /// moved to the shards. Install Citus, CREATE EXTENSION citus and add the workers
    /// first; stop the servers while it runs (it locks each table as it moves it).
    Distribute(DistributeArgs),
    /// What re-pricing every workspace's events with today's prices would change
    ///
    /// A dry run unless --apply; the same use case as POST /api/pricing/reprice. Events
    /// that retention deleted are not re-priced (their costs stay in the rollups).
    Reprice(RepriceArgs),
    /// The benchmark: one part, or all of them, on SQLite and PostgreSQL
    ///
    /// Each backend's figures are printed and written to target/bench/results-<backend>.md
    /// for docs/PERFORMANCE.md. A part's options follow it: `cargo xtask bench http
    /// --seconds 3`. Parts that start the server run as a release build.
    Bench(bench::BenchArgs),
    /// A consistent copy of a running database
    ///
    /// SQLite: VACUUM INTO; PostgreSQL: pg_dump --format=custom. The copy holds every
    /// commit before it began and none after (docs/DEPLOY.md).
    Backup(ops::BackupArgs),
    /// A backup into an empty database (--force: replace one)
    ///
    /// SQLite: the file is checked and copied into place (stop the server first);
    /// PostgreSQL: pg_restore --no-owner in one transaction. The server applies newer
    /// migrations when it starts.
    Restore(ops::RestoreArgs),
    /// The release tarball in target/dist/ (--check: unpack, start and stop one)
    Dist(dist::DistArgs),
}

#[derive(Debug, Args)]
struct TestArgs {
    /// Run the suites on SQLite only: the PostgreSQL suite is not run (and the run says so)
    #[arg(long)]
    sqlite_only: bool,
    /// Skip the OpenAPI conformance run (and say so)
    #[arg(long)]
    no_schemathesis: bool,
    /// Skip the dashboard's browser suite (and say so)
    #[arg(long)]
    no_browser: bool,
    /// Skip the third run of the PostgreSQL suites on a Citus cluster (and say so)
    #[arg(long)]
    no_citus: bool,
    /// Passed to the test runner (cargo nextest run, or cargo test without nextest)
    #[arg(last = true, value_name = "ARGS")]
    runner_args: Vec<String>,
}

/// `--database-url`, for the commands that open a database.
#[derive(Debug, Args)]
struct Database {
    /// The database to act on (sqlite://PATH or postgres://...)
    #[arg(
        long = "database-url",
        value_name = "URL",
        env = "DATABASE_URL",
        // Its value may hold a password: `--help` must not print it.
        hide_env_values = true,
        default_value = DEFAULT_DATABASE_URL
    )]
    url: String,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    #[command(flatten)]
    database: Database,
    /// Revert the last applied migration instead of applying the pending ones
    #[arg(long)]
    revert: bool,
}

#[derive(Debug, Args)]
struct DistributeArgs {
    #[command(flatten)]
    database: Database,
}

#[derive(Debug, Args)]
struct RepriceArgs {
    #[command(flatten)]
    database: Database,
    /// A price catalog (TOML) extending the built-in one
    #[arg(long, value_name = "PATH")]
    catalog: Option<std::path::PathBuf>,
    /// Re-price the events; without it, only report what would change
    #[arg(long)]
    apply: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.task {
        Task::Test(args) => test(&args),
        Task::Migrate(args) => migrate(&args),
        Task::Distribute(args) => distribute(&args),
        Task::Reprice(args) => reprice(&args),
        // The benchmark re-runs itself optimised and names its command in its report: it
        // needs the words it was given (`bench` is always the first: `cargo xtask` takes
        // no option of its own).
        Task::Bench(args) => bench::run(
            args,
            &std::env::args_os()
                .skip(2)
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
        ),
        Task::Schemathesis => schemathesis::run(&workspace_root()),
        Task::Tidy => tidy::run(&workspace_root()),
        Task::Screenshots => browser::screenshots(&workspace_root()),
        Task::Backup(args) => ops::backup(&args),
        Task::Restore(args) => ops::restore(&args),
        Task::Dist(args) => dist::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("xtask: {msg}");
            }
            ExitCode::FAILURE
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(mut cmd: Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn test(args: &TestArgs) -> Result<()> {
    let TestArgs {
        sqlite_only,
        no_schemathesis,
        no_browser,
        no_citus,
        ref runner_args,
    } = *args;
    tidy::run(&workspace_root())?;
    // Keep the PostgreSQL server alive (and stopped at the end, if we started it) for
    // the whole run.
    let _pg_guard;
    // Declared after the server's guard, so dropped (stopped) before it.
    let mut replica: Option<pg::replica::Replicated> = None;
    let pg_url = if sqlite_only {
        eprintln!("xtask: --sqlite-only: the PostgreSQL suite is NOT run");
        None
    } else {
        let server = pg::ensure_server()?;
        eprintln!("xtask: PostgreSQL for tests: {}", server.url);
        let url = server.url.clone();
        replica = pg::replica::start(&url)?;
        _pg_guard = server;
        Some(url)
    };
    let with_env = |cmd: &mut Command| match &pg_url {
        Some(url) => {
            cmd.env("LLMLAB_TEST_PG_URL", url);
            // libpq's default (`prefer`) negotiates TLS with a server that offers it, and
            // OpenSSL frees its tables in an exit handler: a test binary exiting while a
            // pool thread is still opening a connection then dies of SIGSEGV after every
            // test passed. Loopback test servers need no TLS; a URL's own `sslmode` wins.
            cmd.env("PGSSLMODE", "disable");
            cmd.env_remove("LLMLAB_TEST_SQLITE_ONLY");
        }
        None => {
            cmd.env("LLMLAB_TEST_SQLITE_ONLY", "1");
        }
    };
    let with_env = |cmd: &mut Command| {
        with_env(cmd);
        match &replica {
            Some(r) => r.export(cmd),
            None => {
                cmd.env_remove("LLMLAB_TEST_PG_REPLICA_URL");
            }
        }
    };
    let mut cmd = cargo();
    if has_nextest() {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    cmd.args(runner_args);
    with_env(&mut cmd);
    run(cmd)?;
    // The read-replica tests, ignored (saying why) in a run without the replica.
    if replica.is_some() {
        let mut cmd = cargo();
        if has_nextest() {
            cmd.args(["nextest", "run", "--no-fail-fast", "-p", "llmlab-server"]);
            cmd.args(["--run-ignored", "ignored-only", "-E", "test(/^replica::/)"]);
        } else {
            cmd.args([
                "test",
                "--no-fail-fast",
                "-p",
                "llmlab-server",
                "--test",
                "api",
            ]);
            cmd.args(["--", "--ignored", "replica::"]);
        }
        with_env(&mut cmd);
        run(cmd)?;
    } else if !sqlite_only {
        eprintln!("xtask: no streaming replica: the read-replica tests are NOT run");
    }
    if has_nextest() {
        // nextest does not run doc tests; the crate READMEs' examples are tests too.
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"]);
        with_env(&mut doc);
        run(doc)?;
    }
    if sqlite_only || no_citus {
        eprintln!("xtask: the Citus suite (store, app and server on a cluster) is NOT run");
    } else if let Some(cluster) = pg::citus::start()? {
        // Every PostgreSQL test of the crates that touch storage (`…::postgres` of
        // each pair, and the PostgreSQL-only ones that say so in their names), with
        // those only a cluster can run, ignored elsewhere.
        let suites = [
            "-p",
            "llmlab-store",
            "-p",
            "llmlab-app",
            "-p",
            "llmlab-server",
        ];
        let mut cmd = cargo();
        if has_nextest() {
            cmd.args(["nextest", "run", "--no-fail-fast", "--run-ignored", "all"]);
            cmd.args(suites);
            cmd.args(["-E", "test(/postgres|citus/)"]).args(runner_args);
        } else {
            cmd.args(["test", "--no-fail-fast"]).args(suites);
            cmd.args(runner_args)
                .args(["--", "--include-ignored", "postgres", "citus"]);
        }
        with_env(&mut cmd);
        cmd.env_remove("LLMLAB_TEST_PG_REPLICA_URL");
        cluster.export(&mut cmd);
        run(cmd)?;
    }
    if no_browser {
        eprintln!("xtask: --no-browser: the dashboard's browser suite is NOT run");
    } else {
        let shots = browser::run(&workspace_root())?;
        eprintln!(
            "xtask: browser suite passed; screenshots in {}",
            shots.display()
        );
    }
    if no_schemathesis {
        eprintln!("xtask: --no-schemathesis: the OpenAPI conformance run is NOT done");
    } else {
        schemathesis::run(&workspace_root())?;
    }
    Ok(())
}

/// The workspace's root directory (xtask's parent).
fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Into::into).unwrap_or(manifest)
}

fn migrate(args: &MigrateArgs) -> Result<()> {
    let (url, revert) = (&args.database.url, args.revert);
    let names = if revert {
        llmlab_store::revert_last_migration(url).map_err(|e| e.to_string())?
    } else {
        llmlab_store::run_migrations(url).map_err(|e| e.to_string())?
    };
    let verb = if revert { "reverted" } else { "applied" };
    if names.is_empty() {
        println!("nothing to do: no migration {verb} on {}", redact(url));
    }
    for n in names {
        println!("{verb} {n}");
    }
    Ok(())
}

fn distribute(args: &DistributeArgs) -> Result<()> {
    let url = &args.database.url;
    let tables = llmlab_store::distribute(url).map_err(|e| e.to_string())?;
    for (kind, label) in [
        (llmlab_store::citus::Kind::Reference, "reference"),
        (
            llmlab_store::citus::Kind::Distributed,
            "distributed by workspace_id",
        ),
    ] {
        let names: Vec<&str> = tables
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(n, _)| n.as_str())
            .collect();
        println!("{label}: {}", names.join(", "));
    }
    println!("{} is distributed", redact(url));
    Ok(())
}

fn reprice(args: &RepriceArgs) -> Result<()> {
    use llmlab_app::catalog_changes::operator;
    use llmlab_app::ledger::{RepriceScope, reprice};
    let (url, apply) = (&args.database.url, args.apply);
    let builtin = llmlab_engine::providers::Catalog::builtin();
    let catalog = match &args.catalog {
        Some(p) => builtin.extended_with_path(p).map_err(|e| e.to_string())?,
        None => builtin.clone(),
    };
    let store = llmlab_store::Store::connect(url, 2).map_err(|e| e.to_string())?;
    let workspaces = store
        .with_conn(llmlab_store::ledger::workspaces_with_events)
        .map_err(|e| e.to_string())?;
    let (mut changed, mut delta) = (0_i64, 0_i64);
    for ws in workspaces {
        let r = reprice(
            &store,
            &catalog,
            ws,
            &operator(),
            &RepriceScope::default(),
            !apply,
        )
        .map_err(|e| format!("workspace {ws}: {e}"))?;
        if r.events_changed > 0 {
            let d = r.new_cost_nanos - r.old_cost_nanos;
            println!(
                "workspace {ws}: {} of {} events, {} USD",
                r.events_changed,
                r.events_matched,
                llmlab_engine::Usd::from_nanos(d)
            );
            changed += r.events_changed;
            delta += d;
        }
    }
    let verb = if apply {
        "re-priced"
    } else {
        "would re-price (dry run; --apply to do it)"
    };
    println!(
        "{verb} {changed} events on {}: {} USD",
        redact(url),
        llmlab_engine::Usd::from_nanos(delta)
    );
    let retained = llmlab_app::retention::retained_since(&store).map_err(|e| e.to_string())?;
    if let Some(since) = retained {
        // Their costs stay in the rollups at the old prices: re-pricing cannot reach them.
        println!("events before {since} were deleted by retention and are not re-priced");
    }
    Ok(())
}

/// Hides a password in a URL before printing it.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    use super::*;

    /// `cargo xtask ARGS` as the binary parses it.
    pub(crate) fn parse(args: &[&str]) -> std::result::Result<Task, String> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
            .map(|cli| cli.task)
            .map_err(|e| e.to_string())
    }

    fn kind_of_refusal(args: &[&str]) -> ErrorKind {
        match Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied())) {
            Ok(cli) => panic!("{args:?} was accepted: {cli:?}"),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command and subcommand answers `--help`, listing each of its options with the
    /// doc comment that explains it.
    #[test]
    fn every_command_explains_its_options() {
        fn walk(cmd: &clap::Command, path: &[String], checked: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                let path = [path, &[sub.get_name().to_string()]].concat();
                let argv = [&["cargo xtask".to_string()], &path[..], &["--help".into()]].concat();
                let help = match Cli::try_parse_from(&argv) {
                    Err(e) if e.kind() == ErrorKind::DisplayHelp => e.to_string(),
                    other => panic!("{argv:?} did not show help: {other:?}"),
                };
                for arg in sub.get_arguments() {
                    let name = match arg.get_long() {
                        Some(long) => format!("--{long}"),
                        None => arg.get_id().to_string(),
                    };
                    assert!(
                        arg.get_help().is_some(),
                        "{path:?}: {name} has no doc comment"
                    );
                    if arg.get_long().is_some() {
                        assert!(help.contains(&name), "{path:?}: {name} not in\n{help}");
                    }
                }
                checked.push(path.join(" "));
                walk(sub, &path, checked);
            }
        }
        let mut checked = Vec::new();
        walk(&Cli::command(), &[], &mut checked);
        for expected in [
            "test",
            "backup",
            "bench",
            "bench engine",
            "bench hostile",
            "dist",
        ] {
            assert!(checked.iter().any(|c| c == expected), "{checked:?}");
        }
    }

    #[test]
    fn no_command_or_help_lists_the_commands() {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        assert_eq!(names.len(), 11, "{names:?}");
        for (args, kind) in [
            (&[][..], ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand),
            (&["help"][..], ErrorKind::DisplayHelp),
        ] {
            let shown = match Cli::try_parse_from(
                std::iter::once("cargo xtask").chain(args.iter().copied()),
            ) {
                Err(e) if e.kind() == kind => e.to_string(),
                other => panic!("{args:?}: {other:?}"),
            };
            for name in &names {
                assert!(
                    shown.contains(&format!("  {name} ")),
                    "{name} not in\n{shown}"
                );
            }
        }
    }

    #[test]
    fn test_takes_its_flags_and_passes_the_rest_on() {
        let Ok(Task::Test(t)) = parse(&[
            "test",
            "--sqlite-only",
            "--no-browser",
            "--",
            "-E",
            "test(x)",
            "--no-capture",
        ]) else {
            panic!("a valid test");
        };
        assert!(t.sqlite_only && t.no_browser && !t.no_schemathesis);
        assert_eq!(t.runner_args, ["-E", "test(x)", "--no-capture"]);
        let Ok(Task::Test(t)) = parse(&["test", "--no-schemathesis"]) else {
            panic!("a valid test");
        };
        assert!(t.no_schemathesis && !t.sqlite_only && t.runner_args.is_empty());
        assert_eq!(
            kind_of_refusal(&["test", "--fast"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind_of_refusal(&["test", "filter"]),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn migrate_and_reprice_read_their_options() {
        let Ok(Task::Migrate(m)) =
            parse(&["migrate", "--database-url=sqlite:///tmp/x.db", "--revert"])
        else {
            panic!("a valid migrate");
        };
        assert_eq!(
            (m.database.url.as_str(), m.revert),
            ("sqlite:///tmp/x.db", true)
        );
        let Ok(Task::Migrate(m)) = parse(&["migrate", "--database-url", "postgres://u@h/d"]) else {
            panic!("a valid migrate");
        };
        assert_eq!(
            (m.database.url.as_str(), m.revert),
            ("postgres://u@h/d", false)
        );
        let Ok(Task::Reprice(r)) = parse(&[
            "reprice",
            "--catalog",
            "prices.toml",
            "--apply",
            "--database-url",
            "sqlite://a",
        ]) else {
            panic!("a valid reprice");
        };
        assert_eq!(r.catalog, Some("prices.toml".into()));
        assert!(r.apply);
        assert_eq!(r.database.url, "sqlite://a");
        assert_eq!(
            kind_of_refusal(&["migrate", "--database-url"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            kind_of_refusal(&["reprice", "--catalog"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            kind_of_refusal(&["migrate", "--apply"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind_of_refusal(&["tidy", "--fix"]),
            ErrorKind::UnknownArgument
        );
    }

    /// Without `--database-url`, every command that opens a database takes `DATABASE_URL`,
    /// else the server's default (read from the definition: the test's own environment
    /// may set `DATABASE_URL`).
    #[test]
    fn the_database_falls_back_to_database_url_then_the_default() {
        let cli = Cli::command();
        for name in ["migrate", "reprice", "backup", "restore"] {
            let sub = cli.find_subcommand(name).expect("the command exists");
            let arg = sub
                .get_arguments()
                .find(|a| a.get_long() == Some("database-url"))
                .expect("--database-url");
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some("DATABASE_URL"),
                "{name}"
            );
            assert_eq!(arg.get_default_values(), [DEFAULT_DATABASE_URL], "{name}");
            assert!(
                arg.is_hide_env_values_set(),
                "{name} would print DATABASE_URL's password"
            );
        }
    }

    #[test]
    fn a_repeated_option_keeps_its_last_value() {
        let Ok(Task::Migrate(m)) = parse(&[
            "migrate",
            "--database-url",
            "sqlite://a",
            "--revert",
            "--database-url=sqlite://b",
            "--revert",
        ]) else {
            panic!("a valid migrate");
        };
        assert_eq!((m.database.url.as_str(), m.revert), ("sqlite://b", true));
    }
}
