//! Turning figures into a table for the terminal and a markdown fragment for
//! docs/PERFORMANCE.md (`target/bench/results-<backend>.md`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::analytics::AnalyticsResults;
use super::ceiling::InsertRun;
use super::http::{BATCH_SIZE, HttpResults};
use super::load::Stats;
use super::otlp::SPANS_PER_EXPORT;
use super::server::Memory;
use crate::Result;

/// Rows of cells; the first column is a label, the others are figures.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        widths
    }

    pub fn text(&self) -> String {
        let widths = self.widths();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i == 0 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect();
            format!("  {}\n", padded.join("  ").trim_end())
        };
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let mut out = line(&headers);
        out.push_str(&line(&rule));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.headers.join(" | "));
        let align: Vec<&str> = (0..self.headers.len())
            .map(|i| if i == 0 { "---" } else { "---:" })
            .collect();
        out.push_str(&format!("| {} |\n", align.join(" | ")));
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }
}

/// A titled group of paragraphs and tables, in the order added.
pub struct Section {
    title: String,
    blocks: Vec<Block>,
}

enum Block {
    Note(String),
    Table(Table),
}

impl Section {
    pub fn new(title: impl Into<String>) -> Section {
        Section {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Note(text.into()));
    }

    pub fn table(&mut self, table: Table) {
        self.blocks.push(Block::Table(table));
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "\n{}\n{}\n",
            self.title,
            "=".repeat(self.title.chars().count())
        );
        for block in &self.blocks {
            match block {
                Block::Note(n) => out.push_str(&format!("{n}\n")),
                Block::Table(t) => out.push_str(&format!("\n{}\n", t.text())),
            }
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.title);
        for block in &self.blocks {
            match block {
                Block::Note(n) => out.push_str(&format!("{n}\n\n")),
                Block::Table(t) => out.push_str(&format!("{}\n", t.markdown())),
            }
        }
        out
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// A rate with thousands separators, no decimals.
pub fn rate(per_sec: f64) -> String {
    thousands(per_sec.round() as u64)
}

/// Thousands separators the way the dashboard prints counts.
pub fn thousands(n: u64) -> String {
    llmlab_app::money::count(n)
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ratio(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.0} %", 100.0 * part / whole)
    } else {
        "n/a".into()
    }
}

fn phase_row(table: &mut Table, label: &str, connections: usize, s: &Stats, events: bool) {
    table.row(vec![
        label.to_string(),
        connections.to_string(),
        thousands(s.requests),
        thousands(s.errors),
        rate(s.requests_per_sec()),
        if events {
            rate(s.items_per_sec())
        } else {
            "—".into()
        },
        ms(s.percentile(50.0)),
        ms(s.percentile(99.0)),
    ]);
}

pub fn http_section(backend: &str, r: &HttpResults) -> Section {
    let o = &r.options;
    let p = &r.phases;
    let mut section = Section::new(format!("HTTP ingestion — {backend}"));
    section.note(format!(
        "Closed loop, one keep-alive connection per client thread, {} s measured per phase \
         after a short warm-up. Errors are non-2xx responses and I/O failures.",
        o.seconds
    ));
    let mut phases = Table::new(&[
        "phase", "conns", "requests", "errors", "req/s", "events/s", "p50 ms", "p99 ms",
    ]);
    phase_row(
        &mut phases,
        "GET /api/health",
        o.connections,
        &p.health,
        false,
    );
    phase_row(
        &mut phases,
        "POST /api/events/track",
        o.connections,
        &p.track,
        true,
    );
    phase_row(
        &mut phases,
        "POST /api/budgets/reserve (each then released, untimed)",
        o.connections,
        &p.reserve,
        false,
    );
    let batch_label = format!("POST /api/events/batch ({BATCH_SIZE}/req)");
    phase_row(
        &mut phases,
        &batch_label,
        o.batch_connections,
        &p.batch,
        true,
    );
    let otlp_label = format!("POST /v1/traces (OTLP JSON, {SPANS_PER_EXPORT} spans/req)");
    phase_row(&mut phases, &otlp_label, o.batch_connections, &p.otlp, true);
    section.table(phases);
    section.note(format!(
        "Single-event ingestion runs at {} of the `/api/health` ceiling.",
        ratio(p.track.requests_per_sec(), p.health.requests_per_sec())
    ));
    for (label, s) in [
        ("health", &p.health),
        ("track", &p.track),
        ("reserve", &p.reserve),
        ("batch", &p.batch),
        ("otlp", &p.otlp),
    ] {
        if let Some(f) = s.failure_summary() {
            section.note(format!("Failures ({label}): {f}"));
        }
    }
    if !r.ceilings.is_empty() {
        section.table(ceiling_table(&r.ceilings, p.batch.items_per_sec()));
        section.note(
            "The same rows as the batch phase, on a fresh database of the same backend. \
             `Store::insert_batch` also writes the `event_tags` rows and reserves ids; the \
             scratch tables hold only the event columns, without indexes or constraints.",
        );
    }
    section.table(memory_table(&p.memory));
    section
}

