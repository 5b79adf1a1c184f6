//! One outbox for everything LLMLab sends: a budget's own webhook and the workspace's
//! channels share one queue and one bound on deliveries in flight. What a budget's
//! webhook receives, and what `GET /api/budgets/{id}/alerts` says of it, is pinned here
//! byte for byte; setting, changing and clearing `webhook_url` moves where the budget's
//! alerts go without showing up among the workspace's channels.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::webhooks::{FAST, alerts, budget, eventually, spend, verify};
use crate::{TestApp, assert_error, strings};

/// Where a receiver's script waits: request `n` (0-based) passes once `n` requests have
/// been let through before it; every arrival is counted.
#[derive(Clone, Default)]
struct Gate {
    let_through: Arc<(Mutex<usize>, Condvar)>,
    arrived: Arc<AtomicUsize>,
}

impl Gate {
    /// Called by request `n`: counts it, then waits for its turn.
    fn pass(&self, n: usize) {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let (count, turn) = &*self.let_through;
        let mut passed = count.lock().unwrap();
        while *passed <= n {
            passed = turn.wait(passed).unwrap();
        }
    }

    /// Lets the next waiting request through.
    fn release_one(&self) {
        let (count, turn) = &*self.let_through;
        *count.lock().unwrap() += 1;
        turn.notify_all();
    }

    /// Lets every request through, now and later.
    fn open(&self) {
        let (count, turn) = &*self.let_through;
        *count.lock().unwrap() = usize::MAX;
        turn.notify_all();
    }

    fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }

    fn wait_for(&self, n: usize) {
        eventually(&format!("{n} requests at the receiver"), || {
            (self.arrived() >= n).then_some(())
        });
    }
}

/// A receiver whose requests wait at `gate`, then get `status`.
fn gated(gate: &Gate, status: u16) -> Receiver {
    let gate = gate.clone();
    Receiver::start(move |n| {
        gate.pass(n);
        status
    })
}

