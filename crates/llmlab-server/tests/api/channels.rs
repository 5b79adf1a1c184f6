//! Notification channels end to end: a Slack receiver and a webhook receiver over HTTP,
//! email through a real SMTP server on loopback; budget alerts as they happen, and the
//! scheduled occasions (forecast, anomaly, unpriced, weekly report) through the
//! scheduler's own entry point with an injected clock, eight instances racing.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use llmlab_app::notifications::{self, Tick};
use llmlab_engine::providers::Catalog;
use llmlab_store::WorkspaceId;
use llmlab_store::send_quota::Allowance;
use serde_json::{Value, json};

use crate::email_guard::confirm;
use crate::receiver::Receiver;
use crate::smtp::SmtpSink;
use crate::{TestApp, assert_error, assert_invalid, both, spawn_app_with};

/// Fast delivery, receivers on 127.0.0.1 allowed, SMTP at `sink`, and a scheduler that
/// only ticks at start (the tests tick it themselves, at the instants they choose).
pub(crate) fn spawn(backend: llmlab_store::Backend, sink: &SmtpSink) -> Option<TestApp> {
    spawn_with(backend, sink, &[])
}

/// [`spawn`] with `extra` settings over those.
pub(crate) fn spawn_with(
    backend: llmlab_store::Backend,
    sink: &SmtpSink,
    extra: &[(&str, &str)],
) -> Option<TestApp> {
    let url = sink.url();
    let mut settings = extra.to_vec();
    settings.extend_from_slice(&[
        ("LLMLAB_WEBHOOK_BACKOFF_MS", "50"),
        ("LLMLAB_WEBHOOK_POLL_MS", "50"),
        ("LLMLAB_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("LLMLAB_NOTIFY_INTERVAL_SECS", "86400"),
        ("LLMLAB_SMTP_URL", &url),
        ("LLMLAB_SMTP_FROM", "LLMLab <alerts@llmlab.test>"),
        ("LLMLAB_PUBLIC_URL", "https://llmlab.example.com"),
    ]);
    spawn_app_with(backend, &settings)
}

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

pub(crate) fn channel(app: &TestApp, token: &str, body: Value) -> i64 {
    let r = app.post("/api/channels", token, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

pub(crate) fn deliveries(app: &TestApp, token: &str, id: i64) -> Vec<Value> {
    let r = app.get(&format!("/api/channels/{id}/deliveries"), token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["notifications"].as_array().unwrap().clone()
}

/// Sets the time zone of `token`'s own workspace, which its reports follow.
pub(crate) fn in_zone(app: &TestApp, token: &str, zone: &str) {
    let ws = app.get("/api/auth/me", token).json()["workspaces"][0]["id"]
        .as_i64()
        .unwrap();
    let r = app.call(
        "PATCH",
        &format!("/api/workspaces/{ws}"),
        Some(token),
        Some(&json!({"name": "Reports", "timezone": zone})),
    );
    assert_eq!(r.json()["timezone"], zone, "{}", r.text());
}

pub(crate) fn track(app: &TestApp, token: &str, body: Value) {
    let r = app.post("/api/events/track", token, body);
    assert_eq!(r.status, 201, "{}", r.text());
}

/// The hourly email the scheduler's own entry point is given in these tests.
const EMAILS: Allowance = Allowance {
    kind: llmlab_store::send_quota::kind::EMAIL,
    limit: 100,
    window_micros: 3_600_000_000,
};

/// Ticks the scheduler from [`RACERS`] instances at once, every workspace due; the
/// notifications they recorded together.
pub(crate) fn tick_racing(app: &TestApp, now: DateTime<Utc>) -> usize {
    // The tests tick at instants of their choosing, often before the requests that made
    // the workspace due: for them, what those requests marked happened before `now`.
    app.db()
        .store()
        .mark_every_workspace_due(now.timestamp_micros())
        .unwrap();
    tick(app, now).0.new
}

/// Instances racing in [`tick`].
const RACERS: usize = 8;

/// One tick from each of [`RACERS`] instances (a connection pool each on the same
/// database, as servers would have), released together by a barrier: what they did
/// together, and the most statements one sent.
pub(crate) fn tick(app: &TestApp, now: DateTime<Utc>) -> (Tick, u64) {
    let stores: Vec<llmlab_store::Store> = (0..RACERS)
        .map(|_| llmlab_store::Store::connect(app.db().url(), 2).unwrap())
        .collect();
    let start = std::sync::Barrier::new(RACERS);
    std::thread::scope(|scope| {
        let runs: Vec<_> = stores
            .iter()
            .map(|s| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let before = llmlab_store::statements_on_this_thread();
                    let done = notifications::tick(s, Catalog::builtin(), EMAILS, now).unwrap();
                    (done, llmlab_store::statements_on_this_thread() - before)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).fold(
            (Tick::default(), 0),
            |(sum, most), (t, n)| {
                let sum = Tick {
                    new: sum.new + t.new,
                    visited: sum.visited + t.visited,
                };
                (sum, most.max(n))
            },
        )
    })
}

fn validated_and_scoped(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let token = app.signup("admin@example.com");
    let bad = |body: Value, field: &str| {
        let r = app.post("/api/channels", &token, body);
        assert_invalid(&r, field);
    };
    bad(
        json!({"name": "x", "kind": "pager", "events": ["budget"]}),
        "kind",
    );
    bad(
        json!({"name": "x", "kind": "slack", "events": ["budget"]}),
        "url",
    );
    bad(
        json!({"name": "x", "kind": "slack", "url": "ftp://example.com", "events": ["budget"]}),
        "url",
    );
    bad(
        json!({"name": "x", "kind": "webhook", "url": "https://example.com", "events": []}),
        "events",
    );
    bad(
        json!({"name": "x", "kind": "webhook", "url": "https://example.com", "events": ["test"]}),
        "events",
    );
    bad(
        json!({"name": "x", "kind": "email", "to": ["not an address"], "events": ["budget"]}),
        "to[0]",
    );
    bad(
        json!({"name": "", "kind": "email", "to": ["a@example.com"], "events": ["budget"]}),
        "name",
    );
    let many: Vec<String> = (0..11).map(|i| format!("p{i}@example.com")).collect();
    bad(
        json!({"name": "x", "kind": "email", "to": many, "events": ["budget"]}),
        "to",
    );

    let slack = channel(
        &app,
        &token,
        json!({"name": "ops", "kind": "slack", "events": ["budget", "anomaly", "budget"],
               "url": "https://hooks.slack.com/services/T0/B0/SECRET"}),
    );
    let listed = app.get("/api/channels", &token).json();
    let first = &listed["channels"][0];
    assert_eq!(first["id"], slack);
    assert_eq!(
        first["url"], "https://hooks.slack.com/…",
        "the URL is a credential"
    );
    assert_eq!(first["events"], json!(["budget", "anomaly"]));
    assert!(!listed.to_string().contains("SECRET"));
    // Same name twice.
    bad(
        json!({"name": "ops", "kind": "webhook", "url": "https://example.com", "events": ["budget"]}),
        "name",
    );
    // Budgets name channels of their own workspace only.
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "b", "amount_usd": 5, "period": "daily", "channel_ids": [slack, 999_999]}),
    );
    assert_invalid(&r, "channel_ids");
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "b", "amount_usd": 5, "period": "daily", "channel_ids": [slack]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["channel_ids"], json!([slack]));

    // Another account sees none of it.
    let other = app.signup("other@example.com");
    assert_eq!(
        app.get("/api/channels", &other).json()["channels"],
        json!([])
    );
    let path = format!("/api/channels/{slack}");
    assert_error(
        &app.call("DELETE", &path, Some(&other), None),
        404,
        "not_found",
    );
    assert_error(
        &app.get(&format!("{path}/deliveries"), &other),
        404,
        "not_found",
    );
    assert_error(
        &app.post(&format!("{path}/test"), &other, json!({})),
        404,
        "not_found",
    );
    assert_error(
        &app.call("GET", "/api/channels", None, None),
        401,
        "unauthorized",
    );

    assert_eq!(app.call("DELETE", &path, Some(&token), None).status, 204);
    assert_error(
        &app.call("DELETE", &path, Some(&token), None),
        404,
        "not_found",
    );
    let budgets = app.get("/api/budgets", &token).json();
    assert_eq!(budgets["budgets"][0]["channel_ids"], json!([]));
}

