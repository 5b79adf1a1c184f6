//! Throwaway databases for tests, on either backend (feature `test-support`).
//!
//! PostgreSQL tests use the server at `LLMLAB_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432`) and fail when it is unreachable, unless
//! `LLMLAB_TEST_SQLITE_ONLY=1` is set, in which case they return early.
//!
//! With `LLMLAB_TEST_CITUS_WORKERS` (comma-separated server URLs) that server is a Citus
//! coordinator: each database is made on it and on every worker, with the extension,
//! and the workers registered, so each test database is a cluster of its own and the
//! store's migrations distribute its tables. A fault test may add the node whose
//! process it stops ([`citus_fault_node`]) as a worker of a database of its own
//! ([`TestDb::on_citus_workers`]).

use crate::WorkspaceId;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::admin::with_database;
use crate::{Backend, Store};

mod citus_fault;
pub use citus_fault::{FaultNode, citus_fault_node, recover_prepared_transactions};

/// The PostgreSQL server used when `LLMLAB_TEST_PG_URL` is not set.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// A fresh, empty database that is deleted when dropped.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: String,
    /// SQLite: the directory holding the file.
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server URL (without database) and the database name.
    pg: Option<(String, String)>,
    /// The other servers that may hold a database of this name (a cluster's nodes),
    /// dropped with it.
    nodes: Vec<String>,
}

/// Whether PostgreSQL tests are switched off (`LLMLAB_TEST_SQLITE_ONLY=1`).
pub fn sqlite_only() -> bool {
    std::env::var("LLMLAB_TEST_SQLITE_ONLY").is_ok_and(|v| v == "1")
}

/// The PostgreSQL server URL for tests.
pub fn pg_server_url() -> String {
    std::env::var("LLMLAB_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

fn admin_connection(server: &str) -> PgConnection {
    PgConnection::establish(&with_database(server, "postgres")).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL tests need a server: cannot connect to {server} ({e}). Start \
             PostgreSQL, point LLMLAB_TEST_PG_URL at one (e.g. \
             postgres://postgres@127.0.0.1:5432), or set LLMLAB_TEST_SQLITE_ONLY=1 to skip \
             the PostgreSQL half of the tests."
        )
    })
}

impl TestDb {
    /// Creates an empty database: an SQLite file in a temporary directory, or
    /// `llmlab_test_<random>` on the PostgreSQL test server.
    ///
    /// # Panics
    /// When the database cannot be created (for PostgreSQL, with instructions).
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
                let url = format!("sqlite://{}", dir.path().join("llmlab.db").display());
                TestDb {
                    backend,
                    url,
                    _dir: Some(dir),
                    pg: None,
                    nodes: Vec::new(),
                }
            }
            Backend::Postgres => TestDb::on_pg_server(&pg_server_url()),
        }
    }

    /// An empty `llmlab_test_<random>` database on the PostgreSQL server at `server`
    /// (another server than the default one, e.g. a replicated primary).
    ///
    /// # Panics
    /// When the database cannot be created.
    pub fn on_pg_server(server: &str) -> TestDb {
        let workers = citus_workers();
        if server == pg_server_url() && !workers.is_empty() {
            return TestDb::on_citus_workers(&workers);
        }
        let name = fresh_name();
        admin_connection(server)
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {server}: {e}"));
        TestDb {
            backend: Backend::Postgres,
            url: with_database(server, &name),
            _dir: None,
            pg: Some((server.to_string(), name)),
            nodes: Vec::new(),
        }
    }

    /// On the Citus coordinator at [`pg_server_url`]: an empty database that is a
    /// cluster of its own with `workers` (servers with Citus) as its workers.
    ///
    /// # Panics
    /// When the cluster cannot be made.
    pub fn on_citus_workers(workers: &[String]) -> TestDb {
        let server = pg_server_url();
        let name = fresh_name();
        // Few shards: each test makes a cluster of its own, and 4 already spread every
        // table over two workers.
        crate::citus::cluster_database(&server, workers, &name, Some(4))
            .unwrap_or_else(|e| panic!("a Citus cluster for {name}: {e}"));
        // The rebalancing test adds the spare to its database.
        let nodes = workers.iter().cloned().chain(citus_spare()).collect();
        TestDb {
            backend: Backend::Postgres,
            url: with_database(&server, &name),
            _dir: None,
            pg: Some((server, name)),
            nodes,
        }
    }

    /// The database URL, for [`Store::connect`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A migrated [`Store`] on this database with a pool of 10.
    ///
    /// # Panics
    /// When connecting or migrating fails.
    pub fn store(&self) -> Store {
        Store::connect(&self.url, 10).unwrap_or_else(|e| panic!("connect {}: {e}", self.url))
    }
}

