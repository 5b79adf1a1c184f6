//! Acknowledged events survive the writer being killed (SIGKILL) mid-stream.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use llmlab_store::{NewEvent, Store, both_backends};

use crate::{T0, event, tags, user};

const CHILD_URL: &str = "LLMLAB_CRASH_CHILD";
const CHILD_USER: &str = "LLMLAB_CRASH_USER";
/// Acknowledgements the parent waits for before killing the child.
const ACKS_BEFORE_KILL: usize = 300;

/// The inserter run in a child process by `acknowledged_events_survive_a_kill`, not a
/// test of its own (ignored, so a normal run lists it as skipped rather than passed).
/// Prints `ACK <id>` for each event once it is committed.
#[test]
#[ignore = "the child process of acknowledged_events_survive_a_kill"]
fn crash_child() {
    let url = std::env::var(CHILD_URL)
        .expect("run by acknowledged_events_survive_a_kill, which sets LLMLAB_CRASH_CHILD");
    let user_id = llmlab_store::WorkspaceId(std::env::var(CHILD_USER).unwrap().parse().unwrap());
    let store = Store::connect(&url, 2).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0..100_000_i64 {
        let e = |j: i64| NewEvent {
            event_id: Some(format!("crash-{i}-{j}")),
            tags: tags(&[("n", &j.to_string())]),
            ..event(T0 + i, "openai", "gpt-4o", 1)
        };
        let ids: Vec<i64> = if i % 5 == 0 {
            let batch: Vec<NewEvent> = (0..20).map(e).collect();
            store
                .insert_batch(user_id, &batch)
                .unwrap()
                .iter()
                .map(|o| o.id())
                .collect()
        } else {
            vec![store.insert_event(user_id, &e(0)).unwrap().0.id]
        };
        for id in ids {
            writeln!(out, "ACK {id}").unwrap();
        }
        out.flush().unwrap();
    }
}

both_backends!(acknowledged_events_survive_a_kill, |db, store| {
    let u = user(&store, "crash@x.test");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, db.url())
        .env(CHILD_USER, u.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acked.len() < ACKS_BEFORE_KILL {
        let Some(line) = lines.next() else { break };
        if let Some(id) = line.unwrap().strip_prefix("ACK ") {
            acked.push(id.parse::<i64>().unwrap());
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acked.len(), ACKS_BEFORE_KILL, "the child stopped early");
    // Reopen the database, as a restarted server would.
    drop(store);
    let store = Store::connect(db.url(), 2).unwrap();
    for id in &acked {
        let row = store.event(u, *id).unwrap();
        assert!(row.is_some(), "acknowledged event {id} was lost");
    }
});
