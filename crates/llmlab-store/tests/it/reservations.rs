//! Reservations on hard budgets: what one holds, what settles and releases it, and
//! the guarantee under concurrency and over random interleavings.

use std::sync::{Arc, Barrier};

use llmlab_store::reservations::{self, Ask, Hold, Outcome, Request, ReserveQueue};
use llmlab_store::{
    BudgetRow, EventFilter, NewBudget, NewEvent, Store, WorkspaceId, both_backends,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::budgets::budget;
use crate::{HOUR, T0, event, user};

/// A hard budget of `amount_nanos` over every event of all time.
fn hard(store: &Store, w: WorkspaceId, name: &str, amount_nanos: i64) -> BudgetRow {
    store
        .create_budget(
            w,
            &NewBudget {
                amount_nanos,
                period: "total".into(),
                enforce: "hard".into(),
                ..budget(name)
            },
        )
        .unwrap()
}

fn hold(b: &BudgetRow) -> Hold {
    Hold {
        budget_id: b.id,
        amount_nanos: b.spec.amount_nanos,
        counts: EventFilter::default(),
    }
}

fn request(id: &str, amount_nanos: i64, now: i64) -> Request<'_> {
    Request {
        reservation_id: id,
        amount_nanos,
        now,
        expires_at: now + HOUR,
        max_live: 10_000,
    }
}

/// An event of `cost_nanos` that settles reservation `id`.
fn settling(id: &str, cost_nanos: i64, n: i64) -> NewEvent {
    NewEvent {
        reservation_id: Some(id.into()),
        event_id: Some(format!("call-{n}")),
        ..event(T0 + n, "openai", "gpt-4o", cost_nanos)
    }
}

/// (spent, reserved) of budget `b` at `now`.
fn standing(store: &Store, w: WorkspaceId, b: &BudgetRow, now: i64) -> (i64, i64) {
    let spent = store.spend_each(w, &[EventFilter::default()]).unwrap()[0];
    let reserved = store.held_each(w, &[b.id], now).unwrap()[0];
    (spent, reserved)
}

both_backends!(
    a_reservation_holds_until_settled_released_or_expired,
    |_db, store| {
        let w = user(&store, "r@x.test");
        let b = hard(&store, w, "hard", 1_000);
        let now = T0;
        let held = store
            .reserve(w, &[hold(&b)], &request("a", 600, now))
            .unwrap();
        let Outcome::Held(standings) = held else {
            panic!("refused: {held:?}")
        };
        assert_eq!(standings[0].available_nanos(), 400);
        // 600 held: 500 more is refused, naming what is available.
        match store
            .reserve(w, &[hold(&b)], &request("b", 500, now))
            .unwrap()
        {
            Outcome::Refused(s) => assert_eq!(
                (s.spent_nanos, s.reserved_nanos, s.available_nanos()),
                (0, 600, 400)
            ),
            other => panic!("not refused: {other:?}"),
        }
        // The call costs 250: settled, it counts 250 and frees the other 350.
        store.insert_event(w, &settling("a", 250, 1)).unwrap();
        assert_eq!(standing(&store, w, &b, now), (250, 0));
        // Its retry stores nothing and settles nothing again.
        store.insert_event(w, &settling("a", 250, 1)).unwrap();
        assert!(matches!(
            store
                .reserve(w, &[hold(&b)], &request("c", 700, now))
                .unwrap(),
            Outcome::Held(_)
        ));
        assert_eq!(standing(&store, w, &b, now), (250, 700));
        // Released: nothing held; a second release changes nothing.
        assert_eq!(store.release_reservation(w, "c").unwrap(), 1);
        assert_eq!(store.release_reservation(w, "c").unwrap(), 0);
        assert_eq!(standing(&store, w, &b, now), (250, 0));
        // Expired: held no more, and swept by the next reservation.
        let short = Request {
            expires_at: now + 10,
            ..request("d", 750, now)
        };
        assert!(matches!(
            store.reserve(w, &[hold(&b)], &short).unwrap(),
            Outcome::Held(_)
        ));
        assert_eq!(standing(&store, w, &b, now + 9).1, 750);
        assert_eq!(standing(&store, w, &b, now + 10).1, 0);
        let later = request("e", 750, now + 10);
        assert!(matches!(
            store.reserve(w, &[hold(&b)], &later).unwrap(),
            Outcome::Held(_)
        ));
        // An event settling an expired reservation still counts its cost.
        store.insert_event(w, &settling("d", 5, 2)).unwrap();
        assert_eq!(standing(&store, w, &b, now + 10), (255, 750));
    }
);