llmlab_store::both_backends!(channels_are_validated_and_scoped, via validated_and_scoped);

both!(email_channels_need_smtp, |app: TestApp| {
    let token = app.signup("nosmtp@example.com");
    let r = app.post(
        "/api/channels",
        &token,
        json!({"name": "mail", "kind": "email", "to": ["a@example.com"], "events": ["budget"]}),
    );
    let v = assert_invalid(&r, "kind");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("LLMLAB_SMTP_URL"),
        "{v}"
    );
});

fn test_reaches_every_kind(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let slack = Receiver::start(|_| 200);
    let hook = Receiver::start(|_| 200);
    let token = app.signup("tests@example.com");
    let ids = [
        channel(
            &app,
            &token,
            json!({"name": "slack", "kind": "slack", "url": slack.url(), "events": ["budget"]}),
        ),
        channel(
            &app,
            &token,
            json!({"name": "hook", "kind": "webhook", "url": hook.url(), "events": ["budget"]}),
        ),
        channel(
            &app,
            &token,
            json!({"name": "mail", "kind": "email", "to": ["finance@example.com"],
                   "events": ["report_weekly"]}),
        ),
    ];
    confirm(&app, &sink, &["finance@example.com"]);
    for id in ids {
        let r = app.post(&format!("/api/channels/{id}/test"), &token, json!({}));
        assert_eq!(r.status, 202, "{}", r.text());
        assert_eq!(r.json()["status"], "pending");
    }
    let posted = eventually("slack", || slack.requests().first().cloned());
    let message = posted.json();
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .contains("Test of channel “slack”")
    );
    assert_eq!(message["blocks"][0]["type"], "header");
    let signed = eventually("webhook", || hook.requests().first().cloned());
    assert_eq!(signed.header("X-LLMLab-Event"), Some("test"));
    assert!(
        signed
            .header("X-LLMLab-Signature")
            .unwrap()
            .starts_with("t=")
    );
    assert_eq!(signed.json()["event"], "test");
    let mail = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, ["finance@example.com"]);
    assert!(mail[0].data.contains("Test of channel"), "{}", mail[0].data);
    for id in ids {
        let done = eventually("recorded attempts", || {
            let list = deliveries(&app, &token, id);
            (list[0]["status"] == "delivered").then_some(list)
        });
        assert_eq!(done[0]["event"], "test");
        assert_eq!(done[0]["deliveries"][0]["ok"], true);
    }
}

