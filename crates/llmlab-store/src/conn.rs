//! Connections: the backend chosen from the URL, the pool, SQLite's pragmas, and the
//! helpers that run backend-specific SQL and write transactions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{CustomizeConnection, ManageConnection, R2D2Connection};
use diesel::result::ConnectionError;
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::StoreError;

thread_local! {
    static STATEMENTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many statements this thread has sent through the store's connections so far. A
/// caller measures its own work as the difference across it (the notification tick's
/// statements per tick): a pooled connection is used on the caller's thread.
pub fn statements_on_this_thread() -> u64 {
    STATEMENTS.with(std::cell::Cell::get)
}

fn count_statement(event: diesel::connection::InstrumentationEvent<'_>) {
    if let diesel::connection::InstrumentationEvent::StartQuery { .. } = event {
        STATEMENTS.with(|n| n.set(n.get() + 1));
    }
}

/// A connection to either backend. Queries that compile for both run on it directly;
/// the rest match on the variant (see `with_backend!`).
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL (first: `establish` tries variants in order and SQLite accepts any string).
    Postgresql(PgConnection),
    /// SQLite.
    Sqlite(SqliteConnection),
}

/// The database engine behind a [`Store`](crate::Store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An SQLite file (the embedded default).
    Sqlite,
    /// A PostgreSQL server (production).
    Postgres,
}

impl AnyConnection {
    /// Which backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Postgresql(_) => Backend::Postgres,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// On SQLite a deferred transaction that reads before it writes fails with `SQLITE_BUSY`
/// when another writer commits in between, without waiting for `busy_timeout`; `BEGIN
/// IMMEDIATE` takes the lock up front (and waits for it). Nested calls become savepoints.
pub fn write_tx<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let AnyConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    let depth = AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        .transaction_depth()
        .map_err(StoreError::from)?;
    if depth.is_some() {
        return conn.transaction(f);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => {
            AnyConnection::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            AnyConnection::rollback_transaction(conn)?;
            Err(error)
        }
    }
}

/// A parsed database URL: the backend and the string handed to its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// The backend selected by the URL scheme.
    pub backend: Backend,
    /// For PostgreSQL the URL itself; for SQLite the file path.
    pub target: String,
}

impl DatabaseUrl {
    /// Parses `postgres://…` / `postgresql://…` (PostgreSQL), `sqlite://path`,
    /// `sqlite:path` or a plain file path (SQLite). Any other scheme is a
    /// [`StoreError::Config`].
    pub fn parse(url: &str) -> Result<DatabaseUrl, StoreError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::Config("the database URL is empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl {
                backend: Backend::Postgres,
                target: url.into(),
            });
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if let Some(scheme) = scheme_of(url) {
            return Err(StoreError::Config(format!(
                "unsupported database URL scheme '{scheme}:': use postgres://user@host/db, \
                 postgresql://…, sqlite://path/to/file.db or a plain file path"
            )));
        } else {
            url
        };
        if path.is_empty() {
            return Err(StoreError::Config(format!(
                "the SQLite URL '{url}' has no file path"
            )));
        }
        Ok(DatabaseUrl {
            backend: Backend::Sqlite,
            target: path.into(),
        })
    }
}

/// The scheme of `url` when it starts like one (`letters:`), per RFC 3986.
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        // a one-letter "scheme" is a Windows drive letter
        && scheme.len() > 1;
    valid.then_some(scheme)
}

/// A pooled connection, whether a query on it reported the server gone, and the last
/// loss it is known to have survived.
///
/// diesel's own `is_broken` only looks at the transaction manager: a PostgreSQL
/// connection whose backend was terminated outside a transaction looks healthy, and the
/// pool would hand it out again after the database is back, failing one request per
/// dead connection. So the store marks a connection `lost` when a query on it reports
/// [`StoreError::Unavailable`] (the pool drops it on return) and counts the loss; a
/// connection older than the latest loss answers a ping before its next use.
pub(crate) struct PooledAny {
    pub(crate) conn: AnyConnection,
    pub(crate) lost: bool,
    pub(crate) checked_at_loss: u64,
}

/// The r2d2 connection manager: opens the backend the URL named (never guessing from the string).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionManager {
    pub(crate) url: DatabaseUrl,
    /// How many times a connection of this pool has been found lost.
    pub(crate) losses: Arc<AtomicU64>,
}

impl ManageConnection for ConnectionManager {
    type Connection = PooledAny;
    type Error = ConnectionError;

    fn connect(&self) -> Result<PooledAny, ConnectionError> {
        let mut conn = match self.url.backend {
            Backend::Postgres => {
                AnyConnection::Postgresql(PgConnection::establish(&self.url.target)?)
            }
            Backend::Sqlite => {
                AnyConnection::Sqlite(SqliteConnection::establish(&self.url.target)?)
            }
        };
        conn.set_instrumentation(count_statement);
        Ok(PooledAny {
            conn,
            lost: false,
            checked_at_loss: self.losses.load(Ordering::Acquire),
        })
    }

    fn is_valid(&self, pooled: &mut PooledAny) -> Result<(), ConnectionError> {
        pooled
            .conn
            .ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, pooled: &mut PooledAny) -> bool {
        pooled.lost || pooled.conn.is_broken()
    }
}

/// Sets SQLite's pragmas on every new pooled connection (no-op on PostgreSQL).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlitePragmas;

impl CustomizeConnection<PooledAny, ConnectionError> for SqlitePragmas {
    fn on_acquire(&self, pooled: &mut PooledAny) -> Result<(), ConnectionError> {
        if let AnyConnection::Sqlite(c) = &mut pooled.conn {
            // busy_timeout first: switching to WAL itself may have to wait for a lock.
            // A 16 MiB page cache and 256 MiB of memory-mapped reads per connection: the
            // defaults (2 MiB, no mmap) re-read index pages from the file at a million events.
            c.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA cache_size = -16384; PRAGMA mmap_size = 268435456;",
            )
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let pg = DatabaseUrl::parse("postgres://u@h/db").map(|u| u.backend);
        assert!(matches!(pg, Ok(Backend::Postgres)));
        let pg = DatabaseUrl::parse("postgresql://u@h/db").map(|u| u.backend);
        assert!(matches!(pg, Ok(Backend::Postgres)));
        for (url, path) in [
            ("sqlite://data/x.db", "data/x.db"),
            ("sqlite:///abs/x.db", "/abs/x.db"),
            ("sqlite:x.db", "x.db"),
            ("x.db", "x.db"),
            ("./dir/x.db", "./dir/x.db"),
            ("/abs/x.db", "/abs/x.db"),
        ] {
            let parsed = DatabaseUrl::parse(url).expect(url);
            assert_eq!(
                (parsed.backend, parsed.target.as_str()),
                (Backend::Sqlite, path)
            );
        }
        for bad in [
            "mysql://u@h/db",
            "http://x",
            "",
            "sqlite://",
            "mongodb+srv://x",
        ] {
            assert!(
                matches!(DatabaseUrl::parse(bad), Err(StoreError::Config(_))),
                "{bad}"
            );
        }
    }
}
