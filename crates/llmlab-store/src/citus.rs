//! A sharded PostgreSQL (Citus): which table is what, and making the schema so.
//!
//! Tenant tables are distributed by `workspace_id` and co-located with `events`, so a
//! workspace's rows of every table sit in one shard group and a request about one
//! workspace is one shard's work. Small global tables, and the per-workspace ones that
//! are looked up across workspaces (an API key by its hash, a user's memberships and
//! invitations), are reference tables: a copy on every node, joined locally.
//! docs/SCALING.md gives each table's reason.
//!
//! On a database with the `citus` extension, [`Store::migrate`](crate::Store::migrate)
//! distributes whatever is not yet distributed after applying migrations (a new table
//! appears here and in a migration together); on any other PostgreSQL or on SQLite
//! nothing here runs.

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Bool, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

use crate::StoreError;

/// How a table lives on a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only on the coordinator: written often, never joined with tenant data, so a
    /// copy on every node would make each write a write to every node.
    Local,
    /// A copy on every node.
    Reference,
    /// Sharded by `workspace_id`, co-located with `events`.
    Distributed,
}

/// Every table of the schema, parents before the tables whose foreign keys point at
/// them (the order they are distributed in).
pub const TABLES: &[(&str, Kind)] = &[
    ("users", Kind::Reference),
    ("revoked_tokens", Kind::Reference),
    ("login_attempts", Kind::Local),
    ("catalog_fingerprints", Kind::Reference),
    ("maintenance", Kind::Local),
    ("workspaces", Kind::Reference),
    ("workspace_members", Kind::Reference),
    ("api_keys", Kind::Reference),
    ("invitations", Kind::Reference),
    ("events", Kind::Distributed),
    ("event_tags", Kind::Distributed),
    ("event_rollups", Kind::Distributed),
    ("tag_rollups", Kind::Distributed),
    ("ledger_totals", Kind::Distributed),
    ("budgets", Kind::Distributed),
    ("budget_alerts", Kind::Distributed),
    ("channels", Kind::Distributed),
    ("budget_channels", Kind::Distributed),
    ("notifications", Kind::Distributed),
    ("notification_deliveries", Kind::Distributed),
    ("channel_recipients", Kind::Distributed),
    ("send_quota", Kind::Distributed),
    ("custom_prices", Kind::Distributed),
    ("audit_log", Kind::Distributed),
    ("reprice_runs", Kind::Distributed),
    ("notify_schedule", Kind::Distributed),
    ("budget_reservations", Kind::Distributed),
    ("commitments", Kind::Distributed),
    ("contracts", Kind::Distributed),
    ("billing_imports", Kind::Distributed),
    ("billed_costs", Kind::Distributed),
    ("fx_rates", Kind::Distributed),
    ("tag_rankings", Kind::Distributed),
    ("tag_ranking_marks", Kind::Distributed),
    ("tag_late_writes", Kind::Distributed),
];

/// The migration that gives every tenant key its `workspace_id`: before it, the schema
/// cannot be distributed.
const SHARDING_KEYS: &str = "20261210000001";

/// Serialises [`distribute`] and [`undistribute`] between instances starting together.
const LOCK: i64 = 7_270_252;

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    yes: bool,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn flag(conn: &mut PgConnection, sql: &str) -> Result<bool, StoreError> {
    Ok(diesel::sql_query(sql).get_result::<Flag>(conn)?.yes)
}

/// Whether this database has the `citus` extension (is a cluster's coordinator).
pub fn is_cluster(conn: &mut PgConnection) -> Result<bool, StoreError> {
    flag(
        conn,
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS yes",
    )
}