/// `(attempt, url, status_code, ok)` of each delivery attempt of `alert`.
fn attempts(alert: &Value) -> Vec<(i64, String, Option<i64>, bool)> {
    alert["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["url"].as_str().unwrap().to_string(),
                d["status_code"].as_i64(),
                d["ok"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Replaces the budget made by [`budget`] with the same one, its webhook now `webhook`
/// (none when `None`); the budget as answered.
fn set_webhook(app: &TestApp, token: &str, webhook: Option<&str>) -> Value {
    let mut body = json!({"name": "team budget", "amount_usd": 1, "period": "monthly",
                          "alert_threshold_pct": 50});
    if let Some(url) = webhook {
        body["webhook_url"] = json!(url);
    }
    let r = app.post("/api/budgets", token, body);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

crate::both!(
    a_budget_webhook_receives_the_same_bytes,
    &FAST,
    |app: TestApp| {
        let receiver = Receiver::start(|_| 204);
        let token = app.signup("bytes@example.com");
        let id = budget(&app, &token, &receiver.url());
        spend(&app, &token, "0.6");
        let alert = eventually("the delivery", || {
            alerts(&app, &token, id)
                .into_iter()
                .find(|a| a["delivery_status"] == "delivered")
        });
        let got = receiver.requests();
        assert_eq!(got.len(), 1, "{got:?}");
        let expected = format!(
            "{{\"event\":\"budget.alert\",\"alert_id\":{},\"budget_id\":{id},\
         \"budget_name\":\"team budget\",\"level\":\"warning\",\"spent_usd\":{},\
         \"amount_usd\":1,\"period\":\"monthly\",\"period_start\":{},\"created_at\":{},\
         \"attempt\":1}}",
            alert["id"], alert["spent_usd"], alert["period_start"], alert["created_at"]
        );
        assert_eq!(String::from_utf8(got[0].body.clone()).unwrap(), expected);
        let mut ours: Vec<(String, &str)> = got[0]
            .headers
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-llmlab-"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
            .collect();
        ours.sort();
        let delivery = alert["id"].to_string();
        assert_eq!(
            ours.iter()
                .map(|(k, v)| (k.as_str(), if k.ends_with("signature") { "…" } else { v }))
                .collect::<Vec<_>>(),
            [
                ("x-llmlab-delivery", delivery.as_str()),
                ("x-llmlab-event", "budget.alert"),
                ("x-llmlab-signature", "…"),
            ]
        );
        assert_eq!(got[0].header("Content-Type"), Some("application/json"));
        let secret = app.get("/api/budgets/webhook-secret", &token).json()["secret"]
            .as_str()
            .unwrap()
            .to_string();
        let signature = got[0].header("X-LLMLab-Signature").unwrap();
        assert!(verify(&secret, signature, &got[0].body));
        let listed = &alerts(&app, &token, id)[0];
        assert_eq!(
            (listed["attempts"].clone(), listed["last_error"].clone()),
            (json!(1), Value::Null)
        );
        assert_eq!(listed["next_attempt_at"], Value::Null);
        assert_eq!(
            attempts(listed),
            [(1, receiver.url(), Some(204), true)],
            "{listed}"
        );
    }
);

// A retry goes where the budget's webhook points when it is made; once the webhook is
// cleared, the alert is cancelled without another attempt and its history stays. The
// budget's webhook is none of the workspace's channels: not listed, not counted
// against LLMLAB_MAX_CHANNELS.
crate::both!(
    a_budget_webhook_changed_or_cleared,
    &[
        FAST[0],
        FAST[1],
        FAST[2],
        FAST[3],
        ("LLMLAB_MAX_CHANNELS", "1")
    ],
    |app: TestApp| {
        let first_gate = Gate::default();
        let first = gated(&first_gate, 500);
        let second = Receiver::start(|_| 200);
        let unused = Receiver::start(|_| 200);
        let token = app.signup("moves@example.com");
        let id = budget(&app, &token, &first.url());
        let r = app.post(
            "/api/channels",
            &token,
            json!({"name": "ops", "kind": "webhook", "url": unused.url(), "events": ["anomaly"]}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let channels = app.get("/api/channels", &token).json();
        assert_eq!(strings(&channels["channels"], "name"), ["ops"]);

        // The first attempt is under way when the webhook changes; the retry goes to
        // the new one.
        spend(&app, &token, "0.6");
        first_gate.wait_for(1);
        let changed = set_webhook(&app, &token, Some(&second.url()));
        assert_eq!(changed["webhook_url"], second.url());
        first_gate.release_one();
        let warning = eventually("the retry delivered", || {
            alerts(&app, &token, id)
                .into_iter()
                .find(|a| a["delivery_status"] == "delivered")
        });
        assert_eq!(
            attempts(&warning),
            [
                (1, first.url(), Some(500), false),
                (2, second.url(), Some(200), true)
            ]
        );
        assert_eq!(warning["attempts"], 2);
        let moved = second.requests();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].json()["attempt"], 2);
        assert_eq!(moved[0].json()["alert_id"], warning["id"]);

        // Back to the first receiver; its attempt is under way when the webhook is
        // cleared: no second attempt, the alert is cancelled.
        set_webhook(&app, &token, Some(&first.url()));
        spend(&app, &token, "0.5");
        first_gate.wait_for(2);
        let cleared = set_webhook(&app, &token, None);
        assert_eq!(cleared["webhook_url"], Value::Null);
        first_gate.release_one();
        let exceeded = eventually("the alert cancelled", || {
            alerts(&app, &token, id)
                .into_iter()
                .find(|a| a["delivery_status"] == "cancelled")
        });
        assert_eq!(exceeded["level"], "exceeded");
        assert_eq!(exceeded["attempts"], 1);
        assert_eq!(exceeded["next_attempt_at"], Value::Null);
        assert_eq!(attempts(&exceeded), [(1, first.url(), Some(500), false)]);
        assert!(
            exceeded["last_error"].as_str().unwrap().contains("500"),
            "{exceeded}"
        );
        assert_eq!(first.requests().len(), 2);
        let listed = alerts(&app, &token, id);
        let kept = crate::find_by(&Value::from(listed), "level", "warning").clone();
        assert_eq!(kept["delivery_status"], "delivered");
        assert_eq!(attempts(&kept), attempts(&warning), "history kept");
        let budgets = app.get("/api/budgets", &token).json();
        assert_eq!(budgets["budgets"][0]["webhook_url"], Value::Null);

        let channels = app.get("/api/channels", &token).json();
        assert_eq!(strings(&channels["channels"], "name"), ["ops"]);
        let r = app.post(
            "/api/channels",
            &token,
            json!({"name": "more", "kind": "webhook", "url": unused.url(), "events": ["anomaly"]}),
        );
        assert_error(&r, 422, "limit_exceeded");
        assert!(unused.requests().is_empty());
        let path = format!("/api/budgets/{id}");
        assert_eq!(app.call("DELETE", &path, Some(&token), None).status, 204);
        assert_error(
            &app.get(&format!("{path}/alerts"), &token),
            404,
            "not_found",
        );
    }
);

// Budget webhooks and channel notifications wait in one queue: at most 16 deliveries
// are under way at once per instance, whatever they are, and the rest wait in the
// database until a slot frees.
crate::both!(at_most_16_deliveries_in_flight, &FAST, |app: TestApp| {
    let gate = Gate::default();
    let hanging = gated(&gate, 200);
    let token = app.signup("flight@example.com");
    let r = app.post(
        "/api/channels",
        &token,
        json!({"name": "all budgets", "kind": "webhook", "url": hanging.url(),
               "events": ["budget"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Six budgets crossing both levels at once: twelve alerts, each to its budget's
    // webhook and to the channel.
    let ids: Vec<i64> = (0..6)
        .map(|i| {
            let r = app.post(
                "/api/budgets",
                &token,
                json!({"name": format!("b{i}"), "amount_usd": 1, "period": "monthly",
                       "alert_threshold_pct": 50, "webhook_url": hanging.url()}),
            );
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["id"].as_i64().unwrap()
        })
        .collect();
    spend(&app, &token, "2");
    gate.wait_for(16);
    // Anything beyond the bound would have been claimed by now (deliveries are polled
    // every 50 ms here).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(gate.arrived(), 16, "deliveries under way at once");
    gate.open();
    for id in ids {
        eventually("the budget's alerts delivered", || {
            let list = alerts(&app, &token, id);
            (list.len() == 2 && list.iter().all(|a| a["delivery_status"] == "delivered"))
                .then_some(())
        });
    }
    let channel = r.json()["id"].as_i64().unwrap();
    eventually("the channel's notices delivered", || {
        let list = app
            .get(&format!("/api/channels/{channel}/deliveries"), &token)
            .json();
        let list = list["notifications"].as_array().unwrap().clone();
        (list.len() == 12 && list.iter().all(|n| n["status"] == "delivered")).then_some(())
    });
    assert_eq!(gate.arrived(), 24, "each delivery once");
    assert_eq!(hanging.requests().len(), 24);
});