both_backends!(a_reservation_holds_on_every_budget_or_none, |_db, store| {
    let w = user(&store, "all@x.test");
    let big = hard(&store, w, "big", 10_000);
    let small = hard(&store, w, "small", 100);
    let both = [hold(&big), hold(&small)];
    match store.reserve(w, &both, &request("a", 150, T0)).unwrap() {
        Outcome::Refused(s) => assert_eq!(s.budget_id, small.id),
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(
        store.held_each(w, &[big.id, small.id], T0).unwrap(),
        vec![0, 0]
    );
    // Another workspace's reservations are not this one's.
    let other = user(&store, "other@x.test");
    assert_eq!(store.release_reservation(other, "a").unwrap(), 0);
    // At its limit of live rows, a workspace reserves nothing more.
    let full = Request {
        max_live: 3,
        ..request("b", 10, T0)
    };
    assert!(matches!(
        store.reserve(w, &both, &full).unwrap(),
        Outcome::Held(_)
    ));
    let full = Request {
        reservation_id: "c",
        ..full
    };
    assert_eq!(store.reserve(w, &both, &full).unwrap(), Outcome::Full);
    // Deleting a budget deletes what is held against it.
    assert!(store.delete_budget(w, small.id).unwrap());
    assert_eq!(store.held_each(w, &[small.id], T0).unwrap(), vec![0]);
});

both_backends!(
    concurrent_reservations_never_hold_more_than_is_left,
    |_db, store| {
        let w = user(&store, "race@x.test");
        // $1 budget with 0.25 spent: room for exactly 7 reservations of 0.1.
        let b = hard(&store, w, "race", 1_000_000_000);
        store
            .insert_event(w, &event(T0, "openai", "gpt-4o", 250_000_000))
            .unwrap();
        let callers = 64;
        let gate = Arc::new(Barrier::new(callers));
        let held: usize = std::thread::scope(|scope| {
            let tasks: Vec<_> = (0..callers)
                .map(|i| {
                    let (store, gate, b) = (store.clone(), gate.clone(), b.clone());
                    scope.spawn(move || {
                        gate.wait();
                        let id = format!("r{i}");
                        match store
                            .reserve(w, &[hold(&b)], &request(&id, 100_000_000, T0))
                            .unwrap()
                        {
                            Outcome::Held(_) => 1,
                            Outcome::Refused(_) => 0,
                            Outcome::Full => panic!("full"),
                        }
                    })
                })
                .collect();
            tasks.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert_eq!(held, 7);
        assert_eq!(standing(&store, w, &b, T0), (250_000_000, 700_000_000));
    }
);

both_backends!(
    a_group_is_decided_in_order_in_one_transaction,
    |_db, store| {
        let w = user(&store, "group@x.test");
        let a = hard(&store, w, "a", 1_000);
        let b = hard(&store, w, "b", 500);
        let ask = |id: &str, holds: Vec<Hold>, amount: i64| Ask {
            holds,
            reservation_id: id.into(),
            amount_nanos: amount,
            now: T0,
            expires_at: T0 + HOUR,
            max_live: 10_000,
        };
        let asks = [
            ask("1", vec![hold(&a), hold(&b)], 400),
            // b has 100 left after the first: refused, and a keeps its 600.
            ask("2", vec![hold(&a), hold(&b)], 200),
            ask("3", vec![hold(&a)], 600),
            ask("4", vec![hold(&a)], 1),
        ];
        let outcomes = store
            .with_conn(|c| reservations::reserve_all(c, w, &asks))
            .unwrap();
        let held: Vec<bool> = outcomes
            .iter()
            .map(|o| matches!(o, Outcome::Held(_)))
            .collect();
        assert_eq!(held, [true, false, true, false]);
        assert!(
            matches!(&outcomes[1], Outcome::Refused(s) if s.budget_id == b.id && s.available_nanos() == 100)
        );
        assert_eq!(
            store.held_each(w, &[a.id, b.id], T0).unwrap(),
            vec![1_000, 400]
        );
    }
);

both_backends!(the_queue_never_holds_more_than_is_left, |_db, store| {
    let w = user(&store, "queue@x.test");
    let b = hard(&store, w, "queue", 1_000_000_000);
    store
        .insert_event(w, &event(T0, "openai", "gpt-4o", 250_000_000))
        .unwrap();
    let queue = ReserveQueue::start(store.clone(), 256).unwrap();
    let callers = 64;
    let gate = Arc::new(Barrier::new(callers));
    let held: usize = std::thread::scope(|scope| {
        let tasks: Vec<_> = (0..callers)
            .map(|i| {
                let (queue, gate, b) = (queue.clone(), gate.clone(), b.clone());
                scope.spawn(move || {
                    gate.wait();
                    let ask = Ask {
                        holds: vec![hold(&b)],
                        reservation_id: format!("q{i}"),
                        amount_nanos: 100_000_000,
                        now: T0,
                        expires_at: T0 + HOUR,
                        max_live: 10_000,
                    };
                    usize::from(matches!(queue.reserve(w, ask).unwrap(), Outcome::Held(_)))
                })
            })
            .collect();
        tasks.into_iter().map(|t| t.join().unwrap()).sum()
    });
    assert_eq!(held, 7);
    assert_eq!(standing(&store, w, &b, T0), (250_000_000, 700_000_000));
});

/// One step of a random interleaving.
#[derive(Debug, Clone)]
enum Step {
    /// Reserve this much.
    Reserve(i64),
    /// Settle the n-th live reservation with an actual cost of its amount × pct / 100.
    Settle(usize, i64),
    /// Release the n-th live reservation.
    Release(usize),
    /// Let time pass by this many microseconds (reservations live 1,000).
    Wait(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1i64..400).prop_map(Step::Reserve),
        2 => (0usize..8, prop_oneof![0i64..100, Just(100i64), 101i64..250]).prop_map(|(n, p)| Step::Settle(n, p)),
        1 => (0usize..8).prop_map(Step::Release),
        1 => (1i64..700).prop_map(Step::Wait),
    ]
}

both_backends!(random_interleavings_keep_the_sums, |_db, store| {
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let w = user(&store, &format!("prop{n}@x.test"));
            let b = hard(&store, w, "prop", 1_000);
            // The model: live reservations (id, amount, expires) and the spend.
            let mut live: Vec<(String, i64, i64)> = Vec::new();
            let (mut spent, mut now, mut next) = (0i64, T0, 0i64);
            for step in steps {
                live.retain(|r| r.2 > now);
                match step {
                    Step::Reserve(amount) => {
                        next += 1;
                        let id = format!("r{next}");
                        let req = Request {
                            expires_at: now + 1_000,
                            ..request(&id, amount, now)
                        };
                        let reserved: i64 = live.iter().map(|r| r.1).sum();
                        let room = (1_000 - spent - reserved).max(0);
                        match store.reserve(w, &[hold(&b)], &req).unwrap() {
                            Outcome::Held(_) => {
                                prop_assert!(amount <= room, "held {amount} with {room} left");
                                live.push((id, amount, now + 1_000));
                            }
                            Outcome::Refused(s) => {
                                prop_assert!(amount > room, "refused {amount} with {room} left");
                                prop_assert_eq!(s.available_nanos(), room);
                            }
                            Outcome::Full => prop_assert!(false, "full"),
                        }
                    }
                    Step::Settle(i, pct) if !live.is_empty() => {
                        let (id, amount, _) = live.remove(i % live.len());
                        next += 1;
                        let cost = amount * pct / 100;
                        store.insert_event(w, &settling(&id, cost, next)).unwrap();
                        spent += cost;
                    }
                    Step::Release(i) if !live.is_empty() => {
                        let (id, _, _) = live.remove(i % live.len());
                        prop_assert_eq!(store.release_reservation(w, &id).unwrap(), 1);
                    }
                    Step::Wait(micros) => now += micros,
                    _ => {}
                }
                live.retain(|r| r.2 > now);
                let reserved: i64 = live.iter().map(|r| r.1).sum();
                prop_assert_eq!(standing(&store, w, &b, now), (spent, reserved));
            }
            Ok(())
        })
        .unwrap();
});
