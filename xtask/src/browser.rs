//! The dashboard in a real browser: Debian's Chromium driven by playwright-core (npm,
//! pinned by `crates/llmlab-server/tests/browser/package-lock.json`) against a fresh
//! debug server on SQLite. Screenshots of each page go to `target/browser/`;
//! `cargo xtask screenshots` copies some into `docs/screenshots/` for the README.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;
use crate::bench::server::{Launch, Server};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs the browser suite; returns the directory holding its screenshots.
pub fn run(root: &Path) -> Result<PathBuf> {
    let chromium = chromium()?;
    let suite = root.join("crates/llmlab-server/tests/browser");
    // Installed again when a package the suite imports is missing (a checkout that
    // gained one since its last install).
    let installed = ["playwright-core", "axe-core"]
        .iter()
        .all(|p| suite.join("node_modules").join(p).is_dir());
    if !installed {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&suite);
        crate::run(npm)?;
    }
    let mut build = crate::cargo();
    build.args(["build", "-p", "llmlab-server"]);
    crate::run(build)?;
    let target = root.join("target");
    let dir = target.join("browser");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let database_url = format!("sqlite://{}", dir.join("llmlab.db").display());
    let server = Server::start(&Launch {
        bin: &target.join("debug").join("llmlab-server"),
        database_url: &database_url,
        dir: &dir,
        env: &[],
    })?;
    let shots = dir.join("screenshots");
    let mut node = Command::new("node");
    node.current_dir(&suite)
        .env("CHROMIUM", &chromium)
        .arg("dashboard.mjs")
        .arg(format!("http://{}", server.addr))
        .arg(&shots);
    let outcome = crate::run(node).map_err(|e| server.explain(e));
    server.stop();
    outcome.map(|()| shots)
}

/// Debian's Chromium, installed with apt-get when missing and allowed (as root).
fn chromium() -> Result<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if path.is_file() {
        return Ok(path);
    }
    eprintln!("xtask: {CHROMIUM} is missing: installing Debian's chromium");
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    let mut install = Command::new("apt-get");
    install
        .args([
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive");
    crate::run(update)
        .and_then(|()| crate::run(install))
        .map_err(|e| {
            format!(
                "the browser tests need Chromium ({e}); install Debian's `chromium` package \
                 or run `cargo xtask test --no-browser` (and say so)"
            )
        })?;
    Ok(path)
}

/// `cargo xtask screenshots`: the browser suite, then its pictures of the overview, the
/// budgets and the settings into `docs/screenshots/`.
pub fn screenshots(root: &Path) -> Result<()> {
    let shots = run(root)?;
    let docs = root.join("docs").join("screenshots");
    std::fs::create_dir_all(&docs).map_err(|e| format!("{}: {e}", docs.display()))?;
    for name in [
        "overview.png",
        "budgets.png",
        "settings.png",
        "budgets-viewer-375px.png",
    ] {
        std::fs::copy(shots.join(name), docs.join(name)).map_err(|e| format!("{name}: {e}"))?;
        println!("docs/screenshots/{name}");
    }
    Ok(())
}