llmlab_store::both_backends!(test_notifications, via test_reaches_every_kind);

fn budget_alerts_go_to_channels(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let slack = Receiver::start(|_| 200);
    let token = app.signup("budgets@example.com");
    // Slack is chosen by the budget; email subscribes to every budget's alerts.
    let slack_id = channel(
        &app,
        &token,
        json!({"name": "slack", "kind": "slack", "url": slack.url(), "events": ["anomaly"]}),
    );
    channel(
        &app,
        &token,
        json!({"name": "mail", "kind": "email", "to": ["ops@example.com"], "events": ["budget"]}),
    );
    confirm(&app, &sink, &["ops@example.com"]);
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "prod", "amount_usd": 1, "period": "monthly", "channel_ids": [slack_id]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    track(
        &app,
        &token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
               "cost_usd": 1.5}),
    );
    // Warning and exceeded at once: two notices on each channel, each once.
    let mails = sink.wait_for(2, Duration::from_secs(30));
    assert_eq!(mails.len(), 2, "{mails:?}");
    let subjects: String = mails.iter().map(|m| m.data.clone()).collect();
    assert!(subjects.contains("exceeded") && subjects.contains("warning level"));
    assert!(subjects.contains("https://llmlab.example.com/budgets?ws="));
    let posts = eventually("two Slack posts", || {
        let r = slack.requests();
        (r.len() >= 2).then_some(r)
    });
    let text: String = posts.iter().map(|p| p.json()["text"].to_string()).collect();
    assert!(text.contains("$1.50") && text.contains("$1.00"), "{text}");
    // A tick later (any instance) records nothing new.
    assert_eq!(tick_racing(&app, Utc::now()), 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(slack.requests().len(), 2);
    assert_eq!(sink.messages().len(), 2);
}

