//! A PostgreSQL streaming replica for the read-replica tests
//! (`crates/llmlab-server/tests/api/replica.rs`).
//!
//! `LLMLAB_TEST_PG_REPLICA_URL` (with `LLMLAB_TEST_PG_REPLICA_PRIMARY_URL`, default the
//! test server) names an existing pair. Otherwise a replica is made with
//! `pg_basebackup -R` from the test server when it accepts replication connections, else
//! from a primary this runner makes itself with `initdb` (whose `pg_hba.conf` admits
//! replication from loopback): a machine's cluster is often not set up for replication,
//! and the runner must not change its configuration. Both are stopped and removed at the
//! end. The tests create each database on the primary; `CREATE DATABASE` replicates, so
//! the same database name on the replica's port is its replica.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{as_postgres, find_bin, fresh_dir, is_root, reachable};
use crate::Result;

/// A primary and its streaming replica, as server URLs (no database).
pub struct Replicated {
    pub primary_url: String,
    pub replica_url: String,
    /// Clusters this runner started, stopped in reverse order on drop, then `dir` removed.
    started: Vec<(PathBuf, PathBuf)>,
    dir: Option<PathBuf>,
}

impl Replicated {
    /// Exports the pair to a test command.
    pub fn export(&self, cmd: &mut Command) {
        cmd.env("LLMLAB_TEST_PG_REPLICA_PRIMARY_URL", &self.primary_url);
        cmd.env("LLMLAB_TEST_PG_REPLICA_URL", &self.replica_url);
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        for (pg_ctl, data) in self.started.iter().rev() {
            eprintln!(
                "xtask: stopping the PostgreSQL cluster in {}",
                data.display()
            );
            let _ = as_postgres(pg_ctl)
                .arg("-D")
                .arg(data)
                .args(["-m", "fast", "-w", "stop"])
                .stdout(Stdio::null())
                .status();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The replica pair for the tests, `None` (the replica tests then skip, saying so) when
/// PostgreSQL's server binaries are not installed here.
pub fn start(test_server: &str) -> Result<Option<Replicated>> {
    if let Ok(replica_url) = std::env::var("LLMLAB_TEST_PG_REPLICA_URL") {
        let primary_url = std::env::var("LLMLAB_TEST_PG_REPLICA_PRIMARY_URL")
            .unwrap_or_else(|_| test_server.to_string());
        return Ok(Some(Replicated {
            primary_url,
            replica_url,
            started: Vec::new(),
            dir: None,
        }));
    }
    let (Some(initdb), Some(pg_ctl), Some(basebackup), Some(psql)) = (
        find_bin("initdb"),
        find_bin("pg_ctl"),
        find_bin("pg_basebackup"),
        find_bin("psql"),
    ) else {
        eprintln!(
            "xtask: initdb, pg_ctl, pg_basebackup or psql not found: \
             the read-replica tests will be skipped"
        );
        return Ok(None);
    };
    let dir = fresh_dir("llmlab-pg-replica")?;
    let mut pair = Replicated {
        primary_url: test_server.to_string(),
        replica_url: String::new(),
        started: Vec::new(),
        dir: Some(dir.clone()),
    };
    let replica_dir = dir.join("replica");
    if !base_backup(&basebackup, test_server, &replica_dir) {
        eprintln!(
            "xtask: {test_server} refuses replication connections; \
             starting a primary of our own for the read-replica tests"
        );
        let _ = std::fs::remove_dir_all(&replica_dir);
        let primary_dir = dir.join("primary");
        let ok = as_postgres(&initdb)
            .arg("-D")
            .arg(&primary_dir)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("initdb failed in {}", primary_dir.display()));
        }
        let port = free_port(PRIMARY_PORTS)?;
        start_cluster(&pg_ctl, &primary_dir, &dir, port, &[])?;
        pair.started.push((pg_ctl.clone(), primary_dir));
        pair.primary_url = format!("postgres://postgres@127.0.0.1:{port}");
        if !base_backup(&basebackup, &pair.primary_url, &replica_dir) {
            return Err(format!("pg_basebackup from {} failed", pair.primary_url));
        }
    }
    // A packaged cluster keeps its configuration outside the data directory; and a hot
    // standby refuses to start with fewer of these than its primary has.
    for (file, text) in [
        ("postgresql.conf", ""),
        ("pg_ident.conf", ""),
        (
            "pg_hba.conf",
            "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        ),
    ] {
        let path = replica_dir.join(file);
        if !path.exists() {
            write_as_postgres(&path, text)?;
        }
    }
    let limits = primary_limits(&psql, &pair.primary_url);
    let mut port = free_port(REPLICA_PORTS)?;
    if let Err(e) = start_cluster(&pg_ctl, &replica_dir, &dir, port, &limits) {
        // Once more on another port: one taken between the check and the start fails it.
        eprintln!("xtask: {e}; trying once more");
        port = free_port(port + 1 - (std::process::id() % 1000) as u16)?;
        start_cluster(&pg_ctl, &replica_dir, &dir, port, &limits)?;
    }
    pair.started.push((pg_ctl, replica_dir));
    pair.replica_url = format!("postgres://postgres@127.0.0.1:{port}");
    wait_streaming(&psql, &pair.replica_url)?;
    Ok(Some(pair))
}

fn base_backup(bin: &Path, from: &str, into: &Path) -> bool {
    eprintln!(
        "xtask: pg_basebackup -R from {from} into {}",
        into.display()
    );
    as_postgres(bin)
        .args(["-d", from, "-D"])
        .arg(into)
        .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The settings a hot standby must have at least as high as its primary, as `-c` options.
fn primary_limits(psql: &Path, primary: &str) -> Vec<String> {
    let out = Command::new(psql)
        .args([primary, "-Atc"])
        .arg(
            "SELECT name || '=' || setting FROM pg_settings WHERE name IN ('max_connections', \
             'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', \
             'max_locks_per_transaction')",
        )
        .output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains('='))
            .map(|l| format!("-c {l}"))
            .collect()
    })
    .unwrap_or_default()
}

