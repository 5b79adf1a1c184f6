//! The tenants part's figures as a report section.

use std::time::Duration;

use super::super::load;
use super::super::report::{Section, Table, ms, rate, thousands};
use super::{IDLE_INTERVAL_SECS, PARALLEL_CALLS, PARALLEL_CLIENTS, SEQUENTIAL_CALLS};
use super::{TAG_EVENTS, TAG_VALUES, TenantResults};

pub fn tenants_section(backend: &str, r: &TenantResults) -> Section {
    let mut section = Section::new(format!("Many tenants — {backend}"));
    section.note(
        "Each count of workspaces on a fresh database, seeded through llmlab-store: every \
         workspace its owner's personal one, with one webhook channel (subscribed to \
         every occasion) to a receiver on loopback run by the benchmark, one monthly \
         budget and three events.",
    );
    let mut delivery = Table::new(&[
        "workspaces",
        "seeded in s",
        "queued",
        "arrived",
        "first → last s",
        "deliveries/s",
        "commit → all recorded s",
    ]);
    for run in &r.runs {
        let d = &run.delivery;
        delivery.row(vec![
            thousands(run.workspaces as u64),
            secs(run.seeding),
            thousands(d.queued),
            thousands(d.arrived),
            secs(d.first_to_last),
            rate(d.per_sec()),
            d.all_recorded.map_or_else(|| "not within 600".into(), secs),
        ]);
    }
    section.note(
        "Delivery: one monthly report per channel recorded in one transaction (as the \
         scheduler records them), then timed until the receiver has every one and the \
         outbox has recorded every one delivered. Every channel points at the same \
         receiver, so this is one host's rate. Deliveries/s counts from the first request \
         at the receiver to the last; the commit-to-recorded time also holds the wait for \
         the outbox's next look (`LLMLAB_WEBHOOK_POLL_MS`, 1 s), since the rows were \
         recorded by another process.",
    );
    section.table(delivery);
    let mut idle = Table::new(&[
        "workspaces",
        "server CPU %",
        "PostgreSQL backends CPU %",
        "ticks",
        "mean tick ms",
        "statements/tick",
        "workspaces/tick",
    ]);
    for run in &r.runs {
        let i = &run.idle;
        let tick = |f: fn(&super::TickFigures) -> String| {
            i.tick.as_ref().map_or_else(|| "not exposed".into(), f)
        };
        idle.row(vec![
            thousands(run.workspaces as u64),
            format!("{:.1}", i.server.percent),
            i.database.map_or_else(
                || "—".into(),
                |d| format!("{:.1} ({} processes)", d.percent, d.processes),
            ),
            tick(|t| format!("{:.0}", t.ticks)),
            tick(|t| format!("{:.1}", t.mean_seconds * 1000.0)),
            tick(|t| format!("{:.0}", t.statements)),
            tick(|t| format!("{:.0}", t.workspaces)),
        ]);
    }
    section.note(format!(
        "Idle: the server restarted with `LLMLAB_NOTIFY_INTERVAL_SECS={IDLE_INTERVAL_SECS}`, \
         nobody calling it; CPU over {} s (after 2 s to settle) from `/proc/<pid>/stat`, \
         in percent of one core: the server process, and the PostgreSQL backends serving \
         its database (`pg_stat_activity`). The scheduler's tick figures come from \
         `/metrics` (`llmlab_notify_tick_seconds`, `llmlab_notify_tick_statements`, \
         `llmlab_notify_workspaces_visited_total`) over the same window.",
        r.options.seconds
    ));
    section.table(idle);
    let mut first = Table::new(&[
        "workspaces",
        "ticks",
        "workspaces visited",
        "ms per workspace",
        "statements per workspace",
    ]);
    for run in &r.runs {
        let Some(t) = &run.idle.first else {
            continue;
        };
        let visited = t.workspaces * t.ticks;
        first.row(vec![
            thousands(run.workspaces as u64),
            format!("{:.0}", t.ticks),
            format!("{visited:.0}"),
            format!(
                "{:.2}",
                t.mean_seconds * t.ticks * 1000.0 / visited.max(1.0)
            ),
            format!("{:.1}", t.statements * t.ticks / visited.max(1.0)),
        ]);
    }
    section.note(
        "Every workspace due: before the restart every workspace is marked due with \
         something changed (as after events everywhere), and the first ticks of the \
         restarted server visit them all (forecasts, anomalies, unpriced models, reports) \
         until `llmlab_notify_workspaces_visited_total` reaches the count; time and \
         statements of those ticks per workspace visited.",
    );
    section.table(first);
    if let Some(t) = &r.tags {
        section.note(format!(
            "Tag cardinality, at {} workspaces: one more workspace with {} events over the \
             last 30 days, tag `customer` taking {} values (seeded through the store in \
             {} s; on PostgreSQL then `VACUUM ANALYZE`). Each endpoint: one untimed call, {SEQUENTIAL_CALLS} one after the \
             other, then {PARALLEL_CLIENTS} clients with {PARALLEL_CALLS} calls each at \
             once. Server VmRSS {:.1} MiB before the calls, {:.1} MiB after (peak {:.1} MiB).",
            thousands(r.runs.iter().map(|x| x.workspaces).max().unwrap_or(0) as u64),
            thousands(TAG_EVENTS as u64),
            thousands(TAG_VALUES as u64),
            secs(t.seeding),
            t.before.rss_kib as f64 / 1024.0,
            t.after.rss_kib as f64 / 1024.0,
            t.after.peak_kib as f64 / 1024.0,
        ));
        let mut table = Table::new(&[
            "GET",
            "status",
            "bytes",
            "p50 ms",
            "p95 ms",
            "4 at once p50 ms",
            "4 at once p95 ms",
        ]);
        for timing in &t.timings {
            let p = |samples: &[u32], q: f64| {
                if samples.is_empty() {
                    "—".to_string()
                } else {
                    ms(load::percentile(samples, q))
                }
            };
            table.row(vec![
                format!("`{}`", timing.path),
                timing
                    .status
                    .map_or_else(|| "none".into(), |s| s.to_string()),
                thousands(timing.bytes as u64),
                p(&timing.sequential_us, 50.0),
                p(&timing.sequential_us, 95.0),
                p(&timing.parallel_us, 50.0),
                p(&timing.parallel_us, 95.0),
            ]);
        }
        section.table(table);
        section.note(
            "By-tag from 35 days ago adds every value up (too far from the ranking's \
             window for one to answer); by-tag over the default range (the last 30 days) \
             is timed once the ranking its untimed call asked for is built.",
        );
        for timing in &t.timings {
            if let Some(after) = timing.ranking_after {
                section.note(format!(
                    "`{}`: ranking built {after:.1} s after the untimed call.",
                    timing.path
                ));
            }
        }
        for timing in t.timings.iter().filter(|x| x.problem.is_some()) {
            let problem = timing.problem.as_deref().unwrap_or_default();
            section.note(format!("Problem with `{}`: {problem}", timing.path));
        }
    }
    section
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}