fn ceiling_table(runs: &[InsertRun], over_http: f64) -> Table {
    let mut t = Table::new(&[
        "same rows, without HTTP",
        "writers",
        "events",
        "seconds",
        "events/s",
        "HTTP batch is",
    ]);
    for run in runs {
        t.row(vec![
            run.label.clone(),
            run.writers.to_string(),
            thousands(run.events),
            format!("{:.2}", run.elapsed.as_secs_f64()),
            rate(run.events_per_sec()),
            ratio(over_http, run.events_per_sec()),
        ]);
    }
    t
}

fn memory_table(points: &[(&'static str, Memory)]) -> Table {
    let mut t = Table::new(&["server process", "VmRSS MiB", "VmHWM (peak) MiB"]);
    for (moment, m) in points {
        t.row(vec![moment.to_string(), mib(m.rss_kib), mib(m.peak_kib)]);
    }
    t
}

pub fn analytics_section(backend: &str, r: &AnalyticsResults) -> Section {
    let o = &r.options;
    let s = &r.seeding;
    let mut section = Section::new(format!(
        "Analytics over {} events — {backend}",
        thousands(s.items)
    ));
    section.note(format!(
        "Seeding: {} events accepted of {} in {:.1} s through `POST /api/events/batch` \
         ({BATCH_SIZE}/request, {} connections): {} events/s, p50 {} ms, p99 {} ms per request.",
        thousands(s.items),
        thousands(o.events),
        s.elapsed.as_secs_f64(),
        o.connections,
        rate(s.items_per_sec()),
        ms(s.percentile(50.0)),
        ms(s.percentile(99.0)),
    ));
    if let Some(f) = s.failure_summary() {
        section.note(format!("Seeding failures: {f}"));
    }
    section.note(format!(
        "One user; events spread over the last 90 days; 3 budgets (monthly total, \
         provider openai, tag team:a). Each endpoint: one first call, then {} timed calls \
         on one connection.",
        o.repeat
    ));
    section.table(timing_table(&r.timings));
    if let Some(settled) = &r.settled {
        section.note(
            "The same calls after `VACUUM ANALYZE` — what autovacuum does in steady state; \
             right after a burst of upserts the rollup tables still carry dead row versions:"
                .to_string(),
        );
        section.table(timing_table(settled));
    }
    for timing in r.timings.iter().filter(|t| t.problem.is_some()) {
        let problem = timing.problem.as_deref().unwrap_or_default();
        section.note(format!("Problem with `{}`: {problem}", timing.path));
    }
    section.note(format!(
        "Server memory after the run: VmRSS {} MiB, VmHWM (peak) {} MiB.",
        mib(r.memory.rss_kib),
        mib(r.memory.peak_kib)
    ));
    section
}

fn timing_table(timings: &[super::analytics::Timing]) -> Table {
    let mut t = Table::new(&["GET", "status", "bytes", "first ms", "p50 ms", "p99 ms"]);
    let or_dash = |d: Option<Duration>| d.map_or_else(|| "—".to_string(), ms);
    for timing in timings {
        t.row(vec![
            format!("`{}`", timing.path),
            timing
                .status
                .map_or_else(|| "none".to_string(), |s| s.to_string()),
            thousands(timing.bytes as u64),
            or_dash(timing.first),
            or_dash(timing.percentile(50.0)),
            or_dash(timing.percentile(99.0)),
        ]);
    }
    t
}

/// Where and how the figures were taken: `## title`, then the date, the command, the
/// machine and `details`, one bullet each.
pub fn header(title: &str, command: &str, details: &[String]) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut out = format!(
        "## {title}\n\n\
         - date: {}\n\
         - command: `{command}`\n\
         - machine: {cores} cores (`nproc`), {}, {} RAM\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        cpu_model(),
        total_memory(),
    );
    for d in details {
        out.push_str(&format!("- {d}\n"));
    }
    out.push('\n');
    out
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn total_memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Writes `target/bench/results-<name>.md`; returns its path.
pub fn write_markdown(
    target_dir: &Path,
    name: &str,
    header: &str,
    sections: &[Section],
) -> Result<PathBuf> {
    let dir = target_dir.join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("results-{name}.md"));
    let mut text = header.to_string();
    for s in sections {
        text.push_str(&s.markdown());
    }
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

pub fn reprice_section(backend: &str, r: &super::reprice::RepriceResults) -> Section {
    let s = &r.seeding;
    let mut section = Section::new(format!(
        "Re-pricing {} events — {backend}",
        thousands(s.items)
    ));
    section.note(format!(
        "Seeded through `POST /api/events/batch` ({} events in {:.1} s), then a custom price \
         for openai/gpt-4o-mini, then `POST /api/pricing/reprice` over every event, while \
         one client sends single events (`POST /api/events/track`) back to back.",
        thousands(s.items),
        s.elapsed.as_secs_f64()
    ));
    let mut table = Table::new(&[
        "phase",
        "events",
        "changed",
        "seconds",
        "events/s",
        "ingested beside",
        "track p99 ms",
        "track errors",
    ]);
    for p in &r.phases {
        let matched = u64::try_from(p.matched).unwrap_or(0);
        table.row(vec![
            p.label.to_string(),
            thousands(matched),
            thousands(u64::try_from(p.changed).unwrap_or(0)),
            format!("{:.1}", p.took.as_secs_f64()),
            thousands(super::load::per_sec(matched, p.took) as u64),
            thousands(p.beside.items),
            ms(p.beside.percentile(99.0)),
            p.beside.errors.to_string(),
        ]);
    }
    section.table(table);
    section.note(if r.consistent {
        "After the apply, the summary's total (rollups) equals the sum of the by-provider rows."
    } else {
        "After the apply, the summary's total and the by-provider rows DISAGREE."
    });
    section
}

pub fn hostile_section(backend: &str, r: &super::hostile::HostileResults) -> Section {
    let mut section = Section::new(format!("Hostile OTLP exports — {backend}"));
    section.note(format!(
        "One export of {} empty spans: {} bytes of gzip, {} MiB inflated. The server \
         answered {} to each of the {} sent. Peak memory (VmHWM) of the server: {} MiB \
         before, {} MiB after one export (+{} MiB), {} MiB after all of them.",
        thousands(8_390_000),
        thousands(r.wire_bytes as u64),
        mib(r.inflated_bytes as u64 / 1024),
        r.status,
        thousands(r.sent),
        mib(r.before.peak_kib),
        mib(r.after_one.peak_kib),
        mib(r.after_one.peak_kib.saturating_sub(r.before.peak_kib)),
        mib(r.after_all.peak_kib),
    ));
    let mut table = Table::new(&[
        "GET /api/health/live",
        "requests",
        "p50 ms",
        "p99 ms",
        "max ms",
    ]);
    for (label, l) in [
        ("alone", &r.quiet),
        ("while 3 clients send the export back to back", &r.loaded),
    ] {
        table.row(vec![
            label.to_string(),
            thousands(l.requests as u64),
            ms(l.p50),
            ms(l.p99),
            ms(l.max),
        ]);
    }
    section.table(table);
    section
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn renders_both_formats() {
        let mut t = Table::new(&["what", "n"]);
        t.row(vec!["a".into(), "1,000".into()]);
        assert_eq!(
            t.markdown(),
            "| what | n |\n| --- | ---: |\n| a | 1,000 |\n"
        );
        assert_eq!(t.text(), "  what      n\n  ----  -----\n  a     1,000\n");
    }
}