pub(super) fn start_cluster(
    pg_ctl: &Path,
    data: &Path,
    sockets: &Path,
    port: u16,
    extra: &[String],
) -> Result<()> {
    eprintln!(
        "xtask: starting the PostgreSQL cluster in {} on port {port}",
        data.display()
    );
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off {}",
        sockets.display(),
        extra.join(" ")
    );
    let ok = as_postgres(pg_ctl)
        .arg("-D")
        .arg(data)
        .args(["-o", &opts, "-l"])
        .arg(data.join("log"))
        .args(["-w", "start"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let url = format!("postgres://postgres@127.0.0.1:{port}");
    if ok && reachable(&url, Duration::from_secs(20)) {
        return Ok(());
    }
    // The directory goes when the runner ends: say why here, or nobody ever will.
    let log = std::fs::read_to_string(data.join("log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    for line in tail.iter().rev() {
        eprintln!("xtask: | {line}");
    }
    Err(format!(
        "the PostgreSQL cluster in {} did not start on port {port} (its log above)",
        data.display()
    ))
}

/// Waits until the replica receives WAL from its primary.
fn wait_streaming(psql: &Path, replica: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = Command::new(psql)
            .args([replica, "-Atc", "SELECT status FROM pg_stat_wal_receiver"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        if status == "streaming" {
            eprintln!("xtask: read replica streaming at {replica}");
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the replica at {replica} is not streaming (status {status:?})"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Where the primary's and the replica's ports are looked for. Both ranges sit below
/// Linux's ephemeral ports (32768 and up): a port there can be taken at any moment as
/// the local end of some outgoing connection, and the cluster then fails to bind it.
const PRIMARY_PORTS: u16 = 26_432;
const REPLICA_PORTS: u16 = 28_432;

/// The first port from `from` (moved by this process's id, so runners side by side
/// start apart) that can be bound on loopback.
pub(super) fn free_port(from: u16) -> Result<u16> {
    let start = from + (std::process::id() % 1000) as u16;
    (start..start + 100)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .ok_or_else(|| format!("no free port in {start}..{}", start + 100))
}

fn write_as_postgres(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if is_root() {
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(path)
            .status();
    }
    Ok(())
}
