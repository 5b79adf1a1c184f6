//! Finding (or starting) the PostgreSQL server the test suite runs against.
//!
//! Order: `LLMLAB_TEST_PG_URL`; a server on 127.0.0.1:5432; the machine's cluster started
//! with `pg_ctlcluster`; a throwaway cluster made with `initdb` and stopped afterwards.
//! Tests create their own databases on it and drop them. `replica` adds a streaming
//! replica for the read-replica tests; `citus` a three-node cluster for the third run.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::Result;

pub mod citus;
pub mod replica;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// A reachable server; stops the cluster on drop when this process started a throwaway one.
pub struct PgServer {
    pub url: String,
    throwaway: Option<(PathBuf, PathBuf)>, // (pg_ctl, data dir)
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some((pg_ctl, dir)) = &self.throwaway {
            eprintln!("xtask: stopping the throwaway PostgreSQL cluster");
            let _ = as_postgres(pg_ctl)
                .arg("-D")
                .arg(dir)
                .args(["-m", "fast", "-w", "stop"])
                .status();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub fn ensure_server() -> Result<PgServer> {
    if let Ok(url) = std::env::var("LLMLAB_TEST_PG_URL") {
        return if reachable(&url, Duration::from_secs(3)) {
            Ok(PgServer {
                url,
                throwaway: None,
            })
        } else {
            Err(format!(
                "LLMLAB_TEST_PG_URL={url} is set but nothing answers there; start that server or unset the variable"
            ))
        };
    }
    if reachable(DEFAULT_URL, Duration::from_secs(2)) {
        return Ok(PgServer {
            url: DEFAULT_URL.into(),
            throwaway: None,
        });
    }
    if start_machine_cluster() && reachable(DEFAULT_URL, Duration::from_secs(20)) {
        return Ok(PgServer {
            url: DEFAULT_URL.into(),
            throwaway: None,
        });
    }
    if let Some(server) = start_throwaway_cluster()? {
        return Ok(server);
    }
    Err(
        "no PostgreSQL server found. The test suite needs one: install PostgreSQL \
         (e.g. `apt-get install postgresql`) and start it, or point LLMLAB_TEST_PG_URL at one \
         (postgres://user@host:port, a user allowed to CREATE DATABASE). \
         `cargo xtask test --sqlite-only` runs everything else."
            .into(),
    )
}

/// Host and port of a `postgres://user[:pw]@host[:port][/db]` URL.
fn socket_addr(url: &str) -> Option<SocketAddr> {
    let (host, port) = llmlab_store::citus::host_port(url);
    (host.as_str(), port).to_socket_addrs().ok()?.next()
}

fn reachable(url: &str, within: Duration) -> bool {
    let Some(addr) = socket_addr(url) else {
        return false;
    };
    let deadline = Instant::now() + within;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Starts the Debian-packaged cluster(s) of this machine, if any.
fn start_machine_cluster() -> bool {
    let Ok(versions) = std::fs::read_dir("/etc/postgresql") else {
        return false;
    };
    let mut started = false;
    for v in versions.flatten() {
        let version = v.file_name().to_string_lossy().to_string();
        eprintln!("xtask: starting PostgreSQL {version} (pg_ctlcluster)");
        started |= Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "start"])
            .status()
            .is_ok_and(|s| s.success());
    }
    started
}

/// `name` on the `PATH`, else in the newest `/usr/lib/postgresql/*/bin` (the store's
/// lookup, which backups use too).
pub fn find_bin(name: &str) -> Option<PathBuf> {
    llmlab_store::admin::find_pg_bin(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// An empty directory `<temp>/<prefix>-<pid>` the `postgres` user owns, for clusters
/// this runner makes (removed first if a run of the same process id left one).
fn fresh_dir(prefix: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if is_root() {
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status();
    }
    Ok(dir)
}

/// `initdb` and `pg_ctl` refuse to run as root: run them as `postgres` then.
fn as_postgres(bin: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn start_throwaway_cluster() -> Result<Option<PgServer>> {
    let (Some(initdb), Some(pg_ctl)) = (find_bin("initdb"), find_bin("pg_ctl")) else {
        return Ok(None);
    };
    // Below Linux's ephemeral ports (32768 and up), which outgoing connections take.
    let port = 24_432 + (std::process::id() % 1000) as u16;
    let dir = std::env::temp_dir().join(format!("llmlab-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if is_root() {
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status();
    }
    eprintln!(
        "xtask: starting a throwaway PostgreSQL cluster in {} on port {port}",
        dir.display()
    );
    let ok = as_postgres(&initdb)
        .arg("-D")
        .arg(&dir)
        .args(["-A", "trust", "-U", "postgres", "--no-sync"])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!("initdb failed in {}", dir.display()));
    }
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        dir.display()
    );
    let ok = as_postgres(&pg_ctl)
        .arg("-D")
        .arg(&dir)
        .args(["-o", &opts, "-l"])
        .arg(dir.join("log"))
        .args(["-w", "start"])
        .status()
        .is_ok_and(|s| s.success());
    let server = PgServer {
        url: format!("postgres://postgres@127.0.0.1:{port}"),
        throwaway: Some((pg_ctl, dir)),
    };
    if !ok || !reachable(&server.url, Duration::from_secs(20)) {
        return Err("the throwaway PostgreSQL cluster did not start".into());
    }
    Ok(Some(server))
}