/// `Ok` when this database is a coordinator with at least one worker, else why not
/// (what an operator does next).
pub fn ready(conn: &mut PgConnection) -> Result<(), StoreError> {
    if !is_cluster(conn)? {
        return Err(StoreError::Config(
            "this database has no citus extension: install Citus on the server \
             (shared_preload_libraries = 'citus'), CREATE EXTENSION citus in the database, \
             and add the workers (SELECT citus_add_node(host, port)) first"
                .into(),
        ));
    }
    let workers = flag(
        conn,
        "SELECT EXISTS (SELECT 1 FROM pg_dist_node WHERE groupid <> 0 \
         AND noderole = 'primary' AND isactive) AS yes",
    )?;
    if !workers {
        return Err(StoreError::Config(
            "the cluster has no active worker: add one with SELECT citus_add_node(host, port)"
                .into(),
        ));
    }
    Ok(())
}

/// The tables Citus already knows, with their kind.
pub fn kinds(conn: &mut PgConnection) -> Result<Vec<(String, Kind)>, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        method: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT logicalrelid::regclass::text AS name, partmethod::text AS method \
         FROM pg_dist_partition ORDER BY 1",
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let kind = if r.method == "h" {
                Kind::Distributed
            } else {
                Kind::Reference
            };
            (r.name, kind)
        })
        .collect())
}

fn sharding_keys_applied(conn: &mut PgConnection) -> Result<bool, StoreError> {
    flag(
        conn,
        &format!(
            "SELECT EXISTS (SELECT 1 FROM __diesel_schema_migrations \
             WHERE version = '{SHARDING_KEYS}') AS yes"
        ),
    )
}

/// Makes every table of [`TABLES`] that exists and is not yet known to Citus a
/// reference or distributed table (existing rows move to the shards); returns their
/// names. Nothing happens before the sharding-keys migration is applied.
pub fn distribute(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    if !sharding_keys_applied(conn)? {
        return Ok(Vec::new());
    }
    locked(conn, LOCK, |conn| {
        let known: Vec<String> = kinds(conn)?.into_iter().map(|(n, _)| n).collect();
        let present: Vec<String> = diesel::sql_query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'",
        )
        .load::<Name>(conn)?
        .into_iter()
        .map(|n| n.name)
        .collect();
        let pending: Vec<(&str, Kind)> = TABLES
            .iter()
            .filter(|(t, k)| {
                create(t, *k).is_some()
                    && !known.iter().any(|n| n == t)
                    && present.iter().any(|p| p == t)
            })
            .copied()
            .collect();
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        conn.transaction(|conn| {
            // Citus refuses a foreign key from a local table to a distributed one, so
            // the keys that touch a table still to move are set aside while the tables
            // move and put back after (checked again then).
            // One connection per worker for the whole transaction: it touches reference
            // tables after distributed ones, which Citus refuses over parallel ones.
            conn.batch_execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")?;
            let keys = foreign_keys_touching(conn, &pending)?;
            for key in &keys {
                conn.batch_execute(&format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    key.table, key.name
                ))?;
            }
            for sql in pending.iter().filter_map(|(t, k)| create(t, *k)) {
                conn.batch_execute(&sql)?;
            }
            for key in &keys {
                conn.batch_execute(&format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} {}",
                    key.table, key.name, key.definition
                ))?;
            }
            Ok(pending.iter().map(|(t, _)| (*t).to_string()).collect())
        })
    })
}

