//! `cargo xtask dist`: the release tarball, and `cargo xtask dist --check FILE`: that
//! tarball unpacked into an empty directory and started the way docs/DEPLOY.md starts it.
//!
//! `target/dist/llmlab-<version>-<target triple>.tar.gz` holds one directory of that name:
//! `bin/llmlab-server`, `.env.example`, `llmlab.service` (from `dist/`), `LICENSE`,
//! `README.md` and `docs/`. The system `tar` and `gzip` pack it, so xtask needs no
//! archive crate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;

use crate::Result;
use crate::bench::client::Client;

/// A fresh SQLite database is migrated at start; a loaded 2-core machine needs seconds.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The server drains in-flight requests on SIGTERM (up to 30 s); an idle one stops at once.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// What the tarball holds besides the binary, as (source in the repository, name inside).
const FILES: [(&str, &str); 5] = [
    (".env.example", ".env.example"),
    ("dist/llmlab.service", "llmlab.service"),
    ("LICENSE", "LICENSE"),
    ("README.md", "README.md"),
    ("docs", "docs"),
];

#[derive(Debug, Args)]
pub struct DistArgs {
    /// Instead of building: unpack each tarball into an empty directory, start its server on
    /// a fresh SQLite database, wait for its health endpoints and stop it with SIGTERM
    #[arg(long, value_name = "FILE", num_args = 1..)]
    check: Vec<PathBuf>,
}

pub fn run(args: &DistArgs) -> Result<()> {
    if args.check.is_empty() {
        build(&crate::workspace_root()).map(|_| ())
    } else {
        args.check.iter().try_for_each(|f| check(f))
    }
}

fn build(root: &Path) -> Result<PathBuf> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = crate::bench::server::build_release(&target_dir)?;
    let name = format!("llmlab-{}-{}", workspace_version(root)?, host_triple()?);
    let dist = target_dir.join("dist");
    let stage = dist.join(&name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage).map_err(|e| io("cannot clear", &stage, e))?;
    }
    std::fs::create_dir_all(stage.join("bin")).map_err(|e| io("cannot create", &stage, e))?;
    let packaged = stage.join("bin/llmlab-server");
    copy(&bin, &packaged)?;
    // The release profile keeps line tables for the benchmarks' profiles (over 100 MB);
    // the shipped binary keeps its symbols, so a panic's backtrace still names functions.
    let mut strip = Command::new("strip");
    strip.arg("--strip-debug").arg(&packaged);
    crate::run(strip)?;
    for (from, to) in FILES {
        copy(&root.join(from), &stage.join(to))?;
    }
    let tarball = dist.join(format!("{name}.tar.gz"));
    let mut tar = Command::new("tar");
    // Sorted names and root ownership: the same tree packs to the same listing on any
    // machine, whoever ran the build.
    tar.args([
        "--sort=name",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "-czf",
    ])
    .arg(&tarball)
    .arg("-C")
    .arg(&dist)
    .arg(&name);
    crate::run(tar)?;
    std::fs::remove_dir_all(&stage).map_err(|e| io("cannot remove", &stage, e))?;
    let size = std::fs::metadata(&tarball)
        .map_err(|e| io("cannot read", &tarball, e))?
        .len();
    println!(
        "wrote {} ({:.1} MiB)",
        tarball.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    Ok(tarball)
}

/// `[workspace.package] version` of the root `Cargo.toml` (xtask's own version is not
/// the product's).
fn workspace_version(root: &Path) -> Result<String> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| io("cannot read", &manifest, e))?;
    let section = text
        .split_once("[workspace.package]")
        .map(|(_, rest)| rest.split("\n[").next().unwrap_or_default())
        .unwrap_or_default();
    section
        .lines()
        .filter_map(|l| l.trim().strip_prefix("version"))
        .filter_map(|l| l.trim_start().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_string())
        .next()
        .ok_or_else(|| format!("no [workspace.package] version in {}", manifest.display()))
}

/// The triple `rustc` builds for by default (what `cargo build --release` produced).
fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run {rustc} -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .ok_or_else(|| format!("{rustc} -vV names no host triple"))
}