impl TestDb {
    /// The database's name (PostgreSQL; `None` on SQLite), to name it on another server.
    pub fn pg_name(&self) -> Option<&str> {
        self.pg.as_ref().map(|(_, name)| name.as_str())
    }

    /// PostgreSQL only, for outage tests: terminates every connection to this database
    /// and waits until they are gone (termination is a signal, not a handshake). With
    /// `refuse_new`, new connections are refused until [`TestDb::admit_connections`].
    ///
    /// # Panics
    /// On SQLite, or when the backends outlive two seconds.
    pub fn terminate_connections(&self, refuse_new: bool) {
        let (server, name) = self.pg.as_ref().expect("a PostgreSQL test database");
        terminate_on(server, name, refuse_new);
    }

    /// PostgreSQL only: admits new connections again after
    /// [`TestDb::terminate_connections`]`(true)`.
    pub fn admit_connections(&self) {
        let (server, name) = self.pg.as_ref().expect("a PostgreSQL test database");
        admit_on(server, name);
    }

    /// On a Citus cluster, a worker going away for this database: what
    /// [`TestDb::terminate_connections`] does, on every worker's copy (the coordinator
    /// keeps answering).
    pub fn terminate_worker_connections(&self, refuse_new: bool) {
        let (_, name) = self.pg.as_ref().expect("a PostgreSQL test database");
        for worker in citus_workers() {
            terminate_on(&worker, name, refuse_new);
        }
    }

    /// Admits connections on every worker again after
    /// [`TestDb::terminate_worker_connections`]`(true)`.
    pub fn admit_worker_connections(&self) {
        let (_, name) = self.pg.as_ref().expect("a PostgreSQL test database");
        for worker in citus_workers() {
            admit_on(&worker, name);
        }
    }
}

fn terminate_on(server: &str, name: &str, refuse_new: bool) {
    let mut admin = admin_connection(server);
    if refuse_new {
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
            ))
            .unwrap_or_else(|e| panic!("refuse connections to {name}: {e}"));
    }
    #[derive(diesel::QueryableByName)]
    struct Alive {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let terminate = format!(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    );
    let alive = format!(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    );
    let mut count = |sql: &str| {
        diesel::sql_query(sql)
            .get_result::<Alive>(&mut admin)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .n
    };
    count(&terminate);
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        count(&alive) == 0
    });
    assert!(gone, "connections to {name} outlived their termination");
}

fn admit_on(server: &str, name: &str) {
    admin_connection(server)
        .batch_execute(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
        ))
        .unwrap_or_else(|e| panic!("admit connections to {name}: {e}"));
}

/// The worker servers of the Citus coordinator at [`pg_server_url`], if it is one.
pub fn citus_workers() -> Vec<String> {
    std::env::var("LLMLAB_TEST_CITUS_WORKERS")
        .unwrap_or_default()
        .split(',')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A Citus node outside the cluster, which a test may add to it
/// (`LLMLAB_TEST_CITUS_SPARE`).
pub fn citus_spare() -> Option<String> {
    std::env::var("LLMLAB_TEST_CITUS_SPARE")
        .ok()
        .filter(|s| !s.is_empty())
}

fn fresh_name() -> String {
    format!("llmlab_test_{:016x}", rand::random::<u64>())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = &self.pg else {
            return;
        };
        // The coordinator first: its background workers hold connections to the
        // workers' copies.
        for server in std::iter::once(server).chain(&self.nodes) {
            release_prepared(server, name);
            let dropped =
                PgConnection::establish(&with_database(server, "postgres")).and_then(|mut c| {
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
                });
            if let Err(e) = dropped {
                eprintln!("could not drop test database {name} on {server}: {e}");
            }
        }
    }
}

