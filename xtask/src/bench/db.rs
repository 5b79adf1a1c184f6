//! Fresh, empty databases for one benchmark: an SQLite file in a temporary directory, or
//! a throwaway PostgreSQL database created through the admin connection and dropped
//! afterwards (as llmlab-store's `test_support` does for tests).

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::{PgConnection, SqliteConnection};
use llmlab_store::Backend;

use crate::Result;
use crate::pg::PgServer;

/// A directory removed, with everything in it, when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!(
            "llmlab-bench-{label}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where fresh databases of one backend are made.
pub enum Target<'a> {
    Sqlite,
    Postgres(&'a PgServer),
}

impl Target<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Target::Sqlite => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database's version and the settings that weigh on write speed, for the report.
    pub fn describe(&self) -> Result<String> {
        match self {
            Target::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(":memory:").map_err(|e| format!("SQLite: {e}"))?;
                let v = single_text(&mut conn, "SELECT sqlite_version() AS text")?;
                Ok(format!(
                    "SQLite {v} (the server sets WAL, synchronous=NORMAL, busy_timeout)"
                ))
            }
            Target::Postgres(server) => {
                let admin = with_database(&server.url, "postgres");
                let mut conn = PgConnection::establish(&admin)
                    .map_err(|e| format!("cannot connect to {admin}: {e}"))?;
                let v = single_text(
                    &mut conn,
                    "SELECT current_setting('server_version') AS text",
                )?;
                let settings = single_text(
                    &mut conn,
                    "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) \
                     AS text FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', \
                     'shared_buffers', 'max_connections')",
                )?;
                Ok(format!("PostgreSQL {v} ({settings})"))
            }
        }
    }
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    text: String,
}

/// The one text value `sql` (which names its column `text`) returns.
fn single_text<C>(conn: &mut C, sql: &str) -> Result<String>
where
    C: Connection,
    TextRow: QueryableByName<C::Backend>,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, TextRow>,
{
    diesel::sql_query(sql)
        .get_result::<TextRow>(conn)
        .map(|r| r.text)
        .map_err(|e| format!("{sql}: {e}"))
}

pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// An empty database (not yet migrated), deleted when dropped.
pub struct FreshDb {
    pub url: String,
    /// SQLite: holds the file. Also where the server's log goes.
    pub dir: TempDir,
    /// PostgreSQL: the admin URL and the database name, to drop it.
    pg: Option<(String, String)>,
}

impl FreshDb {
    pub fn create(target: &Target<'_>, label: &str) -> Result<FreshDb> {
        let dir = TempDir::new(label)?;
        match target {
            Target::Sqlite => Ok(FreshDb {
                url: format!("sqlite://{}", dir.path().join("llmlab.db").display()),
                dir,
                pg: None,
            }),
            Target::Postgres(server) => {
                let name = format!("llmlab_bench_{label}_{:08x}", rand::random::<u32>());
                let admin = with_database(&server.url, "postgres");
                admin_execute(&admin, &format!("CREATE DATABASE {name}"))?;
                Ok(FreshDb {
                    url: with_database(&server.url, &name),
                    dir,
                    pg: Some((admin, name)),
                })
            }
        }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg {
            // FORCE: a killed server may leave connections behind for a moment.
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = admin_execute(admin, &sql) {
                eprintln!("xtask: could not drop the benchmark database {name}: {e}");
            }
        }
    }
}

fn admin_execute(admin_url: &str, sql: &str) -> Result<()> {
    let mut conn = PgConnection::establish(admin_url)
        .map_err(|e| format!("cannot connect to {admin_url}: {e}"))?;
    conn.batch_execute(sql)
        .map_err(|e| format!("{sql} on {admin_url}: {e}"))
}

/// `server` (a PostgreSQL URL, with or without a database) pointing at database `db`.
fn with_database(server: &str, db: &str) -> String {
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

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_in_a_url() {
        for (server, expected) in [
            ("postgres://u@h:5432", "postgres://u@h:5432/x"),
            ("postgres://u@h/old", "postgres://u@h/x"),
            (
                "postgres://u:p@h/old?sslmode=disable",
                "postgres://u:p@h/x?sslmode=disable",
            ),
        ] {
            assert_eq!(super::with_database(server, "x"), expected);
        }
    }
}
