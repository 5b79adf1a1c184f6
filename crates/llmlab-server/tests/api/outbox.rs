//! One outbox for everything LLMLab sends: a budget's own webhook and the workspace's
//! channels share one queue and one bound on deliveries in flight, and at most
//! `PER_HOST` attempts go to one receiver at once. What a budget's webhook receives, and
//! what `GET /api/budgets/{id}/alerts` says of it, is pinned here byte for byte; setting,
//! changing and clearing `webhook_url` moves where the budget's alerts go without showing
//! up among the workspace's channels. A backlog goes out without waiting for the next
//! poll, and a receiver that hangs does not hold up the others.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::Utc;
use llmlab_app::notify::notice::{Event, Notice};
use llmlab_app::outbox::{IN_FLIGHT, PER_HOST};
use llmlab_store::test_support::{TestDb, sqlite_only};
use llmlab_store::{Backend, ChannelId, NewChannel, NewUser, Store, WorkspaceId, delivery};
use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::webhooks::{FAST, alerts, budget, eventually, spend, verify};
use crate::{TestApp, assert_error, spawn_app_on, strings};

/// Where a receiver's script waits: request `n` (0-based) passes once `n` requests have
/// been let through before it; every arrival is counted, and the most requests waiting
/// at once.
#[derive(Clone, Default)]
struct Gate {
    let_through: Arc<(Mutex<usize>, Condvar)>,
    arrived: Arc<AtomicUsize>,
    inside: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Gate {
    /// Called by request `n`: counts it, then waits for its turn.
    fn pass(&self, n: usize) {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let inside = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(inside, Ordering::SeqCst);
        let (count, turn) = &*self.let_through;
        let mut passed = count.lock().unwrap();
        while *passed <= n {
            passed = turn.wait(passed).unwrap();
        }
        self.inside.fetch_sub(1, Ordering::SeqCst);
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

    /// The most requests that were at the receiver at once.
    fn most_at_once(&self) -> usize {
        self.most.load(Ordering::SeqCst)
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

// Budget webhooks and channel notifications wait in one queue: at most IN_FLIGHT (16)
// deliveries are under way at once per instance, whatever they are, at most PER_HOST
// (4) of them to one receiver, and the rest wait in the database until a slot frees.
crate::both!(at_most_16_deliveries_in_flight, &FAST, |app: TestApp| {
    // The channel hears of every alert; each of eight budgets has a webhook of its own:
    // 4 + 8 × 2 could be under way if only receivers were counted, more than 16.
    let gates: Vec<Gate> = (0..9).map(|_| Gate::default()).collect();
    let receivers: Vec<Receiver> = gates.iter().map(|g| gated(g, 200)).collect();
    let token = app.signup("flight@example.com");
    let r = app.post(
        "/api/channels",
        &token,
        json!({"name": "all budgets", "kind": "webhook", "url": receivers[0].url(),
               "events": ["budget"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Eight budgets crossing both levels at once: sixteen alerts, each to its budget's
    // webhook and to the channel.
    let ids: Vec<i64> = receivers[1..]
        .iter()
        .enumerate()
        .map(|(i, receiver)| {
            let r = app.post(
                "/api/budgets",
                &token,
                json!({"name": format!("b{i}"), "amount_usd": 1, "period": "monthly",
                       "alert_threshold_pct": 50, "webhook_url": receiver.url()}),
            );
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["id"].as_i64().unwrap()
        })
        .collect();
    spend(&app, &token, "2");
    let arrived = || gates.iter().map(Gate::arrived).sum::<usize>();
    eventually("16 deliveries under way", || {
        (arrived() >= IN_FLIGHT).then_some(())
    });
    // Anything beyond the bound would have been claimed by now (deliveries are polled
    // every 50 ms here).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(arrived(), IN_FLIGHT, "deliveries under way at once");
    assert!(gates[0].arrived() <= PER_HOST, "to the channel's receiver");
    for gate in &gates {
        gate.open();
    }
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
        (list.len() == 16 && list.iter().all(|n| n["status"] == "delivered")).then_some(())
    });
    assert_eq!(arrived(), 32, "each delivery once");
    assert!(gates.iter().all(|g| g.most_at_once() <= PER_HOST));
});

/// The outbox looks at the queue by itself only every ten minutes here (the longest
/// poll allowed): what goes out sooner went because the worker kept taking.
const SLOW_POLL: [(&str, &str); 4] = [
    ("LLMLAB_WEBHOOK_BACKOFF_MS", "50"),
    ("LLMLAB_WEBHOOK_POLL_MS", "600000"),
    ("LLMLAB_WEBHOOK_TIMEOUT_MS", "30000"),
    ("LLMLAB_WEBHOOK_ALLOW_PRIVATE", "true"),
];

/// A queue waiting when the server starts: for each `(url, count)`, a workspace whose
/// one channel points at `url`, with `count` weekly reports recorded for it, the first
/// channel's the oldest.
struct Backlog {
    app: TestApp,
    store: Store,
    channels: Vec<(WorkspaceId, ChannelId)>,
}

impl Backlog {
    fn start(backend: Backend, queues: &[(String, usize)]) -> Option<Backlog> {
        if backend == Backend::Postgres && sqlite_only() {
            return None;
        }
        let db = TestDb::new(backend);
        let store = db.store();
        let mut channels = Vec::new();
        for (i, (url, count)) in queues.iter().enumerate() {
            let user = store
                .create_user(&NewUser {
                    email: format!("queue{i}@example.com"),
                    password_hash: "not a hash".into(),
                })
                .unwrap();
            let workspace = store
                .with_conn(|c| llmlab_store::workspaces::personal(c, user.id))
                .unwrap();
            let channel = NewChannel {
                name: "ops".into(),
                kind: "webhook".into(),
                target: url.clone(),
                events: "report_weekly".into(),
                created_by: Some(user.id),
            };
            let channel = store.create_channel(workspace, &channel).unwrap().id;
            for k in 0..*count {
                let notice = Notice {
                    event: Event::ReportWeekly,
                    workspace_id: workspace.get(),
                    workspace: "Personal".into(),
                    title: format!("Weekly report {k}"),
                    summary: "Nothing spent.".into(),
                    facts: Vec::new(),
                    sections: Vec::new(),
                    page: None,
                    data: json!({}),
                    created_at: Utc::now(),
                };
                let key = format!("report_weekly:{k}");
                let payload = serde_json::to_string(&notice).unwrap();
                let occasion = ("report_weekly", key.as_str());
                let recorded = store.enqueue_notification(workspace, channel, occasion, &payload);
                assert!(recorded.unwrap().is_some());
            }
            channels.push((workspace, channel));
        }
        let app = spawn_app_on(db, &SLOW_POLL);
        Some(Backlog {
            app,
            store,
            channels,
        })
    }

    /// How many of channel `i`'s notifications are delivered.
    fn delivered(&self, i: usize) -> usize {
        let (workspace, channel) = self.channels[i];
        let history = self
            .store
            .channel_history(workspace, channel, 1000)
            .unwrap();
        history
            .iter()
            .filter(|(n, _)| n.status == delivery::DELIVERED)
            .count()
    }
}

// Three claims' worth of deliveries to two receivers, recorded before the server started:
// every one goes out, though nothing wakes the worker and it would look by itself only
// after ten minutes.
llmlab_store::both_backends!(
    a_backlog_goes_out_without_waiting_for_the_poll,
    via | backend | {
        let (first, second) = (Receiver::start(|_| 204), Receiver::start(|_| 204));
        let per_receiver = IN_FLIGHT * 3 / 2;
        let queues = [(first.url(), per_receiver), (second.url(), per_receiver)];
        let Some(backlog) = Backlog::start(backend, &queues) else {
            return;
        };
        eventually("the backlog delivered", || {
            (backlog.delivered(0) == per_receiver && backlog.delivered(1) == per_receiver)
                .then_some(())
        });
        assert_eq!(first.requests().len(), per_receiver);
        assert_eq!(second.requests().len(), per_receiver);
        drop(backlog.app);
    }
);

// A receiver that hangs gets PER_HOST attempts at once and no more, however many of its
// deliveries are due before anyone else's; another receiver's deliveries, recorded
// after them, go out meanwhile, and the hanging one's follow when it answers.
llmlab_store::both_backends!(
    a_hanging_receiver_holds_only_its_own_share,
    via | backend | {
        let gate = Gate::default();
        let hanging = gated(&gate, 204);
        let answering = Receiver::start(|_| 204);
        let stuck = IN_FLIGHT + PER_HOST;
        let queues = [(hanging.url(), stuck), (answering.url(), 10)];
        let Some(backlog) = Backlog::start(backend, &queues) else {
            return;
        };
        eventually("the other receiver's deliveries", || {
            (backlog.delivered(1) == 10).then_some(())
        });
        assert_eq!(answering.requests().len(), 10);
        gate.wait_for(PER_HOST);
        assert_eq!(backlog.delivered(0), 0);
        assert!(gate.arrived() <= PER_HOST, "{} at once", gate.arrived());
        gate.open();
        eventually("the hanging receiver's deliveries", || {
            (backlog.delivered(0) == stuck).then_some(())
        });
        assert_eq!(hanging.requests().len(), stuck);
        assert_eq!(gate.most_at_once(), PER_HOST);
        drop(backlog.app);
    }
);
