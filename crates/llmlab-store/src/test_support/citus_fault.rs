//! The Citus node whose process a fault test stops and starts again
//! (`LLMLAB_TEST_CITUS_FAULT_*`, set by the Citus run of `cargo xtask test`, which
//! starts the node for that test alone).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use diesel::{Connection, PgConnection};

use crate::admin::{query_text, with_database};
use crate::citus::host_port;

/// A Citus server outside the shared test cluster whose process a test may stop.
#[derive(Debug)]
pub struct FaultNode {
    url: String,
    pg_ctl: PathBuf,
    data: PathBuf,
    /// Who runs `pg_ctl` (it refuses root), when not this process's user.
    user: Option<String>,
}

/// The fault node, when this run has one.
pub fn citus_fault_node() -> Option<FaultNode> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(FaultNode {
        url: var("LLMLAB_TEST_CITUS_FAULT_NODE")?,
        pg_ctl: var("LLMLAB_TEST_CITUS_FAULT_CTL")?.into(),
        data: var("LLMLAB_TEST_CITUS_FAULT_DATA")?.into(),
        user: var("LLMLAB_TEST_CITUS_FAULT_USER"),
    })
}

impl FaultNode {
    /// The node's server URL (no database).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the node as a crash would: `pg_ctl stop -m immediate` ends the postmaster
    /// and every backend at once, without a checkpoint; prepared transactions survive.
    ///
    /// # Panics
    /// When `pg_ctl` fails.
    pub fn stop_immediately(&self) {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    }

    /// Starts the node again (its settings are in its data directory) and waits until
    /// it accepts connections.
    ///
    /// # Panics
    /// When it does not start.
    pub fn start(&self) {
        let log = self.data.join("log");
        let log = log.to_string_lossy();
        self.pg_ctl(&["-l", &log, "-w", "start"]);
        let admin = with_database(&self.url, "postgres");
        let up = (0..100).any(|_| {
            let up = PgConnection::establish(&admin).is_ok();
            if !up {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            up
        });
        assert!(up, "the fault node at {} accepts no connection", self.url);
    }

    /// Whether the shard of `workspace`'s events in the cluster database `db_url` (on
    /// the coordinator) lives on this node.
    ///
    /// # Panics
    /// When the coordinator cannot say.
    pub fn holds_workspace(&self, db_url: &str, workspace: i64) -> bool {
        let node = query_text(
            db_url,
            &format!(
                "SELECT n.nodename || ':' || n.nodeport AS text \
                 FROM pg_dist_placement p JOIN pg_dist_node n ON n.groupid = p.groupid \
                 WHERE p.shardid = get_shard_id_for_distribution_column('events', {workspace})"
            ),
        )
        .unwrap_or_else(|e| panic!("placement of workspace {workspace}: {e}"));
        let (host, port) = host_port(&self.url);
        node == format!("{host}:{port}")
    }

    fn pg_ctl(&self, args: &[&str]) {
        let mut cmd = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&self.pg_ctl);
                c
            }
            None => Command::new(&self.pg_ctl),
        };
        cmd.arg("-D").arg(&self.data).args(args);
        let status = cmd
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        assert!(status.success(), "{cmd:?} failed ({status})");
    }
}

/// Settles the two-phase commits a worker's crash left prepared on it, in the cluster
/// database `db_url`: commits those its coordinator committed, rolls back the others.
/// Citus's maintenance daemon does the same every `citus.recover_2pc_interval` (a
/// minute); until then their locks hold back a retry of what they wrote.
///
/// # Panics
/// When the coordinator cannot reach every worker.
pub fn recover_prepared_transactions(db_url: &str) {
    crate::admin::execute(db_url, "SELECT recover_prepared_transactions()")
        .unwrap_or_else(|e| panic!("recover_prepared_transactions on {db_url}: {e}"));
}
