//! `cargo xtask` — the front door for LLMLab's chores.
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
//! - `cargo xtask reprice [--database-url URL] [--catalog PATH] [--apply]`: what
//!   re-pricing every workspace's events with today's prices would change (a dry run),
//!   or change it; the same use case as `POST /api/pricing/reprice`.
//! - `cargo xtask bench [engine|http|analytics] [OPTIONS]`: the benchmark — criterion for
//!   the engine, the release server under HTTP load on SQLite and PostgreSQL, analytics
//!   over a seeded ledger; figures go to docs/PERFORMANCE.md (see `bench/mod.rs`).
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

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("migrate") => migrate(&args[1..]),
        Some("reprice") => reprice(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("schemathesis") => schemathesis::run(&workspace_root()),
        Some("tidy") => tidy::run(&workspace_root()),
        Some("screenshots") => browser::screenshots(&workspace_root()),
        Some("backup") => ops::backup(&args[1..]),
        Some("restore") => ops::restore(&args[1..]),
        Some("dist") => dist::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 test [--sqlite-only] [--no-schemathesis] [--no-browser] [-- ARGS]\n                                   run every test, SQLite and PostgreSQL, and the browser suite\n  \
                 screenshots                      the browser suite, then docs/screenshots/ refreshed\n  \
                 tidy                             the tree against docs/ARCHITECTURE.md's rules\n  \
                 schemathesis                     the OpenAPI document against a running server\n  \
                 migrate [--database-url URL] [--revert]\n                                   apply pending migrations (or revert the last)\n  \
                 reprice [--database-url URL] [--catalog PATH] [--apply]\n                                   what re-pricing every workspace would change (or change it)\n  \
                 backup [--database-url URL] --out FILE\n                                   a consistent copy of a running database\n  \
                 restore --from FILE [--database-url URL] [--force]\n                                   a backup into an empty database (--force: replace one)\n  \
                 dist [--check FILE]              the release tarball in target/dist/ (--check: unpack, start, stop it)\n  \
                 {}",
                bench::USAGE
            );
            Err(String::new())
        }
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

fn test(args: &[String]) -> Result<()> {
    let (ours, passthrough) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let sqlite_only = ours.iter().any(|a| a == "--sqlite-only");
    let no_schemathesis = ours.iter().any(|a| a == "--no-schemathesis");
    let no_browser = ours.iter().any(|a| a == "--no-browser");
    if let Some(bad) = ours
        .iter()
        .find(|a| !["--sqlite-only", "--no-schemathesis", "--no-browser"].contains(&a.as_str()))
    {
        return Err(format!("unknown option {bad}"));
    }
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
    cmd.args(passthrough);
    with_env(&mut cmd);
    run(cmd)?;
    if has_nextest() {
        // nextest does not run doc tests; the crate READMEs' examples are tests too.
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"]);
        with_env(&mut doc);
        run(doc)?;
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

fn migrate(args: &[String]) -> Result<()> {
    let mut url = std::env::var("DATABASE_URL").ok();
    let mut revert = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--revert" => revert = true,
            "--database-url" => {
                url = Some(it.next().ok_or("--database-url needs a value")?.clone());
            }
            other => match other.strip_prefix("--database-url=") {
                Some(v) => url = Some(v.to_string()),
                None => return Err(format!("unknown option {other}")),
            },
        }
    }
    let url = url.unwrap_or_else(|| "sqlite://llmlab.db".to_string());
    let names = if revert {
        llmlab_store::revert_last_migration(&url).map_err(|e| e.to_string())?
    } else {
        llmlab_store::run_migrations(&url).map_err(|e| e.to_string())?
    };
    let verb = if revert { "reverted" } else { "applied" };
    if names.is_empty() {
        println!("nothing to do: no migration {verb} on {}", redact(&url));
    }
    for n in names {
        println!("{verb} {n}");
    }
    Ok(())
}

fn reprice(args: &[String]) -> Result<()> {
    use llmlab_app::catalog_changes::operator;
    use llmlab_app::ledger::{RepriceScope, reprice};
    let mut url = std::env::var("DATABASE_URL").ok();
    let (mut apply, mut catalog_path) = (false, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--apply" => apply = true,
            "--database-url" => {
                url = Some(it.next().ok_or("--database-url needs a value")?.clone())
            }
            "--catalog" => catalog_path = Some(it.next().ok_or("--catalog needs a value")?.clone()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let url = url.unwrap_or_else(|| "sqlite://llmlab.db".to_string());
    let builtin = llmlab_engine::providers::Catalog::builtin();
    let catalog = match catalog_path {
        Some(p) => builtin
            .extended_with_path(std::path::Path::new(&p))
            .map_err(|e| e.to_string())?,
        None => builtin.clone(),
    };
    let store = llmlab_store::Store::connect(&url, 2).map_err(|e| e.to_string())?;
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
        redact(&url),
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
