//! The API key cache: a key is read once per interval, and a revocation reaches every
//! instance within that interval.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{assert_error, spawn_app_with};

fn revocation_is_bounded(backend: llmlab_store::Backend) {
    let Some(app) = spawn_app_with(backend, &[("LLMLAB_CREDENTIAL_CACHE_MS", "1000")]) else {
        return;
    };
    let other = app.second_instance();
    let token = app.signup("cache@example.com");
    let created = app
        .post("/api/keys", &token, json!({"name": "gateway"}))
        .json();
    let (key, id) = (
        created["key"].as_str().unwrap().to_string(),
        created["id"].clone(),
    );
    let event = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
                       "output_tokens": 1});
    for instance in [&app, &other] {
        assert_eq!(
            instance
                .post("/api/events/track", &key, event.clone())
                .status,
            201
        );
    }
    let revoked = Instant::now();
    let r = app.call("DELETE", &format!("/api/keys/{id}"), Some(&token), None);
    assert_eq!(r.status, 204);
    // Refused everywhere, and for good once the interval has passed. The bound itself
    // (trusted until the interval ends, not after) is the cache's own test, with a
    // clock it is given; here a deadline only keeps a broken cache from hanging.
    for instance in [&app, &other] {
        loop {
            let r = instance.post("/api/events/track", &key, event.clone());
            if r.status == 401 {
                break;
            }
            assert_eq!(r.status, 201);
            assert!(
                revoked.elapsed() < Duration::from_secs(30),
                "still accepted {:?} after revocation",
                revoked.elapsed()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(revoked.elapsed()));
    for instance in [&app, &other] {
        let r = instance.post("/api/events/track", &key, event.clone());
        assert_error(&r, 401, "unauthorized");
    }
    // A random key is never cached: still 401, and the real key's events were all kept.
    let r = app.post("/api/events/track", "llm_not_a_key", event);
    assert_error(&r, 401, "unauthorized");
}

llmlab_store::both_backends!(a_revoked_key_is_refused_within_the_bound, via revocation_is_bounded);

// A key dies at once on the instance that revoked it or deleted its workspace, however
// long the cache keeps keys. On another instance, still inside the cache's lifetime, a
// write with the key of a deleted workspace is refused as a dead credential (never a 500)
// and lands nowhere: workspace ids are never handed out again, so no newer workspace can
// be mistaken for the deleted one (SQLite reused the largest rowid).
fn dead_credentials(backend: llmlab_store::Backend) {
    let Some(app) = spawn_app_with(backend, &[("LLMLAB_CREDENTIAL_CACHE_MS", "60000")]) else {
        return;
    };
    let other = app.second_instance();
    let alice = app.signup("alice@example.com");
    let doomed = app
        .post("/api/workspaces", &alice, json!({"name": "doomed"}))
        .json()["id"]
        .as_i64()
        .unwrap();
    let key_of = |workspace: Option<i64>| {
        let created = app
            .call_in(
                workspace,
                "POST",
                "/api/keys",
                Some(&alice),
                Some(&json!({"name": "k"})),
            )
            .json();
        (
            created["key"].as_str().unwrap().to_string(),
            created["id"].clone(),
        )
    };
    let (key, _) = key_of(Some(doomed));
    let (revoked, revoked_id) = key_of(None);
    let event = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
                       "output_tokens": 1});
    // Both instances now hold both keys in their caches.
    for instance in [&app, &other] {
        for k in [&key, &revoked] {
            assert_eq!(
                instance.post("/api/events/track", k, event.clone()).status,
                201
            );
        }
    }
    let r = app.call(
        "DELETE",
        &format!("/api/keys/{revoked_id}"),
        Some(&alice),
        None,
    );
    assert_eq!(r.status, 204);
    assert_error(
        &app.post("/api/events/track", &revoked, event.clone()),
        401,
        "unauthorized",
    );

    let r = app.call(
        "DELETE",
        &format!("/api/workspaces/{doomed}"),
        Some(&alice),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_error(
        &app.post("/api/events/track", &key, event.clone()),
        401,
        "unauthorized",
    );

    // Mallory arrives after the deletion: her workspaces take new ids.
    let mallory = app.signup("mallory@example.com");
    let hers = app.get("/api/workspaces", &mallory).json()["workspaces"][0]["id"]
        .as_i64()
        .unwrap();
    let shared = app
        .post("/api/workspaces", &mallory, json!({"name": "m"}))
        .json()["id"]
        .as_i64()
        .unwrap();
    assert!(
        hers > doomed && shared > doomed,
        "{doomed} reused: {hers}, {shared}"
    );

    // The other instance still trusts the cached key, but the write has nowhere to go.
    let r = other.post("/api/events/track", &key, event.clone());
    assert_error(&r, 401, "unauthorized");
    let batch = json!({"events": [event.clone()]});
    assert_error(
        &other.post("/api/events/batch", &key, batch),
        401,
        "unauthorized",
    );
    // Refused from then on without a cached answer, and Mallory holds no event.
    assert_error(
        &other.post("/api/events/track", &key, event),
        401,
        "unauthorized",
    );
    for ws in [hers, shared] {
        let listed = app
            .call_in(Some(ws), "GET", "/api/events", Some(&mallory), None)
            .json();
        assert_eq!(listed["events"], json!([]), "workspace {ws}");
    }
}

llmlab_store::both_backends!(dead_credentials_die_at_once_and_ids_are_never_reused, via dead_credentials);
