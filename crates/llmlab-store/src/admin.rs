//! Raw SQL for operators' tools (the benchmarks, database set-up, backups): one
//! connection from a URL, outside the pool, so tools that must run statements of their own
//! (creating a database, `VACUUM ANALYZE`, a scratch table) need no database driver of
//! their own.
//!
//! Backups live here too, PostgreSQL's included: its consistent copy is `pg_dump`'s
//! snapshot, so the store spawns PostgreSQL's own client tools rather than reading tables
//! itself, and `cargo xtask backup|restore` and the restore test call the same functions.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Why a backup or a restore did not happen, in words for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(String);

impl From<StoreError> for BackupError {
    fn from(e: StoreError) -> Self {
        BackupError(e.to_string())
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> BackupError {
    BackupError(format!("{what} {}: {e}", path.display()))
}

/// How long a backup's SQLite connection waits for a writer's lock (it needs one only to
/// open the file; `VACUUM INTO` itself reads in a WAL snapshot beside running writers).
const SQLITE_BUSY_MS: u32 = 10_000;

/// The file's first bytes for each format, so a restore refuses the wrong kind of file
/// before it touches a database.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const PG_DUMP_MAGIC: &[u8] = b"PGDMP";

/// Writes a consistent copy of the database at `url` to `out` while it keeps serving:
/// SQLite with `VACUUM INTO` (one read transaction: every commit before it, none after),
/// PostgreSQL with `pg_dump --format=custom` (one snapshot). The copy is written beside
/// `out` and renamed into place, so `out` is never a half-written backup. Returns its size
/// in bytes.
pub fn backup(url: &str, out: &Path) -> Result<u64, BackupError> {
    let url = DatabaseUrl::parse(url)?;
    if out.exists() {
        return Err(BackupError(format!(
            "{} already exists: choose a new file (a backup never overwrites one)",
            out.display()
        )));
    }
    let partial = partial_path(out);
    let _ = std::fs::remove_file(&partial);
    let written = match url.backend {
        Backend::Sqlite => backup_sqlite(&url.target, &partial),
        Backend::Postgres => backup_postgres(&url.target, &partial),
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, out).map_err(|e| io_error("cannot move the backup to", out, e))?;
    let size = std::fs::metadata(out).map_err(|e| io_error("cannot read", out, e))?;
    Ok(size.len())
}

fn backup_sqlite(db: &str, out: &Path) -> Result<(), BackupError> {
    // Opening a missing file would create an empty database and back that up.
    if !Path::new(db).is_file() {
        return Err(BackupError(format!("no SQLite database at {db}")));
    }
    let target = out
        .to_str()
        .ok_or_else(|| BackupError(format!("{} is not UTF-8", out.display())))?;
    let mut conn = SqliteConnection::establish(db).map_err(StoreError::from)?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {SQLITE_BUSY_MS}; VACUUM INTO '{}'",
        target.replace('\'', "''")
    ))
    .map_err(|e| BackupError(format!("VACUUM INTO {target}: {e}")))
}

fn backup_postgres(url: &str, out: &Path) -> Result<(), BackupError> {
    let mut cmd = pg_tool("pg_dump", url)?;
    cmd.args(["--format=custom", "--file"]).arg(out);
    run_tool(cmd, "pg_dump")
}

/// Restores the backup `from` into the database at `url`. SQLite: the file is checked
/// and copied into place (the server must be stopped); an existing non-empty database is
/// replaced only with `force`. PostgreSQL: `pg_restore` into an existing database in one
/// transaction, so a failed restore leaves nothing behind; a database that already holds
/// tables is refused unless `force`, which drops what the backup recreates.
pub fn restore(from: &Path, url: &str, force: bool) -> Result<(), BackupError> {
    let url = DatabaseUrl::parse(url)?;
    let magic = match url.backend {
        Backend::Sqlite => SQLITE_MAGIC,
        Backend::Postgres => PG_DUMP_MAGIC,
    };
    let mut head = Vec::with_capacity(magic.len());
    std::fs::File::open(from)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 16), &mut head))
        .map_err(|e| io_error("cannot read the backup", from, e))?;
    if !head.starts_with(magic) {
        let kind = match url.backend {
            Backend::Sqlite => "an SQLite database (made by a backup of an sqlite:// URL)",
            Backend::Postgres => {
                "a pg_dump custom-format file (made by a backup of a postgres:// URL)"
            }
        };
        return Err(BackupError(format!("{} is not {kind}", from.display())));
    }
    match url.backend {
        Backend::Sqlite => restore_sqlite(from, Path::new(&url.target), force),
        Backend::Postgres => restore_postgres(from, &url.target, force),
    }
}

fn restore_sqlite(from: &Path, db: &Path, force: bool) -> Result<(), BackupError> {
    let wal = sidecar(db, "-wal");
    let holds_data = [db, wal.as_path()]
        .iter()
        .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0));
    if holds_data && !force {
        return Err(BackupError(format!(
            "{} already holds a database: stop the server and pass --force to replace it",
            db.display()
        )));
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
    }
    // Copy beside the target, check it, then rename: a crash midway leaves the old
    // database whole, never a torn one.
    let partial = partial_path(db);
    std::fs::copy(from, &partial)
        .map_err(|e| io_error("cannot copy the backup to", &partial, e))?;
    let checked = std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("cannot sync", &partial, e))
        .and_then(|()| quick_check(&partial));
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    // A write-ahead log left by the replaced database would be replayed onto the restored
    // file at the next open: it goes first.
    for stale in [wal, sidecar(db, "-shm")] {
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_error("cannot remove", &stale, e));
            }
            _ => {}
        }
    }
    std::fs::rename(&partial, db).map_err(|e| io_error("cannot move the restored file to", db, e))
}

