//! `cargo xtask bench engine`: llmlab-engine's criterion benchmarks, then a summary of
//! the estimates criterion saved (`target/criterion/**/new/*.json`) in the same table
//! and markdown form as the other parts.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::report::{Section, Table};
use crate::Result;

/// Deep enough for `<group>/<function>/<value>/new`.
const MAX_DEPTH: usize = 5;

/// One benchmark's estimates, in nanoseconds per iteration.
struct Estimate {
    id: String,
    /// What criterion prints as `time`: the slope of its linear sampling when it has
    /// one, else the mean; with its 95 % confidence interval.
    time_ns: f64,
    low_ns: f64,
    high_ns: f64,
    median_ns: f64,
}

pub fn run(criterion_args: &[String], target_dir: &Path, command: &str) -> Result<()> {
    let started = SystemTime::now();
    let mut cmd = crate::cargo();
    cmd.args(["bench", "-p", "llmlab-engine", "--bench", "engine", "--"]);
    cmd.args(criterion_args);
    crate::run(cmd)?;

    let mut estimates = Vec::new();
    collect(&target_dir.join("criterion"), started, 0, &mut estimates);
    if estimates.is_empty() {
        eprintln!("xtask: criterion saved no estimates in this run; no engine summary");
        return Ok(());
    }
    estimates.sort_by(|a, b| a.id.cmp(&b.id));
    let section = section(&estimates);
    print!("{}", section.text());
    let header = super::report::header("Benchmark results — engine", command, &[]);
    let path = super::report::write_markdown(target_dir, "engine", &header, &[section])?;
    println!("\nmarkdown: {}", path.display());
    Ok(())
}

fn section(estimates: &[Estimate]) -> Section {
    let mut section = Section::new("llmlab-engine (criterion)");
    section.note(
        "Time per iteration as criterion reports it (slope estimate, else mean), with its \
         95 % confidence interval.",
    );
    let mut t = Table::new(&["benchmark", "time", "95 % CI", "median"]);
    for e in estimates {
        t.row(vec![
            e.id.clone(),
            duration(e.time_ns),
            format!("{} – {}", duration(e.low_ns), duration(e.high_ns)),
            duration(e.median_ns),
        ]);
    }
    section.table(t);
    section
}

/// Finds every `new/` directory under `dir` written since `since` (criterion keeps the
/// results of earlier runs, possibly of benchmarks that no longer exist).
fn collect(dir: &Path, since: SystemTime, depth: usize, out: &mut Vec<Estimate>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(e) = read_estimate(&path, since) {
                out.push(e);
            }
        } else if depth < MAX_DEPTH && path.file_name().is_some_and(|n| n != "report") {
            collect(&path, since, depth + 1, out);
        }
    }
}

fn read_estimate(new_dir: &Path, since: SystemTime) -> Option<Estimate> {
    let estimates_file: PathBuf = new_dir.join("estimates.json");
    let modified = std::fs::metadata(&estimates_file).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let json = |name: &str| -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(new_dir.join(name)).ok()?).ok()
    };
    let benchmark = json("benchmark.json")?;
    let estimates = json("estimates.json")?;
    let number = |pointer: &str| {
        estimates
            .pointer(pointer)
            .and_then(serde_json::Value::as_f64)
    };
    let main = if estimates.get("slope").is_some_and(|s| !s.is_null()) {
        "/slope"
    } else {
        "/mean"
    };
    Some(Estimate {
        id: benchmark.get("full_id")?.as_str()?.to_string(),
        time_ns: number(&format!("{main}/point_estimate"))?,
        low_ns: number(&format!("{main}/confidence_interval/lower_bound"))?,
        high_ns: number(&format!("{main}/confidence_interval/upper_bound"))?,
        median_ns: number("/median/point_estimate")?,
    })
}

/// Nanoseconds in the unit that keeps 3–4 significant digits.
fn duration(ns: f64) -> String {
    match ns {
        n if n < 1e3 => format!("{n:.1} ns"),
        n if n < 1e6 => format!("{:.2} µs", n / 1e3),
        n if n < 1e9 => format!("{:.2} ms", n / 1e6),
        n => format!("{:.2} s", n / 1e9),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn picks_a_readable_unit() {
        assert_eq!(super::duration(152.3), "152.3 ns");
        assert_eq!(super::duration(15_234.0), "15.23 µs");
        assert_eq!(super::duration(21_500_000.0), "21.50 ms");
        assert_eq!(super::duration(2.5e9), "2.50 s");
    }
}
