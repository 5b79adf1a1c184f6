//! `cargo xtask backup` and `cargo xtask restore`: the operator's side of
//! `llmlab_store::admin::{backup, restore}`, which the restore test
//! (`crates/llmlab-server/tests/api/backup.rs`) calls too.

use std::path::PathBuf;

use llmlab_store::admin;
use llmlab_store::{Backend, DatabaseUrl};

use crate::{Result, redact};

/// `--database-url URL`, `--out FILE`, `--from FILE` and `--force`, in any order.
#[derive(Default)]
struct Options {
    url: Option<String>,
    file: Option<PathBuf>,
    force: bool,
}

fn parse(args: &[String], file_flag: &str, allow_force: bool) -> Result<Options> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--database-url" => o.url = Some(value()?),
            f if f == file_flag => o.file = Some(PathBuf::from(value()?)),
            "--force" if allow_force && inline.is_none() => o.force = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// The database to act on: `--database-url`, else `DATABASE_URL`, else the server's own
/// default, as `migrate` and `reprice` choose it.
fn database_url(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| "sqlite://llmlab.db".to_string())
}

fn backend_of(url: &str) -> Result<Backend> {
    DatabaseUrl::parse(url)
        .map(|u| u.backend)
        .map_err(|e| e.to_string())
}

pub fn backup(args: &[String]) -> Result<()> {
    let o = parse(args, "--out", false)?;
    let out = o
        .file
        .ok_or("usage: cargo xtask backup [--database-url URL] --out FILE")?;
    let url = database_url(o.url);
    let how = match backend_of(&url)? {
        Backend::Sqlite => "VACUUM INTO",
        Backend::Postgres => "pg_dump --format=custom",
    };
    let bytes =
        admin::backup(&url, &out).map_err(|e| format!("backup of {} failed: {e}", redact(&url)))?;
    println!(
        "backed up {} to {} ({how}, {bytes} bytes): a consistent copy as of the moment it began",
        redact(&url),
        out.display()
    );
    Ok(())
}

pub fn restore(args: &[String]) -> Result<()> {
    let o = parse(args, "--from", true)?;
    let from = o
        .file
        .ok_or("usage: cargo xtask restore --from FILE [--database-url URL] [--force]")?;
    let url = database_url(o.url);
    let how = match backend_of(&url)? {
        Backend::Sqlite => "copied into place after SQLite's quick_check",
        Backend::Postgres => "pg_restore --no-owner in one transaction",
    };
    admin::restore(&from, &url, o.force)
        .map_err(|e| format!("restore into {} failed: {e}", redact(&url)))?;
    println!(
        "restored {} into {} ({how}); the server applies any newer migrations when it starts",
        from.display(),
        redact(&url)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn reads_options_in_both_spellings() {
        let o = parse(
            &args(&[
                "--from=b.dump",
                "--database-url",
                "postgres://x/y",
                "--force",
            ]),
            "--from",
            true,
        )
        .expect("valid");
        assert_eq!(o.file, Some(PathBuf::from("b.dump")));
        assert_eq!(o.url.as_deref(), Some("postgres://x/y"));
        assert!(o.force);
        assert!(parse(&args(&["--force"]), "--out", false).is_err());
        assert!(parse(&args(&["--out"]), "--out", false).is_err());
    }
}
