//! A Citus worker's process stopped (`pg_ctl stop -m immediate`, as a crash) while
//! clients ingest, then started again: requests that need it answer 503 with the JSON
//! error shape, never another status; clients that retry every unacknowledged event with
//! its idempotency key get each one stored exactly once; reports answer again.
//!
//! Runs on the Citus run's fault node only (`LLMLAB_TEST_CITUS_FAULT_*`, see
//! `xtask/src/pg/citus.rs`): the shared workers serve tests running at the same time, so
//! their processes are not stopped.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use llmlab_engine::Usd;
use llmlab_store::test_support::{
    TestDb, citus_fault_node, citus_workers, recover_prepared_transactions,
};
use serde_json::{Value, json};

use crate::{Response, TestApp, spawn_app_on};

/// What the clients are living through.
const BEFORE: u8 = 0;
const STOPPED: u8 = 1;
const RESTARTED: u8 = 2;

/// One client's account: what it had acknowledged, and what it saw.
#[derive(Default)]
struct Client {
    /// Event id → cost in nanodollars, for every event acknowledged (201, or 200 for a
    /// retry of one already stored).
    acked: Mutex<BTreeMap<String, i64>>,
    unavailable: AtomicUsize,
    duplicates: AtomicUsize,
    acked_after_restart: AtomicUsize,
}

/// A cost as this client's JSON holds it (an `f64`, which prints `0.000009` as `9e-6`),
/// in nanodollars: exact for the amounts here, far below a dollar.
fn nanos(v: &Value) -> i64 {
    let usd = v.as_f64().unwrap_or_else(|| panic!("not a cost: {v}"));
    Usd::parse(&format!("{usd:.9}"))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
        .nanos()
}

