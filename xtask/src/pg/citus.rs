//! A three-node Citus cluster (a coordinator and two workers on loopback) for the third
//! run of the PostgreSQL suites, a spare node the rebalancing test adds to it, and a
//! fault node: a worker of the fault test's own database, whose process that test stops
//! and starts again.
//!
//! Citus must be installed into the PostgreSQL whose `initdb` this runner uses; when it
//! is not, it is built from `LLMLAB_CITUS_SRC` (a directory with the source tarball and
//! `build.sh`, as `../shared/vendor/citus` holds). Without either the run says loudly
//! that the Citus suite was skipped. Each node is a throwaway `initdb` cluster with
//! `shared_preload_libraries = 'citus'`; the test support makes every test database a
//! cluster of its own on them (`crates/llmlab-store/src/test_support.rs`). All of them
//! are stopped and removed at the end.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::replica::{free_port, start_cluster};
use super::{as_postgres, find_bin, fresh_dir, is_root};
use crate::Result;

/// Where the coordinator's and workers' ports are looked for (below Linux's ephemeral
/// ports, like the replica's).
const PORTS: u16 = 30_432;

/// The running cluster, as server URLs (no database).
pub struct Cluster {
    pub coordinator: String,
    pub workers: Vec<String>,
    /// A node with Citus that is not in the cluster: the rebalancing test adds it.
    pub spare: String,
    /// A node with Citus that only the fault test uses: it stops its process mid-ingest
    /// (empty on the benchmark's cluster).
    pub fault: String,
    fault_data: PathBuf,
    started: Vec<PathBuf>,
    pg_ctl: PathBuf,
    dir: PathBuf,
}

