//! Fresh, empty databases for one benchmark: an SQLite file in a temporary directory, or
//! a throwaway PostgreSQL database created through the admin connection and dropped
//! afterwards (as llmlab-store's `test_support` does for tests).

use std::path::{Path, PathBuf};

use llmlab_store::{Backend, admin};

use crate::Result;
use crate::pg::PgServer;
use crate::pg::citus::Cluster;

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
    /// Each database a cluster of its own on these nodes, 32 shards per table.
    Citus(&'a Cluster),
}

impl Target<'_> {
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
            Target::Postgres(server) => describe_postgres(&server.url),
            Target::Citus(cluster) => {
                let url = admin::with_database(&cluster.coordinator, "postgres");
                let pg = describe_postgres(&cluster.coordinator)?;
                let version = admin::query_text(
                    &url,
                    "SELECT default_version AS text FROM pg_available_extensions \
                     WHERE name = 'citus'",
                )
                .map_err(|e| format!("the Citus version: {e}"))?;
                Ok(format!(
                    "Citus {version}: a coordinator and {} workers, each {pg}, all on this \
                     machine's loopback; 32 shards per distributed table",
                    cluster.workers.len()
                ))
            }
        }
    }
}

/// A PostgreSQL server's version and the settings that weigh on write speed.
fn describe_postgres(server: &str) -> Result<String> {
    let url = admin::with_database(server, "postgres");
    let text = |sql: &str| admin::query_text(&url, sql).map_err(|e| format!("{sql}: {e}"));
    let v = text("SELECT current_setting('server_version') AS text")?;
    let settings = text(
        "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) \
         AS text FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', \
         'shared_buffers', 'max_connections')",
    )?;
    Ok(format!("PostgreSQL {v} ({settings})"))
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
    /// PostgreSQL: the admin URL of each server holding it (a cluster's coordinator
    /// first) and the database name, to drop it.
    pg: Option<(Vec<String>, String)>,
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
                    pg: Some((vec![admin_url], name)),
                })
            }
            Target::Citus(cluster) => {
                let name = format!("llmlab_bench_{label}_{:08x}", rand::random::<u32>());
                let servers = std::iter::once(&cluster.coordinator).chain(&cluster.workers);
                let admins = servers
                    .map(|s| admin::with_database(s, "postgres"))
                    .collect();
                // Dropped from every node, also when making it fails half-way.
                let mut db = FreshDb {
                    url: String::new(),
                    dir,
                    pg: Some((admins, name.clone())),
                };
                db.url = llmlab_store::citus::cluster_database(
                    &cluster.coordinator,
                    &cluster.workers,
                    &name,
                    None,
                )
                .map_err(|e| format!("a Citus database {name}: {e}"))?;
                Ok(db)
            }
        }
    }
}

impl FreshDb {
    /// The database on each server holding it (a cluster's coordinator first); none for
    /// SQLite.
    pub fn node_urls(&self) -> Vec<String> {
        self.pg.as_ref().map_or_else(Vec::new, |(admins, name)| {
            admins
                .iter()
                .map(|a| admin::with_database(a, name))
                .collect()
        })
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Some((admins, name)) = &self.pg {
            // FORCE: a killed server may leave connections behind for a moment.
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            for admin in admins {
                if let Err(e) = admin_execute(admin, &sql) {
                    eprintln!("xtask: could not drop the benchmark database {name}: {e}");
                }
            }
        }
    }
}

fn admin_execute(admin_url: &str, sql: &str) -> Result<()> {
    admin::execute(admin_url, sql).map_err(|e| format!("{sql} on {admin_url}: {e}"))
}