llmlab_store::both_backends!(budget_alert_notifications, via budget_alerts_go_to_channels);

/// The first day of this month, 06:00 UTC: the instant the scheduled tests look from.
fn month_start_morning() -> DateTime<Utc> {
    let today = Utc::now().date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    Utc.from_utc_datetime(&first.and_hms_opt(6, 0, 0).unwrap())
}

fn scheduled_occasions(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let hook = Receiver::start(|_| 200);
    let token = app.signup("scheduled@example.com");
    let id = channel(
        &app,
        &token,
        json!({"name": "all", "kind": "webhook", "url": hook.url(),
               "events": ["forecast", "anomaly", "unpriced"]}),
    );
    // People read the same alerts in Slack and by email.
    let slack = Receiver::start(|_| 200);
    for body in [
        json!({"name": "slack", "kind": "slack", "url": slack.url(),
               "events": ["forecast", "anomaly"]}),
        json!({"name": "mail", "kind": "email", "to": ["finops@example.com"],
               "events": ["forecast", "anomaly"]}),
    ] {
        channel(&app, &token, body);
    }
    confirm(&app, &sink, &["finops@example.com"]);
    // Forty days of $10 before the month, then $200 on its last day: an anomaly the
    // day before "now", and a month forecast at about $300 against a $100 budget.
    let now = month_start_morning();
    let events: Vec<Value> = (1..=40)
        .map(|k| {
            let day = now.date_naive() - chrono::Duration::days(k);
            // $8 to $12: a baseline with a spread, as real spend has.
            let usd = if k == 1 { 200 } else { 8 + k % 5 };
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
                   "output_tokens": 1, "cost_usd": usd, "timestamp": format!("{day}T12:00:00Z")})
        })
        .collect();
    let r = app.post("/api/events/batch", &token, json!({ "events": events }));
    assert_eq!(r.json()["accepted"], 40, "{}", r.text());
    track(
        &app,
        &token,
        json!({"provider": "openai", "model": "gpt-9-preview", "input_tokens": 5,
               "output_tokens": 5, "timestamp": (now - chrono::Duration::hours(1)).to_rfc3339()}),
    );
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "month", "amount_usd": 100, "period": "monthly"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    // Forecast, anomaly and unpriced model to the webhook, the first two to Slack and
    // email: seven, whichever instance records them.
    let recorded = tick_racing(&app, now);
    if recorded != 7 {
        let list = deliveries(&app, &token, id);
        panic!("{recorded}: {list:#?}");
    }
    assert_eq!(tick_racing(&app, now), 0, "each occasion once");
    let got = eventually("three deliveries", || {
        let r = hook.requests();
        (r.len() >= 3).then_some(r)
    });
    let by_event = |e: &str| {
        got.iter()
            .map(|r| r.json())
            .find(|b| b["event"] == e)
            .unwrap_or_else(|| panic!("no {e} notice"))
    };
    let forecast = by_event("forecast");
    assert_eq!(forecast["data"]["forecast_method"], "weekday_trend");
    // Made from the spend per day the tick read for its batch: the same figures as the
    // budget's own reads give.
    let ws = app.get("/api/auth/me", &token).json()["workspaces"][0]["id"]
        .as_i64()
        .unwrap();
    let store = app.db().store();
    let budget = store.list_budgets(WorkspaceId(ws)).unwrap().remove(0);
    let own = llmlab_app::budgets::overrun(&store, WorkspaceId(ws), budget, now)
        .unwrap()
        .expect("over its amount by its own reads");
    let f = own.budget.forecast.unwrap();
    let figures = llmlab_app::money::usd_numbers(json!({
        "spent_usd": own.budget.evaluation.spent, "forecast_usd": f.expected,
        "forecast_low_usd": f.low, "forecast_high_usd": f.high,
    }));
    for (field, want) in figures.as_object().unwrap() {
        assert_eq!(&forecast["data"][field], want, "{field}");
    }
    let crossing = forecast["data"]["expected_crossing"].as_str().unwrap();
    let expected = (now.date_naive() + chrono::Duration::days(9)).to_string();
    assert_eq!(
        crossing, expected,
        "$100 at $10 a day is reached on the 10th"
    );
    let anomaly = by_event("anomaly");
    let yesterday = (now.date_naive() - chrono::Duration::days(1)).to_string();
    assert_eq!(anomaly["data"]["date"], yesterday.as_str());
    assert!(
        anomaly["sections"][0]["lines"][0]
            .as_str()
            .unwrap()
            .contains("gpt-4o")
    );
    assert_eq!(by_event("unpriced")["data"]["model"], "gpt-9-preview");
    let list = deliveries(&app, &token, id);
    assert_eq!(list.len(), 3);

    let crossing_day = format!("around {expected}");
    let posts = eventually("two Slack posts", || {
        let r = slack.requests();
        (r.len() >= 2).then_some(r)
    });
    let texts: Vec<String> = posts.iter().map(|p| p.json()["text"].to_string()).collect();
    for p in &posts {
        let blocks = p.json()["blocks"].to_string();
        assert!(
            blocks.contains("<https://llmlab.example.com/")
                && blocks.contains("|Open the dashboard>"),
            "a link to the page: {blocks}"
        );
    }
    assert!(
        texts
            .iter()
            .any(|t| t.contains("is on course to be exceeded") && t.contains(&crossing_day)),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&format!("Unusual spend on {yesterday}"))),
        "{texts:?}"
    );
    let mails = sink.wait_for(2, Duration::from_secs(30));
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails.iter().all(|m| m.to == ["finops@example.com"]));
    let bodies: String = mails.iter().map(|m| m.data.replace("=\r\n", "")).collect();
    assert!(
        bodies.contains(&format!("Unusual spend on {yesterday}")),
        "{bodies}"
    );
    assert!(bodies.contains("on course to be exceeded"), "{bodies}");
    assert!(bodies.contains("gpt-4o"), "the anomaly's driver: {bodies}");
}

