//! Reports from a read replica (`LLMLAB_READ_DATABASE_URL`), against the streaming
//! replica `cargo xtask test` starts (`LLMLAB_TEST_PG_REPLICA_URL`, its primary
//! `LLMLAB_TEST_PG_REPLICA_PRIMARY_URL`): reports come from the replica once it has
//! replayed, the pre-flight check reads its own writes, and a lagging or unreachable
//! replica sends reads to the primary and counts it in `/metrics`.
//!
//! Pausing replay pauses it for every database of the replica cluster: the other tests
//! here wait for replication with generous deadlines rather than assume it is prompt.

use std::time::{Duration, Instant};

use llmlab_store::admin::with_database;
use llmlab_store::test_support::{TestDb, execute_on, sqlite_only};
use serde_json::{Value, json};

use crate::{TestApp, spawn_app_on, spawn_app_with};

/// The replicated pair's server URLs. The tests that need them are ignored, saying
/// why, in a run without them; `cargo xtask test` starts the replica and runs them.
fn pair() -> (String, String) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is unset: `cargo xtask test` starts a streaming replica and sets it")
        })
    };
    (
        var("LLMLAB_TEST_PG_REPLICA_PRIMARY_URL"),
        var("LLMLAB_TEST_PG_REPLICA_URL"),
    )
}

/// A server reading only the primary, a second instance on the same database reading
/// reports from the replica (with `extra` settings), and the replica's server URL.
fn replicated(extra: &[(&str, &str)]) -> (TestApp, TestApp, String) {
    let (primary, replica) = pair();
    let db = TestDb::on_pg_server(&primary);
    let name = db.pg_name().expect("a PostgreSQL database").to_string();
    let plain = spawn_app_on(db, &[]);
    let read_url = with_database(&replica, &name);
    let mut settings = vec![("LLMLAB_READ_DATABASE_URL", read_url.as_str())];
    settings.extend_from_slice(extra);
    let reading = plain.instance_with(&settings);
    (plain, reading, replica)
}

