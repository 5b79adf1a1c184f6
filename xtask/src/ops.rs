//! `cargo xtask backup` and `cargo xtask restore`: the operator's side of
//! `llmlab_store::admin::{backup, restore}`, which the restore test
//! (`crates/llmlab-server/tests/api/backup.rs`) calls too.

use std::path::PathBuf;

use llmlab_store::admin;
use llmlab_store::{Backend, DatabaseUrl};

use clap::Args;

use crate::{Database, Result, redact};

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    database: Database,
    /// The file to write: an SQLite database, or pg_dump's custom-format archive (written
    /// beside it and renamed into place when complete)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore (a file `cargo xtask backup` wrote)
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    #[command(flatten)]
    database: Database,
    /// Replace a database that is not empty (SQLite: the file; PostgreSQL: what the backup
    /// recreates is dropped first)
    #[arg(long)]
    force: bool,
}

fn backend_of(url: &str) -> Result<Backend> {
    DatabaseUrl::parse(url)
        .map(|u| u.backend)
        .map_err(|e| e.to_string())
}

pub fn backup(args: &BackupArgs) -> Result<()> {
    let (url, out) = (&args.database.url, &args.out);
    let how = match backend_of(url)? {
        Backend::Sqlite => "VACUUM INTO",
        Backend::Postgres => "pg_dump --format=custom",
    };
    let bytes =
        admin::backup(url, out).map_err(|e| format!("backup of {} failed: {e}", redact(url)))?;
    println!(
        "backed up {} to {} ({how}, {bytes} bytes): a consistent copy as of the moment it began",
        redact(url),
        out.display()
    );
    Ok(())
}

pub fn restore(args: &RestoreArgs) -> Result<()> {
    let (from, url) = (&args.from, &args.database.url);
    let how = match backend_of(url)? {
        Backend::Sqlite => "copied into place after SQLite's quick_check",
        Backend::Postgres => "pg_restore --no-owner in one transaction",
    };
    admin::restore(from, url, args.force)
        .map_err(|e| format!("restore into {} failed: {e}", redact(url)))?;
    println!(
        "restored {} into {} ({how}); the server applies any newer migrations when it starts",
        from.display(),
        redact(url)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Task;
    use crate::tests::parse;

    #[test]
    fn reads_options_in_both_spellings() {
        let Ok(Task::Restore(o)) = parse(&[
            "restore",
            "--from=b.dump",
            "--database-url",
            "postgres://x/y",
            "--force",
        ]) else {
            panic!("a valid restore");
        };
        assert_eq!(o.from.to_str(), Some("b.dump"));
        assert_eq!(o.database.url, "postgres://x/y");
        assert!(o.force);
        let Ok(Task::Backup(o)) = parse(&["backup", "--out", "b.db", "--database-url=sqlite://a"])
        else {
            panic!("a valid backup");
        };
        assert_eq!(o.out.to_str(), Some("b.db"));
        assert_eq!(o.database.url, "sqlite://a");
        assert!(parse(&["backup", "--out", "b.db", "--force"]).is_err());
        assert!(parse(&["backup", "--out"]).is_err());
        assert!(parse(&["restore", "--from", "b.dump", "--force=yes"]).is_err());
        // The file is what the command is about: no default.
        assert!(parse(&["backup", "--database-url", "sqlite://a"]).is_err());
        assert!(parse(&["restore", "--database-url", "sqlite://a"]).is_err());
    }
}
