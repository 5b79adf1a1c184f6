//! Budget alerts and their webhooks: once per level under concurrent ingestion on two
//! instances, signed, retried with backoff, recorded, and never in ingestion's way.

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::receiver::Receiver;
use crate::{TestApp, spawn_app_with};

/// Fast retries so the tests take milliseconds, not the production backoff, and the
/// receiver on 127.0.0.1 allowed.
pub(crate) const FAST: [(&str, &str); 4] = [
    ("LLMLAB_WEBHOOK_BACKOFF_MS", "50"),
    ("LLMLAB_WEBHOOK_POLL_MS", "50"),
    ("LLMLAB_WEBHOOK_TIMEOUT_MS", "30000"),
    ("LLMLAB_WEBHOOK_ALLOW_PRIVATE", "true"),
];

pub(crate) fn spawn(backend: llmlab_store::Backend) -> Option<TestApp> {
    spawn_app_with(backend, &FAST)
}

/// Polls `f` until it returns `Some` (the work is asynchronous by design).
pub(crate) fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) fn budget(app: &TestApp, token: &str, webhook: &str) -> i64 {
    let r = app.post(
        "/api/budgets",
        token,
        json!({"name": "team budget", "amount_usd": 1, "period": "monthly",
               "alert_threshold_pct": 50, "webhook_url": webhook}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

pub(crate) fn spend(app: &TestApp, token: &str, usd: &str) {
    let r = app.post(
        "/api/events/track",
        token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 1,
               "cost_usd": usd.parse::<f64>().unwrap()}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

pub(crate) fn alerts(app: &TestApp, token: &str, id: i64) -> Vec<Value> {
    let r = app.get(&format!("/api/budgets/{id}/alerts"), token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["alerts"].as_array().unwrap().clone()
}

pub(crate) fn verify(secret: &str, signature: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = signature
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes()) == v1
}

crate::both!(
    concurrent_ingestion_on_two_instances_alerts_once_per_level,
    &FAST,
    |app: TestApp| {
        let receiver = Receiver::start(|_| 204);
        let other = app.second_instance();
        let token = app.signup("race@example.com");
        let id = budget(&app, &token, &receiver.url());
        // 160 events of 1 cent from 16 clients, half through each instance: $1.60 crosses
        // the 50 % threshold and the amount while requests race.
        let instances = [&app, &other];
        std::thread::scope(|s| {
            for t in 0..16 {
                let (instance, token) = (instances[t % 2], token.clone());
                s.spawn(move || {
                    for _ in 0..10 {
                        spend(instance, &token, "0.01");
                    }
                });
            }
        });
        let delivered = eventually("both alerts delivered", || {
            let list = alerts(&app, &token, id);
            (list.len() == 2 && list.iter().all(|a| a["delivery_status"] == "delivered"))
                .then_some(list)
        });
        let mut levels: Vec<&str> = delivered
            .iter()
            .map(|a| a["level"].as_str().unwrap())
            .collect();
        levels.sort_unstable();
        assert_eq!(levels, ["exceeded", "warning"]);
        // Later ingestion in the same period raises nothing new.
        spend(&other, &token, "0.01");
        spend(&app, &token, "0.01");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(alerts(&other, &token, id).len(), 2);
        // Each alert reached the receiver once, from whichever instance claimed it.
        let got = receiver.requests();
        assert_eq!(got.len(), 2, "{got:?}");
        let mut ids: Vec<i64> = got
            .iter()
            .map(|r| r.json()["alert_id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 2);
        let secret = app.get("/api/budgets/webhook-secret", &token).json()["secret"]
            .as_str()
            .unwrap()
            .to_string();
        for r in &got {
            assert!(
                verify(&secret, r.header("X-LLMLab-Signature").unwrap(), &r.body),
                "{r:?}"
            );
            assert_eq!(r.header("Content-Type"), Some("application/json"));
            let p = r.json();
            assert_eq!(p["budget_id"], id);
            assert_eq!(p["amount_usd"], 1);
            assert_eq!(p["period"], "monthly");
            assert!(p["spent_usd"].as_f64().unwrap() >= 0.5, "{p}");
        }
        // A tampered body or another user's secret does not verify.
        assert!(!verify(
            &secret,
            got[0].header("X-LLMLab-Signature").unwrap(),
            b"{}"
        ));
        let stranger = app.signup("stranger@example.com");
        let theirs = app.get("/api/budgets/webhook-secret", &stranger).json()["secret"].clone();
        assert_ne!(theirs.as_str().unwrap(), secret);
        assert_eq!(
            app.get(&format!("/api/budgets/{id}/alerts"), &stranger)
                .status,
            404
        );
    }
);

fn retries(backend: llmlab_store::Backend) {
    let Some(app) = spawn(backend) else { return };
    // Fails twice, then succeeds.
    let receiver = Receiver::start(|n| if n < 2 { 500 } else { 200 });
    let token = app.signup("retry@example.com");
    let id = budget(&app, &token, &receiver.url());
    spend(&app, &token, "0.6");
    let alert = eventually("delivery", || {
        alerts(&app, &token, id)
            .into_iter()
            .find(|a| a["delivery_status"] == "delivered")
    });
    assert_eq!(alert["level"], "warning");
    assert_eq!(alert["attempts"], 3);
    let attempts: Vec<(i64, bool, i64)> = alert["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["ok"].as_bool().unwrap(),
                d["status_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(1, false, 500), (2, false, 500), (3, true, 200)]);
    assert!(
        alert["deliveries"][0]["error"]
            .as_str()
            .unwrap()
            .contains("500")
    );
    // Exactly one success reached the receiver; the retries carried the same alert.
    let got = receiver.requests();
    assert_eq!(got.iter().filter(|r| r.answered == 200).count(), 1);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.json()["alert_id"] == alert["id"]));
    let tries: Vec<i64> = got
        .iter()
        .map(|r| r.json()["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(tries, [1, 2, 3]);
}

llmlab_store::both_backends!(retries, via retries);

/// While the receiver holds the delivery open, ingestion keeps answering: it never
/// waits on a webhook.
fn hanging_receiver(backend: llmlab_store::Backend) {
    let Some(app) = spawn(backend) else { return };
    let (got_tx, got_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (got_tx, release_rx) = (Mutex::new(got_tx), Arc::new(Mutex::new(release_rx)));
    let receiver = Receiver::start(move |_| {
        let _ = got_tx.lock().unwrap().send(());
        let _ = release_rx.lock().unwrap().recv();
        200
    });
    let token = app.signup("hang@example.com");
    let id = budget(&app, &token, &receiver.url());
    spend(&app, &token, "0.6");
    got_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the webhook reached the receiver");
    for _ in 0..20 {
        spend(&app, &token, "0.01");
    }
    let r = app.post(
        "/api/events/batch",
        &token,
        json!({"events": [{"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1}]}),
    );
    assert_eq!(r.status, 200);
    // Still hanging: nothing was delivered yet, all of the above went through anyway.
    assert!(receiver.requests().is_empty());
    assert_eq!(alerts(&app, &token, id)[0]["delivery_status"], "delivering");
    release_tx.send(()).unwrap();
    eventually("delivery after release", || {
        alerts(&app, &token, id)
            .into_iter()
            .find(|a| a["delivery_status"] == "delivered")
    });
}

llmlab_store::both_backends!(hanging_receiver, via hanging_receiver);

// By default a budget cannot send its webhook into the server's own network.
crate::both!(internal_targets_are_refused, |app: TestApp| {
    let token = app.signup("ssrf@example.com");
    for url in [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://LOCALHOST./hook",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://[::1]:9000/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
    ] {
        let r = app.post(
            "/api/budgets",
            &token,
            json!({"name": "b", "amount_usd": 1, "period": "daily", "webhook_url": url}),
        );
        assert_eq!(r.status, 422, "{url}: {}", r.text());
        assert_eq!(
            r.json()["error"]["details"]["field"],
            "webhook_url",
            "{url}"
        );
    }
    for url in [
        "https://hooks.example.com/llmlab",
        "http://93.184.216.34:8080/x",
    ] {
        let r = app.post(
            "/api/budgets",
            &token,
            json!({"name": url, "amount_usd": 1, "period": "daily", "webhook_url": url}),
        );
        assert_eq!(r.status, 201, "{url}: {}", r.text());
    }
});

// Addresses of the IANA special-purpose registries that the first guard let through, and
// addresses embedding an internal IPv4 one (NAT64, 6to4, Teredo, IPv4-compatible): a
// budget's webhook and a channel answer alike, since both ask one table.
crate::both!(special_purpose_targets_are_refused, |app: TestApp| {
    let token = app.signup("special@example.com");
    for host in [
        "[::127.0.0.1]",
        "[64:ff9b::7f00:1]",
        "[64:ff9b::a9fe:a9fe]",
        "[64:ff9b:1::a00:1]",
        "[2002:7f00:1::]",
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
        "[fec0::1]",
        "[2001:db8::1]",
        "[100::1]",
        "198.18.0.1",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "192.0.0.8",
        "192.88.99.1",
    ] {
        let url = format!("http://{host}/hook");
        let r = app.post(
            "/api/budgets",
            &token,
            json!({"name": "b", "amount_usd": 1, "period": "daily", "webhook_url": url}),
        );
        crate::assert_invalid(&r, "webhook_url");
        let r = app.post(
            "/api/channels",
            &token,
            json!({"name": "c", "kind": "webhook", "url": url, "events": ["budget"]}),
        );
        crate::assert_invalid(&r, "url");
    }
    // Public addresses, also when embedded: 6to4 and NAT64 forms of 8.8.8.8.
    for host in [
        "[2002:808:808::1]",
        "[64:ff9b::808:808]",
        "[2606:4700::1111]",
    ] {
        let url = format!("http://{host}/hook");
        let r = app.post(
            "/api/channels",
            &token,
            json!({"name": host, "kind": "webhook", "url": url, "events": ["budget"]}),
        );
        assert_eq!(r.status, 201, "{url}: {}", r.text());
    }
});

// A host name that passes validation but resolves to 127.0.0.1 (the decimal form of
// the address, which the system resolver accepts) is refused when connecting: the
// receiver hears nothing and the attempt records why.
fn names_resolving_inside(backend: llmlab_store::Backend) {
    let settings = [
        ("LLMLAB_WEBHOOK_BACKOFF_MS", "50"),
        ("LLMLAB_WEBHOOK_POLL_MS", "50"),
        ("LLMLAB_WEBHOOK_MAX_ATTEMPTS", "1"),
    ];
    let Some(app) = spawn_app_with(backend, &settings) else {
        return;
    };
    let receiver = Receiver::start(|_| 200);
    let token = app.signup("rebind@example.com");
    let id = budget(
        &app,
        &token,
        &format!("http://2130706433:{}/hook", receiver.port()),
    );
    spend(&app, &token, "0.6");
    let alert = eventually("the attempt", || {
        alerts(&app, &token, id)
            .into_iter()
            .find(|a| a["delivery_status"] == "failed")
    });
    let error = alert["deliveries"][0]["error"].as_str().unwrap();
    assert!(error.contains("internal addresses"), "{error}");
    assert!(receiver.requests().is_empty());
}

llmlab_store::both_backends!(names_resolving_inside, via names_resolving_inside);
