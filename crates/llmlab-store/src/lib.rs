//! LLMLab persistence: diesel over SQLite and PostgreSQL.
//!
//! The only crate that knows SQL. A [`Store`] holds an r2d2 pool of [`AnyConnection`]s;
//! the backend is chosen from the URL ([`DatabaseUrl::parse`]). Every method is
//! synchronous (wrap calls in `web::block` in async code), takes `&self`, and is scoped by
//! user where the data belongs to one. Each repository module also exposes the same
//! operations as functions over `&mut AnyConnection`, so they compose in one
//! [`Store::transaction`].
//!
//! Units: money is `i64` nano-dollars (`*_nanos`), prices `i64` micro-dollars per million
//! tokens (`*_micros`), event instants `i64` microseconds since the Unix epoch in UTC
//! (`ts`, `*_micros`, `period_start`), bookkeeping timestamps naive-UTC
//! [`NaiveDateTime`] truncated to microseconds.
//!
//! ```no_run
//! # fn main() -> Result<(), llmlab_store::StoreError> {
//! let store = llmlab_store::Store::connect("sqlite://llmlab-data/llmlab.db", 8)?;
//! let user = store.create_user(&llmlab_store::NewUser {
//!     email: "Ada@Example.com".into(),
//!     password_hash: "$2b$12$…".into(),
//! })?;
//! assert_eq!(user.email, "ada@example.com");
//! # Ok(()) }
//! ```

/// Runs the same source against the concrete connection of either backend, for the
/// queries diesel cannot build on [`AnyConnection`] (multi-row inserts, upserts, `IN`
/// lists). `$c` is `&mut PgConnection` in one arm and `&mut SqliteConnection` in the other.
macro_rules! with_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::AnyConnection::Postgresql($c) => $body,
            $crate::AnyConnection::Sqlite($c) => $body,
        }
    };
}

/// Writes [`Store`] methods that each run one of the module's functions over
/// `&mut AnyConnection` with a pooled connection, so the function and the method cannot
/// drift apart. `how` is the `Store` method that hands out the connection: `with_conn`
/// for reads, `write` or `transaction` for writes.
///
/// ```ignore
/// store_methods! {
///     /// See [`budgets::get`](get).
///     fn get_budget(workspace_id: WorkspaceId, id: BudgetId) -> BudgetRow = with_conn(get);
/// }
/// ```
macro_rules! store_methods {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $how:ident($func:path);
    )*) => {
        impl $crate::Store {
            $(
                $(#[$attr])*
                pub fn $name(&self, $($arg: $ty),*) -> Result<$ret, $crate::StoreError> {
                    self.$how(|c| $func(c, $($arg),*))
                }
            )*
        }
    };
}

pub mod admin;
pub mod alerts;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod budgets;
pub mod channels;
pub mod citus;
pub mod commitments;
mod conn;
pub mod contracts;
mod error;
pub mod events;
pub mod fx;
pub mod group_commit;
mod ids;
pub mod invitations;
pub mod ledger;
pub mod login_attempts;
mod migrations;
pub mod outbox;
pub mod prices;
pub mod recipients;
pub mod replica;
pub mod reservations;
pub mod retention;
pub mod rollups;
pub mod schedule;
pub mod schema;
pub mod send_quota;
mod sql;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
mod token_counts;
pub mod tokens;
pub mod users;
pub mod visits;
pub mod workspaces;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDateTime, Timelike, Utc};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{Pool, PooledConnection, R2D2Connection};