fn io(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

/// Copies a file, or a directory with everything under it.
fn copy(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(|e| io("cannot create", to, e))?;
        let entries = std::fs::read_dir(from).map_err(|e| io("cannot list", from, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io("cannot list", from, e))?;
            copy(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to)
            .map(|_| ())
            .map_err(|e| io(&format!("cannot copy {} to", from.display()), to, e))
    }
}

/// A directory removed with everything in it when dropped, on success and error alike.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn check(tarball: &Path) -> Result<()> {
    let tarball = std::path::absolute(tarball).map_err(|e| io("cannot resolve", tarball, e))?;
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "llmlab-dist-check-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )));
    let tmp = &scratch.0;
    std::fs::create_dir_all(tmp).map_err(|e| io("cannot create", tmp, e))?;
    let mut untar = Command::new("tar");
    untar.arg("-xzf").arg(&tarball).arg("-C").arg(tmp);
    crate::run(untar)?;
    let top: Vec<PathBuf> = std::fs::read_dir(tmp)
        .map_err(|e| io("cannot list", tmp, e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    let [home] = top.as_slice() else {
        return Err(format!(
            "{} should hold exactly one top-level directory, found {}",
            tarball.display(),
            top.len()
        ));
    };
    let expected = [
        "bin/llmlab-server",
        "docs/DEPLOY.md",
        "docs/ARCHITECTURE.md",
    ];
    for name in FILES.iter().map(|(_, inside)| *inside).chain(expected) {
        if !home.join(name).exists() {
            return Err(format!("{} lacks {name}", tarball.display()));
        }
    }
    let data = tmp.join("data");
    let db = data.join("llmlab.db");
    let addr = free_port()?;
    let log = tmp.join("server.log");
    let out = std::fs::File::create(&log).map_err(|e| io("cannot create", &log, e))?;
    let err = out.try_clone().map_err(|e| io("cannot reuse", &log, e))?;
    // Only what the tarball's own instructions set: no inherited LLMLAB_* or DATABASE_URL
    // may make the check pass where a fresh machine would not.
    let mut cmd = Command::new(home.join("bin/llmlab-server"));
    cmd.current_dir(home)
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("LLMLAB_BIND", addr.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the packaged server: {e}"))?;
    let mut server = Running { child, log };
    let probed = probe(&mut server, addr).map_err(|e| server.explain(e))?;
    server.stop().map_err(|e| server.explain(e))?;
    if !db.is_file() {
        return Err(format!("the server did not create {}", db.display()));
    }
    println!(
        "{}: unpacked, started on {addr} with SQLite in a fresh directory, {probed}, stopped cleanly",
        tarball.display()
    );
    Ok(())
}

/// Waits for the server to be ready: `/api/health/live` and `/api/health/ready` (the
/// orchestrators' pair) and `/api/health` all answer 200. The tarball is built from this
/// tree, so a missing endpoint is a failure, not an older build.
fn probe(server: &mut Running, addr: SocketAddr) -> Result<String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut client = Client::patient(addr, None, Duration::from_secs(10));
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("the server exited during start-up ({status})"));
        }
        let get = |c: &mut Client, path| c.call("GET", path, None).map(|(s, _)| s).ok();
        if get(&mut client, "/api/health/ready") == Some(200)
            && get(&mut client, "/api/health/live") == Some(200)
            && get(&mut client, "/api/health") == Some(200)
        {
            return Ok("/api/health, /api/health/live and /ready answered 200".into());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the packaged server was not ready within {START_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The packaged server; killed when dropped if [`Running::stop`] did not stop it.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    /// SIGTERM (what systemd sends), then the exit it must make by itself.
    fn stop(&mut self) -> Result<()> {
        // `kill(1)`: the workspace forbids the `unsafe` a direct libc call would need.
        crate::run({
            let mut kill = Command::new("kill");
            kill.args(["-TERM", &self.child.id().to_string()]);
            kill
        })?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(format!("the server exited with {status} on SIGTERM"));
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        Err(format!(
            "the server did not stop within {STOP_TIMEOUT:?} of SIGTERM"
        ))
    }

    fn explain(&self, error: String) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("{error}\nthe server log ends with:\n{tail}")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nobody listens on right now (the OS picks it; the listener is closed at once).
fn free_port() -> Result<SocketAddr> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_each_file_named() {
        let Ok(crate::Task::Dist(d)) =
            crate::tests::parse(&["dist", "--check", "a.tar.gz", "b.tar.gz"])
        else {
            panic!("a valid dist --check");
        };
        assert_eq!(
            d.check,
            [PathBuf::from("a.tar.gz"), PathBuf::from("b.tar.gz")]
        );
        let Ok(crate::Task::Dist(d)) = crate::tests::parse(&["dist"]) else {
            panic!("a valid dist");
        };
        assert!(d.check.is_empty());
        assert!(crate::tests::parse(&["dist", "--check"]).is_err());
        assert!(crate::tests::parse(&["dist", "a.tar.gz"]).is_err());
    }

    #[test]
    fn reads_the_workspace_version() {
        let v = workspace_version(&crate::workspace_root()).expect("a version");
        assert!(v.chars().next().is_some_and(|c| c.is_ascii_digit()), "{v}");
    }
}
