//! Re-pricing raced by a price change: runs that meet a new custom price revision under
//! them finish with the newest prices, so once runs and changes have quiesced, a dry run
//! finds nothing to change.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{TestApp, both};

const EVENTS: usize = 20_000;

fn put_price(app: &TestApp, token: &str, per_mtok: &str) {
    let r = app.call(
        "PUT",
        "/api/pricing/custom/openai/gpt-4o",
        Some(token),
        Some(
            &json!({"input_per_mtok_usd": per_mtok, "output_per_mtok_usd": per_mtok,
                     "effective_from": "2026-01-01"}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

fn total(app: &TestApp, token: &str) -> String {
    let r = app.get("/api/costs/summary?start=2026-11-01&end=2026-11-30", token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["total_cost_usd"].to_string()
}

// Seen on PostgreSQL: three concurrent runs, ingestion and a new revision during them:
// one run committed 0.7 s after the revision was live and set 3,759 events back to the
// one before; a dry run straight after wanted to change 4,809 events.
both!(
    runs_that_meet_a_price_change_finish_with_it,
    |app: TestApp| {
        let token = app.signup("race@example.com");
        put_price(&app, &token, "1");
        // Each event: 1,000 input and 100 output tokens, $0.0011 at $1 per million.
        let event = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
                       "output_tokens": 100, "timestamp": "2026-11-10T10:00:00Z"});
        for _ in 0..EVENTS / 1000 {
            let r = app.post(
                "/api/events/batch",
                &token,
                json!({"events": vec![event.clone(); 1000]}),
            );
            assert_eq!(r.json()["accepted"], 1000, "{}", r.text());
        }
        assert_eq!(total(&app, &token), "22");
        put_price(&app, &token, "2");

        let runs: Vec<_> = (0..3)
            .map(|_| {
                let (addr, token) = (app.addr, token.clone());
                std::thread::spawn(move || {
                    let body = json!({"dry_run": false});
                    let path = "/api/pricing/reprice";
                    crate::client::api(addr, None, "POST", path, Some(&token), Some(&body))
                })
            })
            .collect();
        // The new revision lands while the runs are part way through: some events at $2
        // per million already, not all.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let t = total(&app, &token);
            if t != "22" && t != "44" {
                break;
            }
            assert!(
                t == "22" && Instant::now() < deadline,
                "the runs finished ({t}) before the price change could land mid-run"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        put_price(&app, &token, "3");
        let answers: Vec<Value> = runs
            .into_iter()
            .map(|t| {
                let r = t.join().unwrap();
                assert_eq!(r.status, 200, "{}", r.text());
                r.json()
            })
            .collect();
        assert!(
            answers
                .iter()
                .any(|a| a["price_changes_met"].as_i64() >= Some(1)),
            "a run says it met the change: {answers:?}"
        );
        let dry = app.post("/api/pricing/reprice", &token, json!({}));
        assert_eq!(dry.json()["events_changed"], 0, "{}", dry.text());
        assert_eq!(total(&app, &token), "66");
    }
);

// Seen on PostgreSQL (`cargo xtask bench reprice`, 2,000 events): single events sent
// while a re-pricing applied were answered 500 ("deadlock detected"), and once the
// re-pricing itself: the run held its workspace row exclusively while ingestion's
// foreign-key check waited for it, holding the rollup rows the run wanted next.
both!(
    events_sent_during_a_repricing_are_all_stored,
    |app: TestApp| {
        let token = app.signup("beside@example.com");
        let event = |k: usize| {
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
                   "output_tokens": 100, "tags": {"team": format!("t{}", k % 4)}})
        };
        for _ in 0..2 {
            let r = app.post(
                "/api/events/batch",
                &token,
                json!({"events": (0..1000).map(event).collect::<Vec<_>>()}),
            );
            assert_eq!(r.json()["accepted"], 1000, "{}", r.text());
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let beside = {
            let (addr, token, stop) = (app.addr, token.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut sent = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = event(sent);
                    let path = "/api/events/track";
                    let r = crate::client::api(addr, None, "POST", path, Some(&token), Some(&body));
                    assert_eq!(r.status, 201, "event {sent}: {}", r.text());
                    sent += 1;
                }
                sent
            })
        };
        for (k, per_mtok) in ["1", "2", "2", "3"].into_iter().enumerate() {
            put_price(&app, &token, per_mtok);
            let r = app.post("/api/pricing/reprice", &token, json!({"dry_run": false}));
            assert_eq!(r.status, 200, "run {k}: {}", r.text());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = beside.join().expect("every event beside was stored");
        assert!(sent > 0);
        // Every event, those sent beside included, at the last price once re-priced.
        let r = app.post("/api/pricing/reprice", &token, json!({"dry_run": false}));
        assert_eq!(r.status, 200, "{}", r.text());
        let dry = app.post("/api/pricing/reprice", &token, json!({}));
        assert_eq!(dry.json()["events_changed"], 0, "{}", dry.text());
        let calls = app.get(
            "/api/costs/summary?start=2000-01-01&end=2100-01-01&granularity=month",
            &token,
        );
        assert_eq!(calls.json()["total_calls"], 2000 + sent, "{}", calls.text());
    }
);
