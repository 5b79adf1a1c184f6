//! The store's one error type and how diesel and r2d2 errors map onto it.

use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};

/// Everything that can go wrong in the store.
///
/// The server maps `NotFound` to 404, `Conflict` to 409, `Unavailable` to 503 and the
/// rest to 500.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The configuration is unusable, e.g. an unsupported database URL scheme.
    #[error("configuration error: {0}")]
    Config(String),
    /// The database cannot be reached right now (pool timeout, connection refused or
    /// lost, SQLite locked for longer than the busy timeout). Retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The row does not exist, or it belongs to another user.
    #[error("not found")]
    NotFound,
    /// A uniqueness constraint refused the write (an email or a budget name already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A write would take an account past a ceiling that keeps its sums exact (see
    /// `rollups::LEDGER_CEILING`); nothing of it was stored.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// A write names a row that no longer exists (a foreign key refused it): the
    /// workspace, budget or channel it belongs to was deleted meanwhile. Nothing of it
    /// was stored.
    #[error("gone: {0}")]
    Gone(String),
    /// A workspace's allowance for the current window is used up (see `send_quota`);
    /// nothing of the transaction was written.
    #[error("{kind} allowance used up; retry in {retry_after_secs} s")]
    RateLimited {
        /// Which allowance (`send_quota::kind`).
        kind: &'static str,
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// Any other database error.
    #[error("query failed: {0}")]
    Query(String),
    /// Applying or reverting a migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Whether a database error message means the connection itself is gone: this
/// process's to the database, or on a Citus cluster the coordinator's to a worker.
fn is_connection_loss(message: &str) -> bool {
    const MARKERS: [&str; 9] = [
        "server closed the connection",
        "no connection to the server",
        "terminating connection",
        "connection refused",
        "could not connect",
        "database is locked",
        "connection to the remote node",
        "marked as essential",
        "could not establish any connections",
    ];
    let message = message.to_ascii_lowercase();
    MARKERS.iter().any(|m| message.contains(m))
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => StoreError::Conflict(info.message().into()),
                DatabaseErrorKind::ForeignKeyViolation => StoreError::Gone(info.message().into()),
                DatabaseErrorKind::CheckViolation => {
                    StoreError::LimitExceeded(info.message().into())
                }
                // PostgreSQL's "bigint out of range" (SQLSTATE 22003) from a running
                // total; no other write adds to a stored number.
                _ if info.message().contains("out of range") => {
                    StoreError::LimitExceeded(info.message().into())
                }
                DatabaseErrorKind::ClosedConnection => {
                    StoreError::Unavailable(info.message().into())
                }
                _ if is_connection_loss(info.message()) => {
                    StoreError::Unavailable(info.message().into())
                }
                _ => StoreError::Query(info.message().into()),
            },
            DieselError::BrokenTransactionManager => {
                StoreError::Unavailable("connection broken during a transaction".into())
            }
            other => StoreError::Query(other.to_string()),
        }
    }
}

impl From<ConnectionError> for StoreError {
    fn from(error: ConnectionError) -> Self {
        match error {
            ConnectionError::InvalidConnectionUrl(m) => StoreError::Config(m),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(error: r2d2::Error) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}