pub use alerts::{AlertDelivery, AlertRow, NewAlert};
pub use analytics::{
    DAY_MICROS, DailyModelRow, DailyTagRow, GroupTotals, ModelTotals, SenderTotals, SlotRow, Sums,
    TagBreakdown, TagRest, TagTotals, TokenMixRow, Totals,
};
pub use api_keys::{ApiKeyRow, NewApiKey, TOUCH_INTERVAL};
pub use audit::{Actor, AuditRow, NewAuditEntry};
pub use budgets::{BudgetRow, NewBudget};
pub use channels::{ChannelRow, NewChannel};
pub use conn::{AnyConnection, Backend, DatabaseUrl, statements_on_this_thread, write_tx};
pub use error::StoreError;
pub use events::{EventCursor, EventFilter, EventPage, EventRow, InsertOutcome, NewEvent, Sender};
pub use group_commit::GroupCommit;
pub use ids::{ApiKeyId, BudgetId, ChannelId, InvitationId, UserId, WorkspaceId};
pub use invitations::{InvitationRow, NewInvitation};
pub use migrations::migration_names;
pub use outbox::{NextStep, NotificationDeliveryRow, NotificationRow, delivery};
pub use prices::{CustomPriceRow, NewCustomPrice};
pub use recipients::RecipientRow;
pub use token_counts::{TokenCounts, UnitCounts};
pub use users::{NewUser, UserRow};
pub use workspaces::{MemberRow, Membership, Role, SessionState, WorkspaceRow};

use conn::{ConnectionManager, SqlitePragmas};

/// How long `Store` waits for a pooled connection before reporting
/// [`StoreError::Unavailable`].
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The database: a connection pool and the backend it talks to. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager>,
    backend: Backend,
    /// Shared with the pool's manager: see [`conn::PooledAny`].
    losses: Arc<AtomicU64>,
    /// SQLite admits one writer at a time. Writers of this process queue here, woken as
    /// soon as the previous one finishes, instead of polling the file lock through
    /// `busy_timeout`'s sleeps (which put tens of milliseconds on the tail under load).
    /// Other processes on the same file still wait through `busy_timeout`.
    writer: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `url` (see [`DatabaseUrl::parse`]) with a pool of up to `pool_size`
    /// connections and applies pending migrations.
    pub fn connect(url: &str, pool_size: u32) -> Result<Store, StoreError> {
        Store::connect_with(url, pool_size, DEFAULT_CONNECTION_TIMEOUT)
    }

    /// [`Store::connect`] with an explicit wait for a pooled connection.
    pub fn connect_with(
        url: &str,
        pool_size: u32,
        connection_timeout: Duration,
    ) -> Result<Store, StoreError> {
        let store = Store::open(url, pool_size, connection_timeout)?;
        let applied = store.migrate()?;
        if !applied.is_empty() {
            log::info!("applied migrations: {}", applied.join(", "));
        }
        Ok(store)
    }

    /// Builds the pool without touching the schema (for tools that manage migrations).
    pub fn open(
        url: &str,
        pool_size: u32,
        connection_timeout: Duration,
    ) -> Result<Store, StoreError> {
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend;
        if backend == Backend::Sqlite {
            create_parent_dir(&url.target)?;
        }
        let losses = Arc::new(AtomicU64::new(0));
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(connection_timeout)
            // No `SELECT 1` before every checkout (a round trip per query on PostgreSQL):
            // a connection that died fails its query, which reports `Unavailable`;
            // `with_conn` marks it lost, and the pool drops it (`has_broken`) and
            // connects afresh for the next caller.
            .test_on_check_out(false)
            .connection_customizer(Box::new(SqlitePragmas))
            .build(ConnectionManager {
                url,
                losses: losses.clone(),
            })?;
        Ok(Store {
            pool,
            backend,
            losses,
            writer: Arc::default(),
        })
    }

    /// The backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` with a pooled connection. When `f` reports the database unavailable,
    /// the connection is not handed out again.
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut pooled = self.checkout()?;
        let result = f(&mut pooled.conn);
        if let Err(StoreError::Unavailable(_)) = &result {
            pooled.lost = true;
            self.losses.fetch_add(1, Ordering::AcqRel);
        }
        result
    }

    /// A connection from the pool that has answered since the latest loss. After a
    /// database restart every idle connection is dead; each is pinged once and dropped
    /// here instead of failing a request.
    fn checkout(&self) -> Result<PooledConnection<ConnectionManager>, StoreError> {
        let mut attempts = self.pool.max_size() + 1;
        loop {
            let mut pooled = self.pool.get()?;
            let losses = self.losses.load(Ordering::Acquire);
            if pooled.checked_at_loss == losses {
                return Ok(pooled);
            }
            match pooled.conn.ping() {
                Ok(()) => {
                    pooled.checked_at_loss = losses;
                    return Ok(pooled);
                }
                Err(e) => {
                    pooled.lost = true;
                    attempts -= 1;
                    if attempts == 0 {
                        return Err(StoreError::Unavailable(e.to_string()));
                    }
                }
            }
        }
    }

    /// Runs `f`, which writes, with a pooled connection; on SQLite after the writers
    /// of this process ahead of it.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _turn = match self.backend {
            Backend::Sqlite => Some(self.writer.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        self.with_conn(f)
    }

    /// Runs `f` in one write transaction (see [`write_tx`]): committed when it returns
    /// `Ok`, rolled back otherwise.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|c| write_tx(c, f))
    }

    /// Applies pending migrations; returns the names of those applied, oldest first.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        self.with_conn(migrations::run_pending)
    }

    /// Reverts the most recent migration; returns its name, or `None` if none is applied.
    pub fn revert_last(&self) -> Result<Option<String>, StoreError> {
        self.with_conn(migrations::revert_last)
    }

    /// Checks that the database answers (for health endpoints).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(|c| Ok(c.batch_execute("SELECT 1")?))
    }

    /// Migrations of this build the database has not applied.
    pub fn pending_migrations(&self) -> Result<usize, StoreError> {
        self.with_conn(migrations::pending_count)
    }
}