/// The statement that makes `table` a table of kind `kind` (none for a local one).
fn create(table: &str, kind: Kind) -> Option<String> {
    Some(match kind {
        Kind::Local => return None,
        Kind::Reference => format!("SELECT create_reference_table('{table}')"),
        Kind::Distributed if table == "events" => {
            "SELECT create_distributed_table('events', 'workspace_id')".to_string()
        }
        Kind::Distributed => format!(
            "SELECT create_distributed_table('{table}', 'workspace_id', \
             colocate_with => 'events')"
        ),
    })
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

/// The foreign keys from or to any of `tables`.
fn foreign_keys_touching(
    conn: &mut PgConnection,
    tables: &[(&str, Kind)],
) -> Result<Vec<ForeignKey>, StoreError> {
    let list: Vec<String> = tables.iter().map(|(t, _)| format!("'{t}'")).collect();
    let list = list.join(", ");
    Ok(diesel::sql_query(format!(
        "SELECT conrelid::regclass::text AS table, conname::text AS name, \
                pg_get_constraintdef(oid) AS definition \
         FROM pg_constraint \
         WHERE contype = 'f' AND connamespace = 'public'::regnamespace \
           AND (conrelid::regclass::text IN ({list}) OR confrelid::regclass::text IN ({list})) \
         ORDER BY 1, 2"
    ))
    .load(conn)?)
}

/// Turns every reference and distributed table back into a table of the coordinator
/// (its rows come back from the shards): what reverting a migration needs, since the
/// older schemas cannot be distributed.
pub fn undistribute(conn: &mut PgConnection) -> Result<(), StoreError> {
    locked(conn, LOCK, |conn| {
        // Children first: a table cannot leave while a distributed table points at it.
        for (table, _) in TABLES.iter().rev() {
            if kinds(conn)?.iter().any(|(n, _)| n == table) {
                conn.batch_execute(&format!(
                    "SELECT undistribute_table('{table}', cascade_via_foreign_keys => true)"
                ))?;
            }
        }
        Ok(())
    })
}

/// Runs `f` holding the advisory lock `key` of `conn`'s database.
fn locked<T>(
    conn: &mut PgConnection,
    key: i64,
    f: impl FnOnce(&mut PgConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.batch_execute(&format!("SELECT pg_advisory_lock({key})"))?;
    let out = f(conn);
    let unlocked = conn.batch_execute(&format!("SELECT pg_advisory_unlock({key})"));
    let out = out?;
    unlocked?;
    Ok(out)
}

/// Host and port of a `postgres://[user[:password]@]host[:port][/db]` server URL (5432
/// when it names none).
pub fn host_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.split(['/', '?']).next().unwrap_or(rest);
    match rest.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(5432)),
        None => (rest.to_owned(), 5432),
    }
}

/// Makes `name` on the server `server` (a node with Citus installed) with the extension;
/// its URL.
pub fn node_database(server: &str, name: &str) -> Result<String, StoreError> {
    crate::admin::execute(
        &crate::admin::with_database(server, "postgres"),
        &format!("CREATE DATABASE {name}"),
    )?;
    let url = crate::admin::with_database(server, name);
    crate::admin::execute(&url, "CREATE EXTENSION citus")?;
    Ok(url)
}

/// Makes a fresh database `name` a cluster of its own, for tests and benchmarks: the
/// database with the extension on the coordinator `server` and on each of `workers`
/// (servers with Citus installed), the workers registered, and `shard_count` shards per
/// distributed table when given (Citus's default, 32, otherwise). Its URL on the
/// coordinator. The database must not exist yet on any of them.
pub fn cluster_database(
    server: &str,
    workers: &[String],
    name: &str,
    shard_count: Option<u32>,
) -> Result<String, StoreError> {
    for worker in workers {
        node_database(worker, name)?;
    }
    let coordinator = node_database(server, name)?;
    let (host, port) = host_port(server);
    let mut sql = String::new();
    if let Some(n) = shard_count {
        sql.push_str(&format!(
            "ALTER DATABASE {name} SET citus.shard_count = {n};"
        ));
    }
    sql.push_str(&format!(
        "SELECT citus_set_coordinator_host('{host}', {port});"
    ));
    for worker in workers {
        let (host, port) = host_port(worker);
        sql.push_str(&format!("SELECT citus_add_node('{host}', {port});"));
    }
    // Nodes are added one database at a time: Citus propagates each node's roles with
    // statements that collide when two add at once. (An advisory lock is per database:
    // the coordinator's `postgres` holds it.)
    let mut postgres = PgConnection::establish(&crate::admin::with_database(server, "postgres"))?;
    locked(&mut postgres, NODES_LOCK, |_| {
        crate::admin::execute(&coordinator, &sql)
    })?;
    Ok(coordinator)
}

/// Serialises adding nodes between databases of one coordinator.
const NODES_LOCK: i64 = 7_270_251;
