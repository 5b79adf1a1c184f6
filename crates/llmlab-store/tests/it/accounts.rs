use chrono::TimeDelta;
use llmlab_store::{NewApiKey, NewUser, Store, StoreError, both_backends, now_utc};

use crate::user;

both_backends!(emails_are_unique_case_insensitively, |_db, store| {
    let new = NewUser {
        email: " Ada@Example.COM ".into(),
        password_hash: "h1".into(),
    };
    let ada = store.create_user(&new).unwrap();
    assert_eq!(ada.email, "ada@example.com");
    let again = NewUser {
        email: "ada@example.com".into(),
        password_hash: "h2".into(),
    };
    assert!(matches!(
        store.create_user(&again),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.find_user_by_email("ADA@example.com").unwrap(),
        Some(ada.clone())
    );
    assert_eq!(store.find_user(ada.id).unwrap(), Some(ada.clone()));
    assert_eq!(store.find_user_by_email("bob@example.com").unwrap(), None);
    assert_eq!(
        store
            .find_user(llmlab_store::UserId(ada.id.get() + 1000))
            .unwrap(),
        None
    );
});

both_backends!(revocation_is_shared_and_purged, |db, store| {
    let id = crate::person(&store, "r@x.test").id;
    // A second server instance on the same database.
    let other = Store::connect(db.url(), 2).unwrap();
    let now = now_utc();
    store
        .revoke_token("jti-live", id, now + TimeDelta::hours(1))
        .unwrap();
    store
        .revoke_token("jti-live", id, now + TimeDelta::hours(1))
        .unwrap();
    store
        .revoke_token("jti-old", id, now - TimeDelta::hours(1))
        .unwrap();
    assert!(other.is_token_revoked("jti-live").unwrap());
    assert!(other.is_token_revoked("jti-old").unwrap());
    assert!(!other.is_token_revoked("jti-never").unwrap());
    assert_eq!(other.purge_revoked_tokens(now).unwrap(), 1);
    assert!(store.is_token_revoked("jti-live").unwrap());
    assert!(!store.is_token_revoked("jti-old").unwrap());
});

both_backends!(api_keys_are_scoped_by_user, |_db, store| {
    let a = user(&store, "a@x.test");
    let b = user(&store, "b@x.test");
    let key = |name: &str| NewApiKey {
        name: name.into(),
        prefix: format!("llmlab_{name}"),
        key_hash: format!("hash-{name}"),
        scopes: "ingest".into(),
        created_by: None,
        tags_json: "{}".into(),
    };
    let a1 = store.create_api_key(a, &key("a1")).unwrap();
    let a2 = store.create_api_key(a, &key("a2")).unwrap();
    let b1 = store.create_api_key(b, &key("b1")).unwrap();
    let again = store.create_api_key(b, &key("a1"));
    assert!(
        matches!(again, Err(llmlab_store::StoreError::Conflict(_))),
        "key hashes are unique: {again:?}"
    );
    assert_eq!(
        store.list_api_keys(a).unwrap(),
        vec![a1.clone(), a2.clone()]
    );
    assert_eq!(store.list_api_keys(b).unwrap(), vec![b1.clone()]);

    assert!(
        !store.delete_api_key(a, b1.id).unwrap(),
        "A cannot delete B's key"
    );
    assert_eq!(
        store.find_api_key_by_hash("hash-b1").unwrap(),
        Some(b1.clone())
    );
    assert!(store.delete_api_key(a, a1.id).unwrap());
    assert!(!store.delete_api_key(a, a1.id).unwrap(), "already deleted");
    assert_eq!(store.find_api_key_by_hash("hash-a1").unwrap(), None);
    assert_eq!(store.list_api_keys(a).unwrap(), vec![a2.clone()]);

    let t = now_utc();
    store.touch_api_key(a2.id, t).unwrap();
    let used = |store: &Store| {
        store
            .find_api_key_by_hash("hash-a2")
            .unwrap()
            .unwrap()
            .last_used_at
    };
    assert_eq!(used(&store), Some(t));
    store
        .touch_api_key(a2.id, t + TimeDelta::seconds(5))
        .unwrap();
    assert_eq!(
        used(&store),
        Some(t),
        "touches within a minute are coalesced"
    );
    let later = t + TimeDelta::seconds(61);
    store.touch_api_key(a2.id, later).unwrap();
    assert_eq!(used(&store), Some(later));
});

// Login attempts count per subject and window, every concurrent attempt once, and a
// subject's next attempt after its window ended starts a new one.
both_backends!(login_attempts_count_across_connections, |_db, store| {
    const MINUTE: i64 = 60_000_000;
    let t0 = 1_800_000_000_000_000;
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let first = store
        .count_login_attempts(&keys(&["a", "b"]), t0, MINUTE)
        .unwrap();
    assert_eq!(
        first
            .iter()
            .map(|w| (w.attempts, w.window_start))
            .collect::<Vec<_>>(),
        [(1, t0), (1, t0)]
    );
    let mut seen: Vec<i32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                s.spawn(move || {
                    (0..10)
                        .map(|j| {
                            let now = t0 + 1_000 * (i * 10 + j);
                            store
                                .count_login_attempts(&keys(&["a"]), now, MINUTE)
                                .unwrap()[0]
                                .attempts
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    seen.sort_unstable();
    assert_eq!(
        seen,
        (2..=81).collect::<Vec<_>>(),
        "every attempt counted once"
    );
    // "a"'s window ends a minute after t0: the next attempt opens a new one. "b"'s row,
    // whose window also ended, is purged on the way.
    let later = t0 + MINUTE;
    let next = store
        .count_login_attempts(&keys(&["a"]), later, MINUTE)
        .unwrap();
    assert_eq!((next[0].attempts, next[0].window_start), (1, later));
    let b = store
        .count_login_attempts(&keys(&["b"]), later + 1, MINUTE)
        .unwrap();
    assert_eq!((b[0].attempts, b[0].window_start), (1, later + 1));
    let a = store
        .count_login_attempts(&keys(&["a"]), later + MINUTE - 1, MINUTE)
        .unwrap();
    assert_eq!((a[0].attempts, a[0].window_start), (2, later));
});
