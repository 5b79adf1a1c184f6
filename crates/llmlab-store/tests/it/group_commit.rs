//! Single events stored through the group-commit writer: concurrent callers share
//! transactions, and every caller still gets exactly its own outcome.

use std::sync::{Arc, Barrier};

use llmlab_store::{GroupCommit, InsertOutcome, NewEvent, both_backends};

use crate::{HOUR, T0, event, user};

/// Runs `call(i)` for every `i` in `0..n`, each on a thread of its own, all released
/// together so that the writer finds them waiting at once; returns the results in `i`
/// order.
fn at_once<T: Send + 'static>(n: i64, call: impl Fn(i64) -> T + Send + Sync + 'static) -> Vec<T> {
    let call = Arc::new(call);
    let barrier = Arc::new(Barrier::new(n as usize));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (call, barrier) = (call.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                call(i)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

both_backends!(
    concurrent_single_events_share_commits_and_keep_their_outcomes,
    |_db, store| {
        let a = user(&store, "gc-a@x.test");
        let b = user(&store, "gc-b@x.test");
        let writer = GroupCommit::start(store.clone(), 64).unwrap();
        // 48 callers: two users, and every third event repeats an idempotency key another
        // caller sends too.
        let results = at_once(48, move |i| {
            let user_id = if i % 2 == 0 { a } else { b };
            let mut e: NewEvent = event(T0 + i * HOUR, "openai", "gpt-4o", 1_000 + i);
            e.event_id = Some(format!("k{}", if i % 3 == 0 { 0 } else { i }));
            (user_id, i, writer.insert_event(user_id, e).unwrap())
        });
        for user_id in [a, b] {
            let mine: Vec<_> = results.iter().filter(|r| r.0 == user_id).collect();
            let inserted = mine
                .iter()
                .filter(|r| matches!(r.2.1, InsertOutcome::Inserted(_)))
                .count();
            // 24 callers each; 8 of them share key "k0": one stores it, seven repeat it.
            assert_eq!(inserted, 24 - 7, "user {user_id}");
            let k0: Vec<_> = mine.iter().filter(|r| r.1 % 3 == 0).collect();
            let stored_id = k0.iter().map(|r| r.2.0.id).min().unwrap();
            assert!(
                k0.iter()
                    .all(|r| r.2.0.id == stored_id && r.2.1.id() == stored_id)
            );
            for (_, i, (row, outcome)) in &mine {
                assert_eq!(row.workspace_id, user_id);
                if let InsertOutcome::Inserted(id) = outcome {
                    assert_eq!((row.id, row.cost_nanos), (*id, 1_000 + i));
                }
            }
            let totals = store.totals(user_id, &Default::default()).unwrap();
            assert_eq!(totals.calls, 17);
        }
    }
);

both_backends!(a_faulty_event_fails_alone, |_db, store| {
    let a = user(&store, "gc-f@x.test");
    let writer = GroupCommit::start(store.clone(), 64).unwrap();
    let results = at_once(16, move |i| {
        let mut e = event(T0 + i, "openai", "gpt-4o", 5);
        if i == 7 {
            // Refused by the table's CHECK constraint.
            e.tokens.input_tokens = -1;
        }
        (i, writer.insert_event(a, e))
    });
    for (i, result) in results {
        assert_eq!(result.is_err(), i == 7, "event {i}: {result:?}");
    }
    assert_eq!(store.totals(a, &Default::default()).unwrap().calls, 15);
});
