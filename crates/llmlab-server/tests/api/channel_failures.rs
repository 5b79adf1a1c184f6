//! Channels that fail: a Slack receiver answering 503, a mailbox the SMTP server refuses, a
//! webhook nobody listens on. Each attempt is recorded, failures are retried up to the
//! limit, and ingestion never notices. Internal addresses are refused as targets.

use std::time::Duration;

use serde_json::{Value, json};

use crate::channels::{channel, deliveries, eventually, track};
use crate::email_guard::confirm;
use crate::receiver::Receiver;
use crate::smtp::SmtpSink;
use crate::{TestApp, assert_error, both, spawn_app_with};

/// Every notification of channel `id` once none is waiting for another attempt.
fn settled(app: &TestApp, token: &str, id: i64, n: usize) -> Vec<Value> {
    eventually("settled deliveries", || {
        let list = deliveries(app, token, id);
        let done = list.len() == n
            && list
                .iter()
                .all(|x| x["status"] == "delivered" || x["status"] == "failed");
        done.then_some(list)
    })
}

fn attempts(list: &[Value]) -> Vec<Value> {
    list.iter()
        .flat_map(|n| n["deliveries"].as_array().unwrap().clone())
        .collect()
}

fn failing_channels(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let url = sink.url();
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("LLMLAB_WEBHOOK_BACKOFF_MS", "20"),
            ("LLMLAB_WEBHOOK_POLL_MS", "50"),
            ("LLMLAB_WEBHOOK_MAX_ATTEMPTS", "3"),
            ("LLMLAB_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("LLMLAB_NOTIFY_INTERVAL_SECS", "86400"),
            ("LLMLAB_SMTP_URL", &url),
            ("LLMLAB_SMTP_FROM", "alerts@llmlab.test"),
            ("LLMLAB_PUBLIC_URL", "https://llmlab.example.com"),
        ],
    ) else {
        return;
    };
    // Slack is down for its first two requests, then answers.
    let slack = Receiver::start(|i| if i < 2 { 503 } else { 200 });
    let token = app.signup("failures@example.com");
    let slack_id = channel(
        &app,
        &token,
        json!({"name": "slack", "kind": "slack", "url": slack.url(), "events": ["budget"]}),
    );
    let mail_id = channel(
        &app,
        &token,
        json!({"name": "mail", "kind": "email", "to": ["gone@example.com"],
               "events": ["budget"]}),
    );
    // Its owner confirmed, then the mailbox was closed.
    confirm(&app, &sink, &["gone@example.com"]);
    sink.refuse("gone@example.com");
    let dead_id = channel(
        &app,
        &token,
        json!({"name": "dead", "kind": "webhook", "url": "http://127.0.0.1:1/hook",
               "events": ["budget"]}),
    );
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "prod", "amount_usd": 1, "period": "monthly"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Warning and exceeded at once, to three failing channels: ingestion answers as ever.
    let event = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
                       "output_tokens": 1, "cost_usd": 1.5});
    track(&app, &token, event.clone());
    track(&app, &token, event);
    let summary = app.get("/api/costs/summary", &token).json();
    assert_eq!(summary["total_calls"], 2, "{summary}");

    // Slack: both notices delivered in the end, after the two 503s, each attempt kept.
    let list = settled(&app, &token, slack_id, 2);
    assert!(list.iter().all(|n| n["status"] == "delivered"), "{list:#?}");
    let tries = attempts(&list);
    assert_eq!(tries.len(), 4, "{list:#?}");
    let failed: Vec<&Value> = tries.iter().filter(|a| a["ok"] == false).collect();
    assert_eq!(failed.len(), 2, "{list:#?}");
    assert!(failed.iter().all(|a| a["status_code"] == 503), "{failed:?}");
    assert_eq!(slack.requests().len(), 4);

    // Email to a mailbox the server refuses: three attempts each, every one failed and
    // saying why; nothing was accepted.
    let list = settled(&app, &token, mail_id, 3);
    for n in list.iter().filter(|n| n["event"] == "budget") {
        assert_eq!(n["status"], "failed", "{n}");
        let tries = n["deliveries"].as_array().unwrap();
        assert_eq!(tries.len(), 3, "{n}");
        for a in tries {
            assert_eq!(a["ok"], false);
            assert!(a["error"].as_str().unwrap().contains("550"), "{a}");
        }
    }
    assert!(sink.messages().is_empty());

    // A webhook nobody listens on: no status code, an error per attempt.
    let list = settled(&app, &token, dead_id, 2);
    let tries = attempts(&list);
    assert_eq!(tries.len(), 6, "{list:#?}");
    assert!(
        tries
            .iter()
            .all(|a| a["ok"] == false && a["status_code"].is_null() && a["error"].is_string()),
        "{tries:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(slack.requests().len(), 4, "nothing sent twice");
}

llmlab_store::both_backends!(failing_channels_are_retried_and_never_fail_ingestion, via failing_channels);

both!(channel_targets_must_be_public, |app: TestApp| {
    let token = app.signup("guard@example.com");
    for (kind, url) in [
        ("slack", "http://127.0.0.1:9/services/x"),
        ("webhook", "http://10.1.2.3/hook"),
        ("webhook", "http://[::1]:8080/hook"),
        ("webhook", "http://169.254.169.254/latest/meta-data"),
    ] {
        let r = app.post(
            "/api/channels",
            &token,
            json!({"name": "internal", "kind": kind, "url": url, "events": ["budget"]}),
        );
        let v = assert_error(&r, 422, "validation_error");
        assert_eq!(v["error"]["details"]["field"], "url", "{url}: {v}");
    }
    assert_eq!(
        app.get("/api/channels", &token).json()["channels"],
        json!([])
    );
});
