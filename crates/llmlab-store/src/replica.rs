//! A PostgreSQL streaming replica read by reports: a pool opened without migrations (a
//! standby is read-only, and its schema is whatever the primary replicated) and the one
//! question asked of it, how far its replay is behind.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{CustomizeConnection, NopErrorHandler, Pool};
use diesel::result::ConnectionError;
use diesel::{QueryableByName, RunQueryDsl};

use crate::conn::{ConnectionManager, PooledAny};
use crate::{AnyConnection, Backend, DatabaseUrl, Store, StoreError};

/// How far replay is behind, in milliseconds.
///
/// Nothing received but not yet replayed is no lag at all, however old the last replayed
/// transaction: an idle primary sends nothing, and its replica must not look stale for
/// it. Otherwise the lag is the age of the last replayed transaction. `NULL` when that is
/// unknown (WAL pending and nothing replayed since the standby started). A server that
/// is not in recovery (a URL that names a primary) has no lag.
const LAG_SQL: &str = "SELECT CASE \
     WHEN NOT pg_is_in_recovery() THEN 0::float8 \
     WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8 \
     ELSE (EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8 \
     END AS lag_ms";

#[derive(QueryableByName)]
struct Lag {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
    lag_ms: Option<f64>,
}

/// Makes every transaction of a replica connection read-only: a standby refuses writes
/// anyway, and a read URL that names a writable server by mistake must not become a
/// second way to write.
#[derive(Debug, Clone, Copy)]
struct ReadOnlySession;

impl CustomizeConnection<PooledAny, ConnectionError> for ReadOnlySession {
    fn on_acquire(&self, pooled: &mut PooledAny) -> Result<(), ConnectionError> {
        pooled
            .conn
            .batch_execute("SET default_transaction_read_only = on")
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }
}

impl Store {
    /// A pool on the PostgreSQL replica at `url`, for reads only: no migration runs
    /// (they arrive by replication) and every session is read-only. Nothing connects
    /// here, so an unreachable replica does not stop a start; its first query reports
    /// [`StoreError::Unavailable`] instead. Connection failures are not logged by the
    /// pool: the caller that judges the replica says when it is gone.
    pub fn open_read_only(
        url: &str,
        pool_size: u32,
        connection_timeout: Duration,
    ) -> Result<Store, StoreError> {
        let url = DatabaseUrl::parse(url)?;
        if url.backend != Backend::Postgres {
            return Err(StoreError::Config(
                "a read replica must be a PostgreSQL URL (postgres://…)".into(),
            ));
        }
        let losses = Arc::new(AtomicU64::new(0));
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            // No idle connection kept open for its own sake: the pool would retry an
            // unreachable replica in the background forever.
            .min_idle(Some(0))
            .connection_timeout(connection_timeout)
            .test_on_check_out(false)
            .error_handler(Box::new(NopErrorHandler))
            .connection_customizer(Box::new(ReadOnlySession))
            .build_unchecked(ConnectionManager {
                url,
                losses: losses.clone(),
            });
        Ok(Store {
            pool,
            backend: Backend::Postgres,
            losses,
            writer: Arc::default(),
        })
    }

    /// How far this store's server replays behind its primary, in milliseconds (see
    /// [`LAG_SQL`]); `None` when it cannot tell. One round trip.
    pub fn replica_lag_ms(&self) -> Result<Option<u64>, StoreError> {
        self.with_conn(|c| {
            let AnyConnection::Postgresql(pg) = c else {
                return Err(StoreError::Config(
                    "replication lag is a PostgreSQL question".into(),
                ));
            };
            let lag: Lag = diesel::sql_query(LAG_SQL).get_result(pg)?;
            // A clock step on the primary can make the age negative: no lag, then.
            Ok(lag.lag_ms.map(|ms| ms.max(0.0) as u64))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_is_a_replica() {
        for url in ["sqlite://x.db", "x.db", "mysql://h/db"] {
            let opened = Store::open_read_only(url, 1, Duration::from_millis(100));
            assert!(matches!(opened, Err(StoreError::Config(_))), "{url}");
        }
    }

    #[test]
    fn an_unreachable_replica_opens_and_then_reports_unavailable() {
        // Port 9 (discard) on loopback: nothing listens there in a test environment.
        let store = Store::open_read_only(
            "postgres://postgres@127.0.0.1:9/none",
            1,
            Duration::from_millis(200),
        )
        .expect("opening does not connect");
        assert!(matches!(
            store.replica_lag_ms(),
            Err(StoreError::Unavailable(_))
        ));
    }

    #[test]
    fn a_primary_has_no_lag() {
        crate::test_support::run(Backend::Postgres, |db, _| {
            let store = Store::open_read_only(db.url(), 1, Duration::from_secs(5))
                .expect("a PostgreSQL URL");
            assert_eq!(store.replica_lag_ms().expect("lag"), Some(0));
        });
    }
}