/// Rolls back the two-phase commits left prepared in database `name` on `server` (a
/// worker's half of a distributed transaction whose coordinator went away mid-commit, as
/// in the fault tests). PostgreSQL refuses to drop a database that holds one, and while
/// it lives it holds back every logical replication slot on the server, so a shard move
/// in another test would wait for it forever.
fn release_prepared(server: &str, name: &str) {
    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::Text)]
        gid: String,
    }
    let Ok(mut conn) = PgConnection::establish(&with_database(server, name)) else {
        return; // no such database there: nothing prepared in it
    };
    let prepared =
        diesel::sql_query("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")
            .load::<Prepared>(&mut conn)
            .unwrap_or_default();
    for Prepared { gid } in prepared {
        let gid = gid.replace('\'', "''");
        if let Err(e) = conn.batch_execute(&format!("ROLLBACK PREPARED '{gid}'")) {
            eprintln!("could not roll back {gid} in {name} on {server}: {e}");
        }
    }
}

/// Runs `sql` on the PostgreSQL database at `url` (e.g. pausing a replica's replay).
///
/// # Panics
/// When connecting or the statement fails.
pub fn execute_on(url: &str, sql: &str) {
    PgConnection::establish(url)
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql} on {url}: {e}"));
}

/// Runs `test` against a fresh migrated database of `backend`. On PostgreSQL it returns
/// early when `LLMLAB_TEST_SQLITE_ONLY=1`.
pub fn run(backend: Backend, test: impl FnOnce(&TestDb, Store)) {
    if backend == Backend::Postgres && sqlite_only() {
        eprintln!("LLMLAB_TEST_SQLITE_ONLY=1: PostgreSQL test skipped");
        return;
    }
    let db = TestDb::new(backend);
    let store = db.store();
    test(&db, store);
}

/// Generates a module `$name` with two tests, `sqlite` and `postgres`, each calling
/// `$test(&TestDb, Store)` on a fresh database of that backend; or, with
/// `via $runner`, calling `$runner(Backend)` (the server's tests start a server on it).
///
/// ```ignore
/// both_backends!(signup_conflicts, |_db, store| { /* … */ });
/// ```
#[macro_export]
macro_rules! both_backends {
    ($name:ident, via $runner:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                ($runner)($crate::Backend::Sqlite)
            }

            #[test]
            fn postgres() {
                ($runner)($crate::Backend::Postgres)
            }
        }
    };
    ($name:ident, $test:expr) => {
        $crate::both_backends!(
            $name,
            via | backend | { $crate::test_support::run(backend, $test) }
        );
    };
}

// Store methods only tests read with: the server asks these questions through the
// calls that answer them together with others (`authenticate_api_key`,
// `session_state`), and reports through the planned aggregates.
store_methods! {
    /// See [`analytics::totals`](crate::analytics::totals).
    fn totals(
        workspace_id: WorkspaceId,
        filter: &crate::EventFilter,
    ) -> crate::analytics::Totals = with_conn(crate::analytics::totals);

    /// See [`tokens::is_revoked`](crate::tokens::is_revoked).
    fn is_token_revoked(jti: &str) -> bool = with_conn(crate::tokens::is_revoked);

    /// See [`api_keys::find_active_by_hash`](crate::api_keys::find_active_by_hash).
    fn find_api_key_by_hash(
        key_hash: &str,
    ) -> Option<crate::ApiKeyRow> = with_conn(crate::api_keys::find_active_by_hash);

    /// See [`prices::version`](crate::prices::version).
    fn custom_prices_version(workspace_id: WorkspaceId) -> i64 = with_conn(crate::prices::version);
}