impl Cluster {
    /// Points a test command at the cluster.
    pub fn export(&self, cmd: &mut Command) {
        cmd.env("LLMLAB_TEST_PG_URL", &self.coordinator);
        cmd.env("LLMLAB_TEST_CITUS_WORKERS", self.workers.join(","));
        cmd.env("LLMLAB_TEST_CITUS_SPARE", &self.spare);
        if self.fault.is_empty() {
            return;
        }
        // What a test needs to stop and start the fault node's process itself: the
        // node's settings are in its data directory, so `pg_ctl -D DIR start` is enough.
        cmd.env("LLMLAB_TEST_CITUS_FAULT_NODE", &self.fault);
        cmd.env("LLMLAB_TEST_CITUS_FAULT_CTL", &self.pg_ctl);
        cmd.env("LLMLAB_TEST_CITUS_FAULT_DATA", &self.fault_data);
        // `pg_ctl` refuses to run as root: the test switches user the way this runner
        // does (`runuser -u postgres --`).
        if is_root() {
            cmd.env("LLMLAB_TEST_CITUS_FAULT_USER", "postgres");
        } else {
            cmd.env_remove("LLMLAB_TEST_CITUS_FAULT_USER");
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for data in self.started.iter().rev() {
            eprintln!("xtask: stopping the Citus node in {}", data.display());
            let _ = as_postgres(&self.pg_ctl)
                .arg("-D")
                .arg(data)
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `pg_config`'s PostgreSQL has Citus 13.2.
fn installed(pg_config: &Path) -> bool {
    let dir = |what: &str| {
        Command::new(pg_config)
            .arg(what)
            .output()
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .unwrap_or_default()
    };
    let control = dir("--sharedir").join("extension/citus.control");
    dir("--pkglibdir").join("citus.so").is_file()
        && std::fs::read_to_string(control).is_ok_and(|c| c.contains("default_version = '13.2-"))
}

/// The major version of `pg_config`'s PostgreSQL ("15").
fn major(pg_config: &Path) -> Option<String> {
    let out = Command::new(pg_config).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let version = text.split_whitespace().nth(1)?;
    Some(version.split('.').next()?.to_string())
}

/// Installs Citus when it is missing and `LLMLAB_CITUS_SRC` says where its source is;
/// `false` (and why, loudly) when the suite cannot run.
fn ensure_installed(pg_config: &Path) -> Result<bool> {
    if installed(pg_config) {
        return Ok(true);
    }
    let Some(src) = std::env::var_os("LLMLAB_CITUS_SRC") else {
        eprintln!(
            "xtask: ********************************************************************\n\
             xtask: Citus is not installed and LLMLAB_CITUS_SRC is not set:\n\
             xtask: the Citus suite (store and server on a 3-node cluster) is SKIPPED.\n\
             xtask: ********************************************************************"
        );
        return Ok(false);
    };
    let script = Path::new(&src).join("build.sh");
    let major = major(pg_config).ok_or("cannot read pg_config --version")?;
    eprintln!("xtask: building Citus with {} {major}", script.display());
    crate::run({
        let mut c = Command::new("bash");
        c.arg(&script).arg(&major);
        c
    })?;
    if installed(pg_config) {
        Ok(true)
    } else {
        Err(format!(
            "{} ran but Citus is not installed",
            script.display()
        ))
    }
}

/// Starts the cluster for tests (`fsync` off, like every cluster this runner makes), or
/// `None` when Citus cannot be had here (said loudly).
pub fn start() -> Result<Option<Cluster>> {
    start_nodes(false)
}

/// Starts the cluster with `fsync` on, as a benchmark compares it with a durable
/// PostgreSQL.
pub fn start_durable() -> Result<Option<Cluster>> {
    start_nodes(true)
}

fn start_nodes(durable: bool) -> Result<Option<Cluster>> {
    let (Some(initdb), Some(pg_ctl)) = (find_bin("initdb"), find_bin("pg_ctl")) else {
        eprintln!("xtask: initdb or pg_ctl not found: the Citus suite is SKIPPED");
        return Ok(None);
    };
    let pg_config = initdb.with_file_name("pg_config");
    let pg_config = if pg_config.is_file() {
        pg_config
    } else {
        find_bin("pg_config").ok_or("pg_config not found")?
    };
    if !ensure_installed(&pg_config)? {
        return Ok(None);
    }
    let dir = fresh_dir("llmlab-citus")?;
    let mut cluster = Cluster {
        coordinator: String::new(),
        workers: Vec::new(),
        spare: String::new(),
        fault: String::new(),
        fault_data: dir.join("fault"),
        started: Vec::new(),
        pg_ctl: pg_ctl.clone(),
        dir: dir.clone(),
    };
    // Logical WAL lets the rebalancer move shards while they are written to; the
    // connection limit leaves room for two test threads' pools and the coordinator's
    // connections to the workers. Citus asks its nodes for TLS by default and turns it on
    // in each node by ALTER SYSTEM and a reload when its extension is first created
    // there; a coordinator that connected before a worker's reload took effect failed
    // every test with "server does not support SSL, but SSL was required". Nodes on
    // loopback need no TLS: they prefer it, and connect either way.
    let settings = [
        "-c shared_preload_libraries=citus".to_string(),
        "-c citus.node_conninfo=sslmode=prefer".to_string(),
        "-c wal_level=logical".to_string(),
        "-c max_connections=400".to_string(),
        "-c max_prepared_transactions=200".to_string(),
        "-c citus.log_remote_commands=off".to_string(),
        format!("-c fsync={}", if durable { "on" } else { "off" }),
    ];
    let mut port = PORTS;
    // The benchmark's (durable) cluster has no fault test to serve.
    let nodes = ["coordinator", "worker1", "worker2", "spare", "fault"];
    let nodes = if durable { &nodes[..4] } else { &nodes[..] };
    for &node in nodes {
        let data = dir.join(node);
        let ok = as_postgres(&initdb)
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("initdb failed in {}", data.display()));
        }
        port = free_port(port)?;
        if node == "fault" {
            // The test starts this node again with a bare `pg_ctl start`: the options
            // the others get on the command line live in its configuration.
            keep_settings(&data, &dir, port, &settings)?;
        }
        start_cluster(&pg_ctl, &data, &dir, port, &settings)?;
        cluster.started.push(data);
        let url = format!("postgres://postgres@127.0.0.1:{port}");
        match node {
            "coordinator" => cluster.coordinator = url,
            "spare" => cluster.spare = url,
            "fault" => cluster.fault = url,
            _ => cluster.workers.push(url),
        }
        port = port + 1 - (std::process::id() % 1000) as u16;
    }
    eprintln!(
        "xtask: Citus cluster: coordinator {}, workers {}, spare {}{}",
        cluster.coordinator,
        cluster.workers.join(", "),
        cluster.spare,
        if durable {
            String::new()
        } else {
            format!(", fault node {}", cluster.fault)
        }
    );
    Ok(Some(cluster))
}

/// Appends `start_cluster`'s options for a node on `port` (its sockets in `sockets`,
/// plus `settings`, given as `-c name=value`) to the node's `postgresql.conf`.
fn keep_settings(data: &Path, sockets: &Path, port: u16, settings: &[String]) -> Result<()> {
    let mut conf = format!(
        "\nport = {port}\nunix_socket_directories = '{}'\nlisten_addresses = '127.0.0.1'\n",
        sockets.display()
    );
    for setting in settings {
        let Some((name, value)) = setting.trim_start_matches("-c ").split_once('=') else {
            return Err(format!("not a -c name=value setting: {setting}"));
        };
        conf.push_str(&format!("{name} = '{value}'\n"));
    }
    let path = data.join("postgresql.conf");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, conf.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