llmlab_store::both_backends!(scheduled_notifications, via scheduled_occasions);

fn weekly_report(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let slack = Receiver::start(|_| 200);
    let token = app.signup("reports@example.com");
    in_zone(&app, &token, "Asia/Tokyo");
    channel(
        &app,
        &token,
        json!({"name": "slack", "kind": "slack", "url": slack.url(), "events": ["report_weekly"]}),
    );
    channel(
        &app,
        &token,
        json!({"name": "mail", "kind": "email", "to": ["cfo@example.com"],
               "events": ["report_weekly", "report_monthly"]}),
    );
    confirm(&app, &sink, &["cfo@example.com"]);
    track(
        &app,
        &token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
               "cost_usd": 3, "tags": {"team": "search"}}),
    );
    track(
        &app,
        &token,
        json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 1,
               "output_tokens": 1, "cost_usd": 1, "tags": {"team": "ads"}}),
    );
    // Next Monday in Tokyo, 08:59 and 09:05: the report of the week holding today is
    // not due, then due, and both instances together send it once per channel.
    let tokyo = chrono_tz::Asia::Tokyo;
    let local_today = Utc::now().with_timezone(&tokyo).date_naive();
    let ahead = 7 - i64::from(local_today.weekday().num_days_from_monday());
    let monday = local_today + chrono::Duration::days(ahead);
    let at = |h, m| {
        tokyo
            .from_local_datetime(&monday.and_hms_opt(h, m, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    assert_eq!(tick_racing(&app, at(8, 59)), 0, "not before 09:00");
    assert_eq!(tick_racing(&app, at(9, 5)), 2, "one per channel");
    assert_eq!(tick_racing(&app, at(10, 0)), 0, "once");
    let post = eventually("the Slack report", || slack.requests().first().cloned());
    let text = post.json().to_string();
    let first_day = (monday - chrono::Duration::days(7)).to_string();
    assert!(
        text.contains("Weekly spend report") && text.contains(&first_day),
        "{text}"
    );
    assert!(
        text.contains("$4.00") && text.contains("openai/gpt-4o: $3.00"),
        "{text}"
    );
    assert!(text.contains("search: $3.00"), "{text}");
    let mail = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(mail.len(), 1);
    assert!(mail[0].data.contains("Weekly spend report"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(slack.requests().len(), 1);
}

llmlab_store::both_backends!(weekly_reports, via weekly_report);
