//! Embedded migrations, one folder per backend with the same migration names.

use diesel::migration::{MigrationSource, MigrationVersion};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{AnyConnection, Backend, StoreError};

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// `(version, name)` of each migration embedded for `backend`, oldest first.
fn embedded(backend: Backend) -> Vec<(String, String)> {
    let source = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    // The SQL is per folder; listing it does not depend on the backend type parameter.
    let mut list: Vec<(String, String)> = MigrationSource::<diesel::pg::Pg>::migrations(&source)
        .map(|all| {
            all.iter()
                .map(|m| (m.name().version().to_string(), m.name().to_string()))
                .collect()
        })
        .unwrap_or_default();
    list.sort();
    list
}

/// The names (folder names, e.g. `2026-11-27-000001_init`) of the migrations embedded
/// for `backend`, oldest first.
pub fn migration_names(backend: Backend) -> Vec<String> {
    embedded(backend)
        .into_iter()
        .map(|(_, name)| name)
        .collect()
}

/// The migration name of `version` (the version itself if unknown).
fn name_of(backend: Backend, version: &MigrationVersion<'_>) -> String {
    let version = version.to_string();
    embedded(backend)
        .into_iter()
        .find(|(v, _)| *v == version)
        .map_or(version, |(_, name)| name)
}

fn migration_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Migration(error.to_string())
}

/// Applies every pending migration; returns the names of those applied, oldest first.
pub fn run_pending(conn: &mut AnyConnection) -> Result<Vec<String>, StoreError> {
    let backend = conn.backend();
    let applied = match conn {
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES),
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE),
    }
    .map_err(migration_error)?;
    let names = applied.iter().map(|v| name_of(backend, v)).collect();
    if let AnyConnection::Postgresql(c) = conn
        && crate::citus::is_cluster(c)?
    {
        let tables = crate::citus::distribute(c)?;
        if !tables.is_empty() {
            log::info!("distributed on the cluster: {}", tables.join(", "));
        }
    }
    Ok(names)
}

/// How many of the embedded migrations the database has not applied (0 when its
/// schema is this build's).
pub fn pending_count(conn: &mut AnyConnection) -> Result<usize, StoreError> {
    let pending = match conn {
        AnyConnection::Postgresql(c) => c.pending_migrations(POSTGRES).map(|p| p.len()),
        AnyConnection::Sqlite(c) => c.pending_migrations(SQLITE).map(|p| p.len()),
    }
    .map_err(migration_error)?;
    Ok(pending)
}

/// Reverts the most recently applied migration; returns its name, or `None` when
/// nothing is applied.
pub fn revert_last(conn: &mut AnyConnection) -> Result<Option<String>, StoreError> {
    let backend = conn.backend();
    let applied = match conn {
        AnyConnection::Postgresql(c) => c.applied_migrations(),
        AnyConnection::Sqlite(c) => c.applied_migrations(),
    }
    .map_err(migration_error)?;
    if applied.is_empty() {
        return Ok(None);
    }
    // Older schemas cannot be distributed: the tables come back to the coordinator for
    // the revert and are distributed again when the schema still allows it.
    let cluster = match conn {
        AnyConnection::Postgresql(c) => crate::citus::is_cluster(c)?,
        AnyConnection::Sqlite(_) => false,
    };
    if let (true, AnyConnection::Postgresql(c)) = (cluster, &mut *conn) {
        crate::citus::undistribute(c)?;
    }
    let reverted = match conn {
        AnyConnection::Postgresql(c) => c.revert_last_migration(POSTGRES),
        AnyConnection::Sqlite(c) => c.revert_last_migration(SQLITE),
    }
    .map_err(migration_error)?;
    let name = name_of(backend, &reverted);
    if let (true, AnyConnection::Postgresql(c)) = (cluster, &mut *conn) {
        crate::citus::distribute(c)?;
    }
    Ok(Some(name))
}