/// Connects to `url` with a single connection and applies pending migrations; returns
/// the names applied (for `cargo xtask migrate`).
pub fn run_migrations(url: &str) -> Result<Vec<String>, StoreError> {
    Store::open(url, 1, DEFAULT_CONNECTION_TIMEOUT)?.migrate()
}

/// Connects to `url` and reverts the most recent migration; returns its name, or nothing
/// when no migration is applied (for `cargo xtask migrate --revert`).
pub fn revert_last_migration(url: &str) -> Result<Vec<String>, StoreError> {
    Ok(Store::open(url, 1, DEFAULT_CONNECTION_TIMEOUT)?
        .revert_last()?
        .into_iter()
        .collect())
}

/// Makes the PostgreSQL database at `url`, whose server is a Citus coordinator with
/// its workers added, a distributed one: applies pending migrations, then moves every
/// table to its kind ([`citus::TABLES`]), existing rows included. Returns the tables
/// Citus holds and their kind (for `cargo xtask distribute`).
pub fn distribute(url: &str) -> Result<Vec<(String, citus::Kind)>, StoreError> {
    let store = Store::open(url, 1, DEFAULT_CONNECTION_TIMEOUT)?;
    store.with_conn(|c| {
        match c {
            AnyConnection::Postgresql(pg) => citus::ready(pg)?,
            AnyConnection::Sqlite(_) => {
                return Err(StoreError::Config(
                    "only a PostgreSQL database can be distributed".into(),
                ));
            }
        }
        // On a coordinator, migrating distributes what is not yet distributed.
        migrations::run_pending(c)?;
        match c {
            AnyConnection::Postgresql(pg) => citus::kinds(pg),
            AnyConnection::Sqlite(_) => Ok(Vec::new()),
        }
    })
}

/// Creates the directory that will hold the SQLite file `path`, if missing.
fn create_parent_dir(path: &str) -> Result<(), StoreError> {
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

/// The current time as naive UTC, truncated to microseconds (what both backends keep).
pub fn now_utc() -> NaiveDateTime {
    truncate_micros(Utc::now().naive_utc())
}

/// Truncates `t` to whole microseconds, so PostgreSQL and SQLite store the same value.
pub fn truncate_micros(t: NaiveDateTime) -> NaiveDateTime {
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}
