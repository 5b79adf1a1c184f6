//! `cargo xtask tidy`: the rules of docs/ARCHITECTURE.md, checked against the tree (in the
//! spirit of rust-analyzer's `xtask/src/tidy.rs`). `cargo xtask test` runs it first.
//!
//! - The crates depend on each other exactly as the codemap's table says.
//! - Only `llmlab-store` names diesel; only `llmlab-server` names actix, utoipa and maud;
//!   in the server, only `startup.rs` names the store (to open it): routes and pages go
//!   through `llmlab-app`.
//! - No HTTP crate is anywhere in `llmlab-app`'s dependency tree (read from
//!   `cargo metadata`): the use cases cannot grow an HTTP type by accident.
//! - Every file a document cites (in backticks or as a link) exists.
//! - No source file is longer than [`MAX_LINES`] lines before its unit tests: past that a
//!   file holds more than one concept and is split (tests and benches are not counted).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::Result;

/// Longest a source file may be, its `#[cfg(test)]` module aside.
pub const MAX_LINES: usize = 500;

/// Runs every check; the error lists every violation.
pub fn run(root: &Path) -> Result<()> {
    let mut problems = Vec::new();
    problems.extend(dependency_graph(root)?);
    problems.extend(confinement(root)?);
    problems.extend(store_behind_app(root)?);
    problems.extend(http_free(root, "llmlab-app")?);
    problems.extend(cited_files(root)?);
    problems.extend(file_sizes(root)?);
    if problems.is_empty() {
        eprintln!("xtask: tidy: the tree follows docs/ARCHITECTURE.md");
        Ok(())
    } else {
        Err(format!(
            "tidy found {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The workspace's crates: name → directory.
fn crates(root: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    let dirs = std::fs::read_dir(root.join("crates")).map_err(|e| format!("crates/: {e}"))?;
    for entry in dirs.flatten() {
        let dir = entry.path();
        if dir.join("Cargo.toml").is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            out.insert(name, dir);
        }
    }
    out.insert("xtask".into(), root.join("xtask"));
    Ok(out)
}

/// The `llmlab-*` names under `[dependencies]` of a manifest.
fn workspace_deps(manifest: &str) -> BTreeSet<String> {
    let mut in_deps = false;
    let mut deps = BTreeSet::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && line.starts_with("llmlab-") {
            let name = line
                .split(|c: char| c == '.' || c == '=' || c.is_whitespace())
                .next()
                .unwrap_or_default();
            deps.insert(name.to_string());
        }
    }
    deps
}

/// The codemap table: `| `crate` | `dep`, `dep` |` rows.
fn codemap(architecture: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut map = BTreeMap::new();
    for line in architecture.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 4 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_string();
        let deps = cells[2]
            .split(',')
            .map(|d| d.trim().trim_matches('`').to_string())
            .filter(|d| d.starts_with("llmlab-"))
            .collect();
        map.insert(name, deps);
    }
    map
}

fn dependency_graph(root: &Path) -> Result<Vec<String>> {
    let documented = codemap(&read(&root.join("docs/ARCHITECTURE.md"))?);
    let mut problems = Vec::new();
    for (name, dir) in crates(root)? {
        let actual = workspace_deps(&read(&dir.join("Cargo.toml"))?);
        match documented.get(&name) {
            None => problems.push(format!(
                "{name} is missing from the codemap table of docs/ARCHITECTURE.md"
            )),
            Some(doc) if *doc != actual => problems.push(format!(
                "{name} depends on {actual:?}, the codemap says {doc:?}"
            )),
            Some(_) => {}
        }
    }
    Ok(problems)
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn confinement(root: &Path) -> Result<Vec<String>> {
    // (what, the one crate that may name it, what naming it looks like in a manifest and
    // in source)
    let rules = [
        ("diesel", "llmlab-store", ["diesel", "diesel::"]),
        ("actix", "llmlab-server", ["actix", "actix_"]),
        ("utoipa", "llmlab-server", ["utoipa", "utoipa::"]),
        ("maud", "llmlab-server", ["maud", "maud::"]),
    ];
    let mut problems = Vec::new();
    for (name, dir) in crates(root)? {
        let manifest = read(&dir.join("Cargo.toml"))?;
        let mut sources = Vec::new();
        rust_files(&dir, &mut sources);
        for (what, owner, [in_manifest, in_source]) in rules {
            if name == owner {
                continue;
            }
            if manifest
                .lines()
                .any(|l| l.trim_start().starts_with(in_manifest))
            {
                problems.push(format!("{name}/Cargo.toml names {what} (only {owner} may)"));
            }
            // This file spells the rules out.
            for file in sources.iter().filter(|f| !f.ends_with("xtask/src/tidy.rs")) {
                if read(file)?.contains(in_source) {
                    problems.push(format!(
                        "{} names {what} (only {owner} may)",
                        relative(root, file)
                    ));
                }
            }
        }
    }
    Ok(problems)
}

/// In the server, the store is named by `startup.rs` alone.
fn store_behind_app(root: &Path) -> Result<Vec<String>> {
    let mut sources = Vec::new();
    rust_files(&root.join("crates/llmlab-server/src"), &mut sources);
    let mut problems = Vec::new();
    for file in sources.iter().filter(|f| !f.ends_with("startup.rs")) {
        if read(file)?.contains("llmlab_store") {
            problems.push(format!(
                "{} names llmlab_store (in the server only startup.rs may: go through llmlab-app)",
                relative(root, file)
            ));
        }
    }
    Ok(problems)
}

/// Crates that speak HTTP: none of them may be under `llmlab-app`.
const HTTP_CRATES: [&str; 8] = [
    "actix-web",
    "actix-http",
    "utoipa",
    "maud",
    "ureq",
    "http",
    "hyper",
    "reqwest",
];

/// Every crate in `krate`'s normal (not dev, not build) dependency tree that speaks HTTP.
fn http_free(root: &Path, krate: &str) -> Result<Vec<String>> {
    // Offline when the registry cache holds every package of the graph; a fresh
    // machine's cache lacks the crates of other platforms (the graph names them too),
    // which a build never fetched: then they are fetched once.
    let meta = cargo_metadata(root, &["--offline"]).or_else(|_| cargo_metadata(root, &[]))?;
    Ok(http_under(&meta, krate)
        .into_iter()
        .map(|dep| format!("{krate} depends on {dep}, an HTTP crate (through its dependency tree)"))
        .collect())
}

/// What `cargo metadata --format-version 1` with `options`, run in `dir`, says.
pub fn cargo_metadata(dir: &Path, options: &[&str]) -> Result<serde_json::Value> {
    let out = crate::cargo()
        .current_dir(dir)
        .args(["metadata", "--format-version", "1"])
        .args(options)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))
}

