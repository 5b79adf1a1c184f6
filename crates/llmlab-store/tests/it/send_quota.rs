//! Sending allowances: a use is counted only when it fits, a window starts with the
//! first use after the last one ended, workspaces and kinds are counted apart, and a
//! refusal rolls back the transaction it was made in.

use llmlab_store::send_quota::{Allowance, admit, kind};
use llmlab_store::{StoreError, both_backends};

use crate::HOUR;

const EMAIL: Allowance = Allowance {
    kind: kind::EMAIL,
    limit: 10,
    window_micros: HOUR,
};

fn wait(r: Result<(), StoreError>) -> u64 {
    match r {
        Err(StoreError::RateLimited {
            retry_after_secs, ..
        }) => retry_after_secs,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

both_backends!(allowances_count_what_fits_per_window, |_db, store| {
    let (a, b) = (
        crate::user(&store, "a@x.test"),
        crate::user(&store, "b@x.test"),
    );
    let t0 = crate::T0;
    store.admit_send(a, EMAIL, 7, t0).unwrap();
    // Four more do not fit: refused, and not counted, so three still do.
    assert_eq!(wait(store.admit_send(a, EMAIL, 4, t0 + 1_000_000)), 3600);
    store.admit_send(a, EMAIL, 3, t0 + 2_000_000).unwrap();
    assert_eq!(wait(store.admit_send(a, EMAIL, 1, t0 + HOUR - 1)), 1);
    // Another workspace, another kind: counted apart.
    store.admit_send(b, EMAIL, 10, t0).unwrap();
    let tests = Allowance {
        kind: kind::CHANNEL_TEST,
        ..EMAIL
    };
    store.admit_send(a, tests, 1, t0).unwrap();
    // The window ends an hour after its first use; the next use starts a new one.
    store.admit_send(a, EMAIL, 10, t0 + HOUR).unwrap();
    assert_eq!(wait(store.admit_send(a, EMAIL, 1, t0 + HOUR + 1)), 3600);

    // A refusal undoes the transaction it is part of.
    let r = store.transaction(|c| {
        admit(c, b, tests, 1, t0)?;
        admit(c, b, EMAIL, 1, t0)
    });
    wait(r);
    for _ in 0..10 {
        store.admit_send(b, tests, 1, t0).unwrap();
    }
    wait(store.admit_send(b, tests, 1, t0));
});
