//! Fresh, empty databases for one benchmark: an SQLite file in a temporary directory, or
//! a throwaway PostgreSQL database created through the admin connection and dropped
//! afterwards (as llmlab-store's `test_support` does for tests).

use std::path::{Path, PathBuf};

use llmlab_store::{Backend, admin};

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
                let v = admin::query_text("sqlite://:memory:", "SELECT sqlite_version() AS text")
                    .map_err(|e| format!("SQLite: {e}"))?;
                Ok(format!(
                    "SQLite {v} (the server sets WAL, synchronous=NORMAL, busy_timeout)"
                ))
            }
            Target::Postgres(server) => {
                let url = admin::with_database(&server.url, "postgres");
                let text =
                    |sql: &str| admin::query_text(&url, sql).map_err(|e| format!("{sql}: {e}"));
                let v = text("SELECT current_setting('server_version') AS text")?;
                let settings = text(
                    "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) \
                     AS text FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', \
                     'shared_buffers', 'max_connections')",
                )?;
                Ok(format!("PostgreSQL {v} ({settings})"))
            }
        }
    }
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
                let admin_url = admin::with_database(&server.url, "postgres");
                admin_execute(&admin_url, &format!("CREATE DATABASE {name}"))?;
                Ok(FreshDb {
                    url: admin::with_database(&server.url, &name),
                    dir,
                    pg: Some((admin_url, name)),
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
    admin::execute(admin_url, sql).map_err(|e| format!("{sql} on {admin_url}: {e}"))
}