/// The HTTP crates reachable from the package `krate` through normal dependencies, in a
/// `cargo metadata` document.
fn http_under(meta: &serde_json::Value, krate: &str) -> BTreeSet<String> {
    let empty = Vec::new();
    let packages = meta["packages"].as_array().unwrap_or(&empty);
    let name_of = |id: &str| {
        packages
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| p["name"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let nodes = meta["resolve"]["nodes"].as_array().unwrap_or(&empty);
    let start = packages
        .iter()
        .find(|p| p["name"] == krate)
        .and_then(|p| p["id"].as_str());
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = start.map(str::to_string).into_iter().collect();
    let mut found = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(node) = nodes.iter().find(|n| n["id"] == id.as_str()) else {
            continue;
        };
        for dep in node["deps"].as_array().unwrap_or(&empty) {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .any(|k| k["kind"].is_null());
            let Some(dep_id) = dep["pkg"].as_str() else {
                continue;
            };
            if normal {
                let name = name_of(dep_id);
                if HTTP_CRATES.contains(&name.as_str()) || name.starts_with("actix") {
                    found.insert(name);
                }
                stack.push(dep_id.to_string());
            }
        }
    }
    found
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The documents whose citations are checked.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![root.join("README.md")];
    for dir in [root.join("docs")] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            docs.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "md")),
            );
        }
    }
    if let Ok(entries) = std::fs::read_dir(root.join("crates")) {
        docs.extend(
            entries
                .flatten()
                .map(|e| e.path().join("README.md"))
                .filter(|p| p.is_file()),
        );
    }
    docs.sort();
    docs
}

/// What a document cites as a file: a backticked token or a link target that looks like
/// a path (a known extension or a directory prefix of the tree, no spaces or wildcards).
fn citations(text: &str) -> Vec<String> {
    const EXTENSIONS: [&str; 6] = [".rs", ".md", ".toml", ".sql", ".sh", ".json"];
    const ROOTS: [&str; 5] = ["crates/", "docs/", "xtask/", "migrations/", ".ci/"];
    let mut found = Vec::new();
    let mut candidates: Vec<&str> = text.split('`').skip(1).step_by(2).collect();
    for part in text.split("](").skip(1) {
        if let Some(end) = part.find(')') {
            candidates.push(&part[..end]);
        }
    }
    for c in candidates {
        let c = c.split('#').next().unwrap_or_default();
        let looks_like_path = (EXTENSIONS.iter().any(|e| c.ends_with(e))
            || ROOTS.iter().any(|r| c.starts_with(r)))
            && !c.contains([' ', '*', '{', '<', '…', '='])
            && !c.contains("://")
            // An HTTP path (`/api/openapi.json`), not a file.
            && !c.starts_with('/');
        if looks_like_path {
            found.push(c.to_string());
        }
    }
    found
}