/// SQLite's own structural check of a restored file (`PRAGMA quick_check`).
fn quick_check(db: &Path) -> Result<(), BackupError> {
    let path = db
        .to_str()
        .ok_or_else(|| BackupError(format!("{} is not UTF-8", db.display())))?;
    let verdict = query_text(
        &format!("sqlite://{path}"),
        "SELECT group_concat(quick_check, '; ') AS text FROM pragma_quick_check",
    )?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(BackupError(format!("the backup is damaged: {verdict}")))
    }
}

fn restore_postgres(from: &Path, url: &str, force: bool) -> Result<(), BackupError> {
    let tables = query_text(
        url,
        "SELECT count(*)::text AS text FROM pg_tables WHERE schemaname = 'public'",
    )?;
    let mut cmd = pg_tool("pg_restore", url)?;
    if tables != "0" {
        if !force {
            return Err(BackupError(format!(
                "the database already holds {tables} tables: restore into a new empty \
                 database (createdb), or pass --force to drop and recreate what the backup holds"
            )));
        }
        cmd.args(["--clean", "--if-exists"]);
    }
    cmd.args(["--no-owner", "--single-transaction", "--exit-on-error"])
        .arg(from);
    run_tool(cmd, "pg_restore")
}

/// `pg_dump` or `pg_restore` for the database at `url`. The password goes in `PGPASSWORD`,
/// never on the command line, where every user of the machine could read it.
fn pg_tool(name: &str, url: &str) -> Result<Command, BackupError> {
    let bin = find_pg_bin(name).ok_or_else(|| {
        BackupError(format!(
            "{name} not found on PATH or in /usr/lib/postgresql/*/bin: install PostgreSQL's \
             client tools (e.g. apt-get install postgresql-client)"
        ))
    })?;
    let (url, password) = split_password(url);
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--dbname={url}"));
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    Ok(cmd)
}

fn run_tool(mut cmd: Command, name: &str) -> Result<(), BackupError> {
    let out = cmd
        .output()
        .map_err(|e| BackupError(format!("cannot run {name}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BackupError(format!(
            "{name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A PostgreSQL client program: `name` on the `PATH` (Debian's wrapper picks the
/// version matching the server), else from the newest `/usr/lib/postgresql/*/bin`.
pub fn find_pg_bin(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    // Version directories sort as numbers: 9.6 < 15.
    candidates.sort_by_key(|p| {
        p.components().nth(4).and_then(|c| {
            c.as_os_str()
                .to_str()?
                .split('.')
                .next()?
                .parse::<u32>()
                .ok()
        })
    });
    candidates.pop()
}

/// `url` without its password, and the password percent-decoded.
fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_string(), None);
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?'])
        .map_or(url.len(), |i| scheme_end + i);
    let Some(at) = url[scheme_end..authority_end]
        .rfind('@')
        .map(|i| scheme_end + i)
    else {
        return (url.to_string(), None);
    };
    let Some(colon) = url[scheme_end..at].find(':').map(|i| scheme_end + i) else {
        return (url.to_string(), None);
    };
    let password = percent_decode(&url[colon + 1..at]);
    (format!("{}{}", &url[..colon], &url[at..]), Some(password))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` with `suffix` appended to its file name (`llmlab.db` → `llmlab.db-wal`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn partial_path(path: &Path) -> PathBuf {
    sidecar(path, ".partial")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url() {
        assert_eq!(
            split_password("postgres://u:p%40ss@h:5432/db?sslmode=require"),
            (
                "postgres://u@h:5432/db?sslmode=require".into(),
                Some("p@ss".into())
            )
        );
        assert_eq!(
            split_password("postgres://u@h/db"),
            ("postgres://u@h/db".into(), None)
        );
        assert_eq!(
            split_password("postgres://h/db"),
            ("postgres://h/db".into(), None)
        );
    }

    #[test]
    fn sqlite_backup_and_restore_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let src = dir.path().join("src.db");
        let url = format!("sqlite://{}", src.display());
        execute(
            &url,
            "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42);",
        )
        .expect("seed");
        let out = dir.path().join("backup.db");
        assert!(backup(&url, &out).expect("backup") > 0);
        assert!(
            backup(&url, &out).is_err(),
            "a backup never overwrites a file"
        );

        let dst = format!("sqlite://{}", dir.path().join("new/dst.db").display());
        restore(&out, &dst, false).expect("restore into a new file");
        let x = query_text(&dst, "SELECT CAST(x AS TEXT) AS text FROM t").expect("restored row");
        assert_eq!(x, "42");
        let refused = restore(&out, &dst, false).expect_err("an existing database is kept");
        assert!(refused.to_string().contains("--force"), "{refused}");
        restore(&out, &dst, true).expect("--force replaces it");

        let not_sqlite = dir.path().join("notes.txt");
        std::fs::write(&not_sqlite, "hello, world, not a database").expect("write");
        let e = restore(&not_sqlite, &dst, true).expect_err("not a backup");
        assert!(e.to_string().contains("is not an SQLite database"), "{e}");
        let missing = format!("sqlite://{}", dir.path().join("missing.db").display());
        assert!(backup(&missing, &dir.path().join("b2.db")).is_err());
    }

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
