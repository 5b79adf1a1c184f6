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
    // Refused everywhere within the bound, and for good after it.
    for instance in [&app, &other] {
        loop {
            let r = instance.post("/api/events/track", &key, event.clone());
            if r.status == 401 {
                break;
            }
            assert_eq!(r.status, 201);
            assert!(
                revoked.elapsed() < Duration::from_millis(1500),
                "still accepted {:?} after revocation",
                revoked.elapsed()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::thread::sleep(Duration::from_millis(1100));
    for instance in [&app, &other] {
        let r = instance.post("/api/events/track", &key, event.clone());
        assert_error(&r, 401, "unauthorized");
    }
    // A random key is never cached: still 401, and the real key's events were all kept.
    let r = app.post("/api/events/track", "llm_not_a_key", event);
    assert_error(&r, 401, "unauthorized");
}

llmlab_store::both_backends!(a_revoked_key_is_refused_within_the_bound, via revocation_is_bounded);