/// A counter's value in `/metrics` (`series` with its labels), 0 when absent.
fn metric(app: &TestApp, series: &str) -> u64 {
    let text = app.call("GET", "/metrics", None, None).text();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

const READS: &str = "llmlab_replica_reads_total";
const LAGGING: &str = "llmlab_replica_fallbacks_total{reason=\"lagging\"}";
const UNREACHABLE: &str = "llmlab_replica_fallbacks_total{reason=\"unreachable\"}";
const FAILED: &str = "llmlab_replica_fallbacks_total{reason=\"failed\"}";

/// The reports a replica serves, one store read each, over a fixed range (the default
/// one ends now, which moves between two calls).
fn report_paths() -> Vec<String> {
    let today = chrono::Utc::now().date_naive();
    let range = format!(
        "start={}&end={}",
        today - chrono::Days::new(7),
        today + chrono::Days::new(1)
    );
    vec![
        format!("/api/costs/summary?{range}"),
        format!("/api/costs/by-provider?{range}"),
        format!("/api/costs/top-models?{range}"),
        format!("/api/costs/by-tag?key=team&{range}"),
        "/api/costs/forecast".into(),
        format!("/api/events?{range}"),
        format!("/api/events/export?{range}"),
        "/api/recommendations".into(),
    ]
}

/// What differs by the instant of the call (the forecast of the elapsed part of the
/// period, `generated_at`) is left out.
fn reports(app: &TestApp, token: &str, paths: &[String]) -> Vec<Value> {
    paths
        .iter()
        .map(|path| {
            let r = app.get(path, token);
            assert_eq!(r.status, 200, "{path}: {}", r.text());
            if path.contains("export") {
                return Value::String(r.text());
            }
            let mut v = r.json();
            if let Some(o) = v.as_object_mut() {
                for moving in [
                    "generated_at",
                    "forecast_usd",
                    "forecast_low_usd",
                    "forecast_high_usd",
                ] {
                    o.remove(moving);
                }
            }
            v
        })
        .collect()
}

/// Polls `done` every 100 ms until it holds, for at most `within`; the panic shows what
/// `state` said last.
fn eventually(within: Duration, what: &str, mut done: impl FnMut(&mut String) -> bool) {
    let deadline = Instant::now() + within;
    let mut state = String::new();
    while !done(&mut state) {
        assert!(
            Instant::now() < deadline,
            "not within {within:?}: {what}; last: {state}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn track(app: &TestApp, token: &str, model: &str, output_tokens: u64, team: &str) {
    let r = app.post(
        "/api/events/track",
        token,
        json!({"provider": "openai", "model": model, "input_tokens": 1000,
               "output_tokens": output_tokens, "tags": {"team": team}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
#[ignore = "needs a streaming replica (LLMLAB_TEST_PG_REPLICA_URL): `cargo xtask test` starts one and runs it"]
fn reports_come_from_the_replica_and_match_the_primary() {
    let (primary, app, _) = replicated(&[]);
    let token = app.signup("replica@example.com");
    track(&app, &token, "gpt-4o", 2000, "search");
    track(&app, &token, "gpt-4.1", 5000, "chat");
    track(&app, &token, "gpt-4o-mini", 100, "chat");
    let paths = report_paths();
    let expected = reports(&primary, &token, &paths);
    assert_eq!(expected[0]["total_calls"], 3, "{}", expected[0]);
    // Every report of one round served by the replica, and equal to the primary's.
    eventually(
        Duration::from_secs(30),
        "the replica serves the primary's reports",
        |state| {
            let before = metric(&app, READS);
            let got = reports(&app, &token, &paths);
            let served = metric(&app, READS) - before;
            let differ: Vec<_> = (0..paths.len())
                .filter(|i| got[*i] != expected[*i])
                .map(|i| format!("{}: {} vs {}", paths[i], got[i], expected[i]))
                .collect();
            *state = format!("{served} served by the replica; differing: {differ:?}");
            served == paths.len() as u64 && differ.is_empty()
        },
    );
}

/// Resumes replay when the test ends, passed or not: a paused replica would hold back
/// every other test on it.
struct Paused(String);

impl Drop for Paused {
    fn drop(&mut self) {
        execute_on(&self.0, "SELECT pg_wal_replay_resume()");
    }
}

#[test]
#[ignore = "needs a streaming replica (LLMLAB_TEST_PG_REPLICA_URL): `cargo xtask test` starts one and runs it"]
fn own_writes_are_read_at_once_and_a_lagging_replica_falls_back() {
    let (_primary, app, replica) = replicated(&[("LLMLAB_REPLICA_MAX_LAG_MS", "1000")]);
    let token = app.signup("lagging@example.com");
    let budget = app.post(
        "/api/budgets",
        &token,
        json!({"name": "openai", "amount_usd": 5, "period": "monthly",
               "scope": {"provider": "openai"}}),
    );
    assert_eq!(budget.status, 201, "{}", budget.text());
    // $3 of gpt-4.1 output (375k × $8/M).
    let three_dollars = json!({"provider": "openai", "model": "gpt-4.1",
                               "input_tokens": 0, "output_tokens": 375000});
    assert_eq!(
        app.post("/api/events/track", &token, three_dollars.clone())
            .status,
        201
    );
    let calls = |app: &TestApp| app.get("/api/costs/summary", &token).json()["total_calls"].clone();
    eventually(
        Duration::from_secs(30),
        "the replica serves the event",
        |_| {
            let before = metric(&app, READS);
            calls(&app) == 1 && metric(&app, READS) > before
        },
    );

    let admin = with_database(&replica, "postgres");
    execute_on(&admin, "SELECT pg_wal_replay_pause()");
    let _resume = Paused(admin);
    assert_eq!(
        app.post("/api/events/track", &token, three_dollars).status,
        201
    );
    // The pre-flight check reads the primary: $6 of $5 is exceeded at once, whatever
    // the replica has replayed.
    let check = app.get("/api/budgets/check?provider=openai", &token).json();
    assert_eq!(check["allowed"], false, "{check}");
    assert_eq!(check["budgets"][0]["status"], "exceeded", "{check}");
    // Once the replica is judged more than a second behind, reports read the primary,
    // which has the second event, and the fallback is counted.
    eventually(
        Duration::from_secs(20),
        "a lagging replica's reads go to the primary",
        |_| calls(&app) == 2 && metric(&app, LAGGING) > 0,
    );
    drop(_resume);
    eventually(
        Duration::from_secs(30),
        "the replica serves reports again once it has caught up",
        |_| {
            let before = metric(&app, READS);
            calls(&app) == 2 && metric(&app, READS) > before
        },
    );
}

#[test]
fn an_unreachable_replica_falls_back_to_the_primary() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let read_url = format!("postgres://postgres@127.0.0.1:{port}/gone");
    let Some(app) = spawn_app_with(
        llmlab_store::Backend::Postgres,
        &[
            ("LLMLAB_READ_DATABASE_URL", read_url.as_str()),
            ("LLMLAB_DB_TIMEOUT_MS", "300"),
        ],
    ) else {
        eprintln!("LLMLAB_TEST_SQLITE_ONLY=1: read-replica test skipped");
        return;
    };
    let token = app.signup("unreachable@example.com");
    track(&app, &token, "gpt-4o", 2000, "search");
    eventually(
        Duration::from_secs(20),
        "reads fall back to the primary and are counted",
        |_| {
            let got = reports(&app, &token, &report_paths());
            got[0]["total_calls"] == 1 && metric(&app, UNREACHABLE) > 0
        },
    );
    assert_eq!(metric(&app, READS), 0);
}

/// A replica can answer and still fail a query the primary answers: a statement
/// cancelled by a recovery conflict, or a schema it has not replayed yet. Reads are
/// idempotent, so such a read is retried on the primary instead of failing the request.
#[test]
fn a_read_the_replica_fails_is_answered_by_the_primary() {
    // A database that answers like a healthy replica (it is not in recovery: no lag)
    // but holds none of LLMLab's tables, so every report query fails there.
    if sqlite_only() {
        eprintln!("LLMLAB_TEST_SQLITE_ONLY=1: read-replica test skipped");
        return;
    }
    let schemaless = TestDb::new(llmlab_store::Backend::Postgres);
    let Some(app) = spawn_app_with(
        llmlab_store::Backend::Postgres,
        &[("LLMLAB_READ_DATABASE_URL", schemaless.url())],
    ) else {
        return;
    };
    let token = app.signup("failing@example.com");
    track(&app, &token, "gpt-4o", 2000, "search");
    let paths = report_paths();
    eventually(
        Duration::from_secs(20),
        "reads the replica fails are answered by the primary and counted",
        |state| {
            let got = reports(&app, &token, &paths);
            *state = format!("{}: {}", metric(&app, FAILED), got[0]);
            got[0]["total_calls"] == 1 && metric(&app, FAILED) >= paths.len() as u64
        },
    );
    assert_eq!(metric(&app, READS), 0, "nothing was served by the replica");
}

#[test]
fn a_replica_needs_postgres_on_both_sides() {
    use llmlab_app::config::Settings;
    let settings = |pairs: &'static [(&str, &str)]| {
        Settings::from_lookup(|k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    };
    let e = settings(&[("LLMLAB_READ_DATABASE_URL", "postgres://u@replica/db")])
        .expect_err("an SQLite primary");
    assert!(e.to_string().contains("LLMLAB_READ_DATABASE_URL"), "{e}");
    let e = settings(&[
        ("DATABASE_URL", "postgres://u@primary/db"),
        ("LLMLAB_READ_DATABASE_URL", "sqlite://reports.db"),
    ])
    .expect_err("an SQLite replica");
    assert!(e.to_string().contains("PostgreSQL"), "{e}");
    let ok = settings(&[
        ("DATABASE_URL", "postgres://u@primary/db"),
        ("LLMLAB_READ_DATABASE_URL", "postgres://u@replica/db"),
    ])
    .expect("PostgreSQL on both sides");
    assert_eq!(ok.replica_max_lag_ms, 5_000);
}
