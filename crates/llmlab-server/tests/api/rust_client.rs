//! `llmlab-client`, the crate Rust services send events with, against the real server:
//! batches stored once each, rejections counted, the pre-flight check read exactly, a
//! quota's 429 and a batch too big for it handled, and a server restart mid-stream with
//! no event lost or doubled.

use std::collections::BTreeSet;
use std::time::Duration;

use llmlab_client::{Call, Client, Event, Usd};
use serde_json::json;

use crate::{TestApp, both};

/// A session token and an `ingest` API key of a fresh account.
fn account(app: &TestApp, email: &str) -> (String, String) {
    let token = app.signup(email);
    let r = app.post("/api/keys", &token, json!({"name": "service"}));
    assert_eq!(r.status, 201, "{}", r.text());
    let key = r.json()["key"].as_str().unwrap().to_owned();
    (token, key)
}

fn client(app: &TestApp, key: &str) -> llmlab_client::Builder {
    Client::builder(format!("http://{}", app.addr), key)
        .backoff(Duration::from_millis(20), Duration::from_millis(400))
}

/// Every `event_id` the workspace holds, read through the API's pages.
fn stored_ids(app: &TestApp, token: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = "/api/events?limit=1000".to_owned();
    loop {
        let r = app.get(&path, token);
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json();
        for e in page["events"].as_array().unwrap() {
            ids.push(e["event_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/events?limit=1000&cursor={cursor}"),
            None => return ids,
        }
    }
}

both!(
    tracked_events_are_stored_once_each_and_rejections_counted,
    |app: TestApp| {
        let (token, key) = account(&app, "client@example.com");
        let client = client(&app, &key).batch_size(7).build().unwrap();
        for i in 0..40u64 {
            let event = Event::new("openai", "gpt-4o-2024-08-06", 1000 + i, 100)
                .cached_input_tokens(500)
                .tag("team", if i % 2 == 0 { "search" } else { "chat" });
            client.track(event).unwrap();
        }
        // A known cost, recorded as given, to the nano-dollar.
        let exact = Usd::parse("0.000000007").unwrap();
        client
            .track(
                Event::new("openai", "gpt-4o", 1, 1)
                    .cost(exact)
                    .event_id("known-cost"),
            )
            .unwrap();
        client
            .track(Event::new("no-such-provider", "x", 1, 1))
            .unwrap();
        assert!(client.flush(Duration::from_secs(30)));
        let stats = client.stats();
        assert_eq!(
            (
                stats.accepted,
                stats.duplicates,
                stats.rejected,
                stats.failed,
                stats.dropped
            ),
            (41, 0, 1, 0, 0),
            "{stats:?}"
        );
        assert!(stats.last_error.unwrap().contains("no-such-provider"));

        // A repeat of a key already stored is answered as a duplicate.
        client
            .track(
                Event::new("openai", "gpt-4o", 1, 1)
                    .cost(exact)
                    .event_id("known-cost"),
            )
            .unwrap();
        assert!(client.flush(Duration::from_secs(30)));
        assert_eq!(client.stats().duplicates, 1);

        let ids = stored_ids(&app, &token);
        assert_eq!(ids.len(), 41);
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 41);
        let r = app.get("/api/events?limit=1&tag=team:search", &token);
        assert_eq!(r.status, 200);
        let by_tag = app.get("/api/costs/by-tag?key=team", &token).json();
        assert_eq!(by_tag["values"].as_array().unwrap().len(), 2, "{by_tag}");
        let known = app.get("/api/events?limit=1000", &token).json();
        let known = known["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event_id"] == "known-cost")
            .cloned()
            .unwrap();
        assert_eq!(known["cost_usd"].as_f64(), Some(7e-9));
        // … in its exact digits on the wire.
        let text = app.get("/api/events?limit=1000", &token).text();
        assert!(text.contains(r#""cost_usd":0.000000007,"#), "{text}");
        assert_eq!(known["cost_source"], "client");
    }
);

both!(
    the_pre_flight_check_reads_the_budgets_exactly,
    |app: TestApp| {
        let (token, key) = account(&app, "check@example.com");
        let r = app.post(
            "/api/budgets",
            &token,
            json!({"name": "search", "amount_usd": 10, "period": "monthly",
               "scope": {"tag": "team:search"}}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let client = client(&app, &key).build().unwrap();
        client
            .track(
                Event::new("openai", "gpt-4o", 1, 1)
                    .cost(Usd::parse("2.000000001").unwrap())
                    .tag("team", "search"),
            )
            .unwrap();
        assert!(client.flush(Duration::from_secs(30)));

        let check = client
            .check(&Call::new("openai", "gpt-4o").tag("team", "search"))
            .unwrap();
        assert!(check.allowed);
        assert_eq!(check.budgets.len(), 1);
        assert_eq!(check.budgets[0].name, "search");
        assert_eq!(
            check.budgets[0].remaining,
            Usd::parse("7.999999999").unwrap()
        );
        let other = client
            .check(&Call::new("openai", "gpt-4o").tag("team", "chat"))
            .unwrap();
        assert!(other.allowed && other.budgets.is_empty());

        // A key the server does not know is an error the caller sees, not a panic.
        let stranger = Client::builder(format!("http://{}", app.addr), "llmlab_nope")
            .build()
            .unwrap();
        match stranger.check(&Call::new("openai", "gpt-4o")) {
            Err(llmlab_client::Error::Server { status: 401, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
);

both!(
    a_quota_is_waited_out_and_a_batch_too_big_for_it_split,
    &[("LLMLAB_INGEST_EVENTS_PER_MINUTE", "60")],
    |app: TestApp| {
        let (token, key) = account(&app, "quota@example.com");
        // One batch of 62 is over the quota's minute of 60 (refused as a whole), its
        // halves of 31 fit the burst once, then the second waits for its 429's
        // Retry-After (two seconds at one event a second).
        let client = client(&app, &key).batch_size(100).build().unwrap();
        for _ in 0..62 {
            client.track(Event::new("openai", "gpt-4o", 1, 1)).unwrap();
        }
        assert!(client.flush(Duration::from_secs(60)));
        let stats = client.stats();
        assert_eq!((stats.accepted, stats.failed), (62, 0), "{stats:?}");
        assert!(stats.retries >= 1, "{stats:?}");
        // It waited as told rather than hammering: a few retries, not hundreds.
        assert!(stats.retries <= 4, "{stats:?}");
        assert_eq!(stored_ids(&app, &token).len(), 62);
    }
);

both!(
    a_server_restart_mid_stream_loses_and_doubles_nothing,
    |app: TestApp| {
        let (token, key) = account(&app, "restart@example.com");
        let client = client(&app, &key)
            .batch_size(10)
            .flush_interval(Duration::from_millis(20))
            .build()
            .unwrap();
        let sent: BTreeSet<String> = (0..300).map(|i| format!("call-{i}")).collect();
        let restarted = std::thread::scope(|s| {
            s.spawn(|| {
                for id in &sent {
                    client
                        .track(Event::new("openai", "gpt-4o", 10, 5).event_id(id.clone()))
                        .unwrap();
                    std::thread::sleep(Duration::from_millis(3));
                }
            });
            // Killed with batches in flight while events keep coming; another instance
            // takes its address after a while.
            std::thread::sleep(Duration::from_millis(300));
            app.stop();
            std::thread::sleep(Duration::from_millis(300));
            let addr = app.addr.to_string();
            app.instance_with(&[("LLMLAB_BIND", addr.as_str())])
        });
        assert!(client.flush(Duration::from_secs(60)));
        let stats = client.stats();
        assert_eq!(stats.accepted + stats.duplicates, 300, "{stats:?}");
        assert_eq!(
            (stats.failed, stats.dropped, stats.rejected),
            (0, 0, 0),
            "{stats:?}"
        );
        assert!(stats.retries >= 1, "the restart was not seen: {stats:?}");
        let stored = stored_ids(&restarted, &token);
        assert_eq!(stored.len(), 300, "every event once");
        assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), sent);
    }
);

both!(dropping_the_client_sends_what_is_queued, |app: TestApp| {
    let (token, key) = account(&app, "drop@example.com");
    // Nothing would be sent for a minute but for the drop.
    let client = client(&app, &key)
        .batch_size(1000)
        .flush_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    for i in 0..25 {
        client
            .track(Event::new("openai", "gpt-4o", 10, 5).event_id(format!("last-{i}")))
            .unwrap();
    }
    assert_eq!(client.stats().queued, 25);
    drop(client);
    assert_eq!(stored_ids(&app, &token).len(), 25);
});

both!(a_gateway_reserves_settles_and_releases, |app: TestApp| {
    let (token, key) = account(&app, "gateway@example.com");
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "cap", "amount_usd": 0.02, "period": "daily", "enforce": "hard"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let client = client(&app, &key).build().unwrap();
    // 1,000 in at $2.50/M and at most 1,000 out at $10/M: $0.0125 held.
    let call = llmlab_client::Reserve::new("openai", "gpt-4o", 1_000, 1_000);
    let held = client.reserve(&call).unwrap();
    assert_eq!(held.reserved, Usd::parse("0.0125").unwrap());
    assert_eq!(held.budgets[0].available, Usd::parse("0.0075").unwrap());
    // A second one does not fit: refused with what is available, exactly.
    match client.reserve(&call) {
        Err(llmlab_client::Error::BudgetExceeded {
            name,
            available,
            requested,
            ..
        }) => assert_eq!(
            (name.as_str(), available, requested),
            ("cap", Usd::parse("0.0075").unwrap(), held.reserved)
        ),
        other => panic!("not refused: {other:?}"),
    }
    // The call answered 200 tokens: its event settles the reservation.
    let event = Event::new("openai", "gpt-4o", 1_000, 200).reservation_id(&held.id);
    client.track(event).unwrap();
    assert!(client.flush(Duration::from_secs(10)));
    let cap = &app.get("/api/budgets", &token).json()["budgets"][0];
    assert_eq!(
        (
            cap["spent_usd"].to_string(),
            cap["reserved_usd"].to_string()
        ),
        ("0.0045".into(), "0".into())
    );
    // Reserved again, then released when the call is not made.
    let again = client.reserve(&call).unwrap();
    client.release(&again.id).unwrap();
    client.release(&again.id).unwrap();
    let cap = &app.get("/api/budgets", &token).json()["budgets"][0];
    assert_eq!(cap["available_usd"].to_string(), "0.0155");
});
