//! Raw SQL for operators' tools (the benchmarks, database set-up): one connection from a
//! URL, outside the pool, so tools that must run statements of their own (creating a
//! database, `VACUUM ANALYZE`, a scratch table) need no database driver of their own.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::{Backend, DatabaseUrl, Store, StoreError};

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    text: String,
}

/// Runs `sql` (one or more statements, no results) on a new connection to `url`.
pub fn execute(url: &str, sql: &str) -> Result<(), StoreError> {
    let url = DatabaseUrl::parse(url)?;
    match url.backend {
        Backend::Postgres => PgConnection::establish(&url.target)?.batch_execute(sql)?,
        Backend::Sqlite => SqliteConnection::establish(&url.target)?.batch_execute(sql)?,
    }
    Ok(())
}

/// The one text value `sql` returns, from a column named `text`, on a new connection to
/// `url` (`sqlite://:memory:` for SQLite's own facts).
pub fn query_text(url: &str, sql: &str) -> Result<String, StoreError> {
    let url = DatabaseUrl::parse(url)?;
    let row: TextRow = match url.backend {
        Backend::Postgres => {
            diesel::sql_query(sql).get_result(&mut PgConnection::establish(&url.target)?)?
        }
        Backend::Sqlite => {
            diesel::sql_query(sql).get_result(&mut SqliteConnection::establish(&url.target)?)?
        }
    };
    Ok(row.text)
}

/// `server` (a PostgreSQL URL, with or without a database) pointing at database `db`.
pub fn with_database(server: &str, db: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl Store {
    /// Runs `sql` (statements without results) on a pooled connection.
    pub fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        self.with_conn(|c| Ok(c.batch_execute(sql)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_in_a_url() {
        for (server, expected) in [
            ("postgres://u@h:5432", "postgres://u@h:5432/x"),
            ("postgres://u@h:5432/", "postgres://u@h:5432/x"),
            ("postgres://u@h/old", "postgres://u@h/x"),
            (
                "postgres://u:p@h/old?sslmode=disable",
                "postgres://u:p@h/x?sslmode=disable",
            ),
        ] {
            assert_eq!(with_database(server, "x"), expected);
        }
    }

    #[test]
    fn sqlite_answers_text_queries() {
        let v = query_text("sqlite://:memory:", "SELECT sqlite_version() AS text")
            .expect("sqlite version");
        assert!(v.starts_with('3'), "{v}");
        execute(
            "sqlite://:memory:",
            "CREATE TABLE t (x INTEGER); DROP TABLE t;",
        )
        .expect("statements run");
    }
}