fn cited_files(root: &Path) -> Result<Vec<String>> {
    let mut all = Vec::new();
    rust_files(root, &mut all);
    let names: BTreeSet<String> = all
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let mut problems = Vec::new();
    for doc in documents(root) {
        let text = read(&doc)?;
        let here = doc.parent().unwrap_or(root);
        for cited in citations(&text) {
            let exists = root.join(&cited).exists()
                || here.join(&cited).exists()
                || root.join("crates").join(&cited).exists()
                || root.join("crates").join(format!("llmlab-{cited}")).exists()
                // A bare file name (`access.rs`) names a file somewhere in the tree.
                || (!cited.contains('/') && names.contains(&cited))
                || (!cited.contains('/') && root.join(&cited).exists());
            if !exists {
                problems.push(format!(
                    "{} cites `{cited}`, which does not exist",
                    relative(root, &doc)
                ));
            }
        }
    }
    Ok(problems)
}

fn file_sizes(root: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for (_, dir) in crates(root)? {
        rust_files(&dir.join("src"), &mut files);
    }
    let mut problems = Vec::new();
    for file in files {
        let text = read(&file)?;
        let before_tests = text
            .lines()
            .take_while(|l| l.trim() != "#[cfg(test)]")
            .count();
        if before_tests > MAX_LINES {
            problems.push(format!(
                "{} has {before_tests} lines before its tests (at most {MAX_LINES}): split it by concept",
                relative(root, &file)
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dependencies_and_the_codemap() {
        let manifest = "[package]\nname = \"x\"\n[dependencies]\nllmlab-engine.workspace = true\n\
                        llmlab-store = { path = \"../s\" }\nserde = \"1\"\n[dev-dependencies]\n\
                        llmlab-recs.workspace = true\n";
        assert_eq!(
            workspace_deps(manifest),
            BTreeSet::from(["llmlab-engine".to_string(), "llmlab-store".to_string()])
        );
        let doc =
            "| crate | depends on |\n|---|---|\n| `a` | — |\n| `b` | `llmlab-a`, `llmlab-c` |\n";
        let map = codemap(doc);
        assert_eq!(map["a"], BTreeSet::new());
        assert_eq!(
            map["b"],
            BTreeSet::from(["llmlab-a".to_string(), "llmlab-c".to_string()])
        );
    }

    #[test]
    fn finds_http_crates_in_a_dependency_tree() {
        let meta = serde_json::json!({
            "packages": [
                {"id": "app", "name": "llmlab-app"},
                {"id": "lettre", "name": "lettre"},
                {"id": "ureq", "name": "ureq"},
                {"id": "http", "name": "http"},
                {"id": "proptest", "name": "proptest"},
            ],
            "resolve": {"nodes": [
                {"id": "app", "deps": [
                    {"pkg": "lettre", "dep_kinds": [{"kind": null}]},
                    {"pkg": "proptest", "dep_kinds": [{"kind": "dev"}]},
                ]},
                {"id": "lettre", "deps": [{"pkg": "ureq", "dep_kinds": [{"kind": null}]}]},
                {"id": "ureq", "deps": [{"pkg": "http", "dep_kinds": [{"kind": null}]}]},
                {"id": "proptest", "deps": [{"pkg": "http", "dep_kinds": [{"kind": null}]}]},
            ]},
        });
        assert_eq!(
            http_under(&meta, "llmlab-app"),
            BTreeSet::from(["http".to_string(), "ureq".to_string()])
        );
        let clean = serde_json::json!({
            "packages": [{"id": "app", "name": "llmlab-app"}],
            "resolve": {"nodes": [{"id": "app", "deps": []}]},
        });
        assert!(http_under(&clean, "llmlab-app").is_empty());
    }

    #[test]
    fn finds_cited_paths_only() {
        let text = "See `crates/llmlab-store/src/rollups.rs`, [perf](docs/PERFORMANCE.md#x), \
                    `cargo xtask test`, `catalog/*.toml`, `Store::with_conn`, `/api/openapi.json` \
                    and `auth.rs`.";
        assert_eq!(
            citations(text),
            vec![
                "crates/llmlab-store/src/rollups.rs",
                "auth.rs",
                "docs/PERFORMANCE.md"
            ]
        );
    }
}