/// A 503 with the contract's error: `{"error": {"code": "database_unavailable",
/// "message": …}}`.
fn unavailable(r: &Response) -> bool {
    let body = serde_json::from_slice::<Value>(&r.body).unwrap_or_default();
    r.status == 503
        && body["error"]["code"] == "database_unavailable"
        && body["error"]["message"].is_string()
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Polls `done` every 50 ms, for at most a minute (a bound on a hang, not a speed).
fn wait_for(what: &str, wrong: &Mutex<Vec<String>>, done: impl Fn() -> bool) {
    for _ in 0..1200 {
        if done() || !wrong.lock().unwrap().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    wrong
        .lock()
        .unwrap()
        .push(format!("gave up waiting: {what}"));
}

/// Sends events to `ws` until `stop`, each until it is acknowledged; anything but a
/// 201, a 200 or a 503 `database_unavailable` goes to `wrong` and ends the client.
fn ingest(
    app: &TestApp,
    token: &str,
    (n, ws): (usize, i64),
    me: &Client,
    (phase, stop): (&AtomicU8, &AtomicBool),
    wrong: &Mutex<Vec<String>>,
) {
    for i in 0.. {
        if stop.load(Ordering::Acquire) {
            return;
        }
        let id = format!("fault-{n}-{i}");
        let cost = 1_000 * (i % 97 + 1) + n as i64;
        let body = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 10,
            "output_tokens": 5, "cost_usd": Usd::from_nanos(cost).to_string(), "event_id": id});
        loop {
            let sent_in = phase.load(Ordering::Acquire);
            let r = app.call_in(
                Some(ws),
                "POST",
                "/api/events/track",
                Some(token),
                Some(&body),
            );
            match r.status {
                201 | 200 => {
                    if r.status == 200 {
                        me.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    if sent_in == RESTARTED {
                        me.acked_after_restart.fetch_add(1, Ordering::Release);
                    }
                    me.acked.lock().unwrap().insert(id, cost);
                    break;
                }
                _ if unavailable(&r) => {
                    me.unavailable.fetch_add(1, Ordering::Release);
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let text = r.text();
                    wrong
                        .lock()
                        .unwrap()
                        .push(format!("event {id} of workspace {ws}: {} {text}", r.status));
                    return;
                }
            }
        }
    }
}

#[test]
#[ignore = "needs a Citus cluster with a fault node (LLMLAB_TEST_CITUS_FAULT_NODE): the Citus \
            run of `cargo xtask test` runs it"]
fn a_worker_stopped_mid_ingest_is_503_and_retried_events_are_stored_once() {
    let (Some(fault), [worker, ..]) = (citus_fault_node(), &citus_workers()[..]) else {
        panic!("LLMLAB_TEST_CITUS_FAULT_NODE or LLMLAB_TEST_CITUS_WORKERS is unset");
    };
    // A database of its own whose workers are a shared worker and the fault node.
    let db = TestDb::on_citus_workers(&[worker.clone(), fault.url().to_string()]);
    let url = db.url().to_string();
    let app = spawn_app_on(db, &[("LLMLAB_DB_TIMEOUT_MS", "500")]);
    let token = app.signup("fault@example.com");

    // Workspaces until three have their shards on the fault node and two elsewhere.
    let (mut on_fault, mut elsewhere) = (Vec::new(), Vec::new());
    for i in 0..40 {
        if on_fault.len() >= 3 && elsewhere.len() >= 2 {
            break;
        }
        let r = app.post(
            "/api/workspaces",
            &token,
            json!({"name": format!("ws-{i}")}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let ws = r.json()["id"].as_i64().unwrap();
        if fault.holds_workspace(&url, ws) {
            on_fault.push(ws);
        } else {
            elsewhere.push(ws);
        }
    }
    assert!(
        on_fault.len() >= 3 && elsewhere.len() >= 2,
        "40 workspaces and not three on each side: {on_fault:?} {elsewhere:?}"
    );
    let workspaces: Vec<i64> = on_fault[..3]
        .iter()
        .chain(&elsewhere[..2])
        .copied()
        .collect();

    let clients: Vec<Client> = workspaces.iter().map(|_| Client::default()).collect();
    let (phase, stop) = (AtomicU8::new(BEFORE), AtomicBool::new(false));
    let wrong = Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        // However this closure ends, the clients stop: the scope waits for them.
        let _stop = StopOnDrop(&stop);
        for (n, (&ws, me)) in workspaces.iter().zip(&clients).enumerate() {
            let (app, token, phase, stop, wrong) = (&app, &token, &phase, &stop, &wrong);
            s.spawn(move || ingest(app, token, (n, ws), me, (phase, stop), wrong));
        }
        let acked = || -> usize { clients.iter().map(|c| c.acked.lock().unwrap().len()).sum() };
        wait_for("50 events acknowledged", &wrong, || acked() >= 50);

        fault.stop_immediately();
        phase.store(STOPPED, Ordering::Release);
        wait_for(
            "a 503 for each client of a workspace on the stopped node",
            &wrong,
            || {
                clients[..3]
                    .iter()
                    .all(|c| c.unavailable.load(Ordering::Acquire) > 0)
            },
        );
        // Its reports need the node too, and say so the same way; a workspace on the
        // other worker still has its own.
        let report = |ws| app.call_in(Some(ws), "GET", "/api/costs/summary", Some(&token), None);
        let r = report(on_fault[0]);
        if !unavailable(&r) {
            let text = r.text();
            let seen = format!("a report during the outage: {} {text}", r.status);
            wrong.lock().unwrap().push(seen);
        }
        let r = report(elsewhere[0]);
        if r.status != 200 {
            let text = r.text();
            let seen = format!(
                "a report from the other worker meanwhile: {} {text}",
                r.status
            );
            wrong.lock().unwrap().push(seen);
        }

        fault.start();
        recover_prepared_transactions(&url);
        phase.store(RESTARTED, Ordering::Release);
        wait_for(
            "an event acknowledged after the restart by every client",
            &wrong,
            || {
                clients
                    .iter()
                    .all(|c| c.acked_after_restart.load(Ordering::Acquire) > 0)
            },
        );
    });
    let wrong = wrong.into_inner().unwrap();
    assert!(wrong.is_empty(), "{wrong:#?}");

    // Each workspace holds exactly the events its client had acknowledged, once each, at
    // the costs it sent.
    for (&ws, client) in workspaces.iter().zip(&clients) {
        let acked = client.acked.lock().unwrap();
        let mut stored = Vec::new();
        let mut path = "/api/events?limit=1000".to_string();
        loop {
            let page = app.call_in(Some(ws), "GET", &path, Some(&token), None);
            assert_eq!(page.status, 200, "{}", page.text());
            let page = page.json();
            for e in page["events"].as_array().unwrap() {
                stored.push((
                    e["event_id"].as_str().unwrap().to_string(),
                    nanos(&e["cost_usd"]),
                ));
            }
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/events?limit=1000&cursor={c}"),
                None => break,
            }
        }
        stored.sort();
        let sent: Vec<(String, i64)> = acked.iter().map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(
            stored, sent,
            "workspace {ws}: stored events against acknowledged ones"
        );

        let summary = app.call_in(Some(ws), "GET", "/api/costs/summary", Some(&token), None);
        assert_eq!(summary.status, 200, "{}", summary.text());
        let summary = summary.json();
        assert_eq!(
            summary["total_calls"],
            acked.len(),
            "workspace {ws}: {summary}"
        );
        let cost: i64 = acked.values().sum();
        assert_eq!(
            nanos(&summary["total_cost_usd"]),
            cost,
            "workspace {ws}: {summary}"
        );
        eprintln!(
            "workspace {ws} ({}): {} events, {} answers 503, {} retries answered 200",
            if on_fault.contains(&ws) {
                "on the stopped node"
            } else {
                "elsewhere"
            },
            acked.len(),
            client.unavailable.load(Ordering::Relaxed),
            client.duplicates.load(Ordering::Relaxed),
        );
    }
}
