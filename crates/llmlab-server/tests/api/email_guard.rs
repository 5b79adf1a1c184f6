//! Email channels cannot be used to mail strangers: what a hostile user with a free
//! account tried (an email channel named like an invoice, to arbitrary and internal
//! addresses, tested in a loop; a workspace name holding RFC 2047 syntax), each a test on
//! both backends against the SMTP sink.

use std::time::Duration;

use serde_json::{Value, json};

use crate::channels::{channel, deliveries, eventually, spawn, spawn_with, track};
use crate::receiver::Receiver;
use crate::smtp::{Mail, SmtpSink};
use crate::{TestApp, assert_error, assert_invalid};

fn refused_recipients(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let token = app.signup("guard@example.com");
    let create = |to: Vec<&str>| {
        app.post(
            "/api/channels",
            &token,
            json!({"name": "mail", "kind": "email", "to": to, "events": ["budget"]}),
        )
    };
    for address in [
        "x@[127.0.0.1]",
        "x@[IPv6:::1]",
        "x@127.0.0.1",
        "x@0x7f.1",
        "x@localhost",
        "x@LocalHost",
        "x@intranet",
        "x@db.localhost",
        "x@printer.local",
        "x@metadata.google.internal",
        "x@router.home.arpa",
        "x@1.0.0.127.in-addr.arpa",
        "x@nas.lan",
        "x@mail.test",
        "x@nowhere.invalid",
        "x@acme.example",
        "x@hidden.onion",
        "x@host.corp",
        "x@box.localdomain",
    ] {
        let r = create(vec![address]);
        let v = assert_invalid(&r, "to[0]");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(address), "{address}: {message}");
    }
    // The field names the refused address by its place.
    let r = create(vec![
        "ops@example.com",
        "cfo@example.com",
        "it@example.org",
        "x@[127.0.0.1]",
    ]);
    let v = assert_invalid(&r, "to[3]");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("IP"),
        "{v}"
    );
    // Public domains, international ones included, are accepted.
    let r = create(vec!["ops@example.com", "ü@bücher.de"]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        app.get("/api/channels", &token).json()["channels"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing was created for the refused ones"
    );
}

llmlab_store::both_backends!(email_recipients_must_be_public_domains, via refused_recipients);

/// A workspace named with RFC 2047 syntax reaches the reader's subject line as those
/// characters, not as the text they would decode to.
fn encoded_word_names(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let token = app.signup("names@example.com");
    let name = "Acme =?utf-8?q?Invoice_overdue=2C_pay_at_evil.example?= ops";
    let ws = app.get("/api/auth/me", &token).json()["workspaces"][0]["id"]
        .as_i64()
        .unwrap();
    let r = app.call(
        "PATCH",
        &format!("/api/workspaces/{ws}"),
        Some(&token),
        Some(&json!({ "name": name })),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let id = channel(
        &app,
        &token,
        json!({"name": "mail", "kind": "email", "to": ["ops@example.com"], "events": ["budget"]}),
    );
    confirm(&app, &sink, &["ops@example.com"]);
    let r = app.post(&format!("/api/channels/{id}/test"), &token, json!({}));
    assert_eq!(r.status, 202, "{}", r.text());
    let mail = sink.wait_for(1, Duration::from_secs(30));
    let subject = mail[0].header("Subject").unwrap();
    assert!(subject.contains(name), "{subject}");
    assert!(!subject.contains("Invoice overdue"), "{subject}");
}

llmlab_store::both_backends!(encoded_words_in_names_reach_the_reader_literally, via encoded_word_names);

/// The path of the confirmation link in `mail` (the server's public URL is not this
/// test server's address).
pub(crate) fn confirmation_path(mail: &Mail) -> String {
    let text = mail.text();
    let start = text
        .find("https://llmlab.example.com/email/confirm/")
        .unwrap_or_else(|| panic!("no confirmation link in {text}"));
    let link = text[start..].split_whitespace().next().unwrap();
    link.trim_start_matches("https://llmlab.example.com")
        .to_string()
}

/// Whether `mail` is a confirmation message.
pub(crate) fn is_confirmation(mail: &Mail) -> bool {
    mail.header("Subject").as_deref() == Some("Confirm email notifications from LLMLab")
}

/// Confirms each of `addresses` through the link its confirmation brought, as their
/// owners would, and takes those confirmations out of the sink's inbox (so a test of
/// what a channel sends counts only that).
pub(crate) fn confirm(app: &TestApp, sink: &SmtpSink, addresses: &[&str]) {
    let asked = |m: &Mail| is_confirmation(m) && addresses.iter().any(|a| m.to == [*a]);
    let mails = eventually("the confirmations", || {
        let mails: Vec<Mail> = sink.messages().into_iter().filter(asked).collect();
        (mails.len() >= addresses.len()).then_some(mails)
    });
    for m in &mails {
        let r = app.call("POST", &confirmation_path(m), None, None);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    sink.discard(asked);
}

/// Each recipient of every listed channel, as `(address, status)`.
fn states(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let list = app.get("/api/channels", token).json();
    list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["recipients"].as_array().cloned().unwrap_or_default())
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn strangers(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let token = app.signup("mallory@example.com");
    let bait = "Your invoice is overdue - pay at evil.example";
    let id = channel(
        &app,
        &token,
        json!({"name": bait, "kind": "email", "events": ["budget"],
               "to": ["victim@example.com", "other@example.org"]}),
    );
    // Nobody has agreed to anything yet: a test send is refused, not mailed.
    let r = app.post(&format!("/api/channels/{id}/test"), &token, json!({}));
    let v = assert_error(&r, 409, "conflict");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("confirm"),
        "{v}"
    );
    assert_eq!(
        states(&app, &token),
        [
            ("victim@example.com".into(), "pending".into()),
            ("other@example.org".into(), "pending".into())
        ]
    );
    // Each address gets one confirmation, alone in its envelope, with no text of the
    // sender's in its subject.
    let mails = sink.wait_for(2, Duration::from_secs(30));
    assert_eq!(mails.len(), 2, "{mails:?}");
    let to_victim = mails
        .iter()
        .find(|m| m.to == ["victim@example.com"])
        .expect("a confirmation to the victim");
    assert!(mails.iter().any(|m| m.to == ["other@example.org"]));
    assert_eq!(
        to_victim.header("Subject").as_deref(),
        Some("Confirm email notifications from LLMLab")
    );
    let text = to_victim.text();
    for says in [
        &format!("“{bait}”"),
        "chosen by whoever set up the channel",
        "ignore this email",
        "workspace",
    ] {
        assert!(text.contains(says), "{says:?} missing from {text}");
    }
    // A budget alert meanwhile is held for them, not sent.
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "prod", "amount_usd": 1, "period": "monthly"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    track(
        &app,
        &token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
               "cost_usd": 1.5}),
    );
    let held = eventually("alerts held for confirmation", || {
        let list = deliveries(&app, &token, id);
        let alerts: Vec<_> = list.iter().filter(|n| n["event"] == "budget").collect();
        (alerts.len() == 2 && alerts.iter().all(|n| n["held"] == "confirmation")).then_some(list)
    });
    assert_eq!(sink.messages().len(), 2, "only the confirmations");

    // The link opens a page that says what is asked and confirms only when its button
    // is pressed (a mail scanner's GET confirms nothing). The workspace never sees it.
    let path = confirmation_path(to_victim);
    assert!(!held.iter().any(|n| n.to_string().contains(&path[15..])));
    let page = app.call("GET", &path, None, None);
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains("victim@example.com") && html.contains("evil.example"));
    assert!(html.contains("method=\"post\""), "{html}");
    assert_eq!(states(&app, &token)[0].1, "pending");
    let forged = format!("{}0", &path[..path.len() - 1]);
    let forged = if forged == path {
        format!("{}1", &path[..path.len() - 1])
    } else {
        forged
    };
    assert_eq!(app.call("GET", &forged, None, None).status, 404);
    assert_eq!(app.call("POST", &forged, None, None).status, 404);
    assert_eq!(states(&app, &token)[0].1, "pending");
    let done = app.call("POST", &path, None, None);
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(
        states(&app, &token),
        [
            ("victim@example.com".into(), "confirmed".into()),
            ("other@example.org".into(), "pending".into())
        ]
    );
    // What was held goes out to the one who confirmed, and only to them.
    let mails = sink.wait_for(4, Duration::from_secs(30));
    assert_eq!(mails.len(), 4, "{mails:?}");
    for m in &mails[2..] {
        assert_eq!(m.to, ["victim@example.com"]);
        assert!(m.header("Subject").unwrap().contains("Budget “prod”"));
    }
    let r = app.post(&format!("/api/channels/{id}/test"), &token, json!({}));
    assert_eq!(r.status, 202, "{}", r.text());
    let mails = sink.wait_for(5, Duration::from_secs(30));
    assert_eq!(mails[4].to, ["victim@example.com"]);
    // Confirming twice changes nothing.
    assert_eq!(app.call("POST", &path, None, None).status, 200);
    assert_eq!(states(&app, &token)[0].1, "confirmed");
}

llmlab_store::both_backends!(strangers_get_one_confirmation_and_nothing_else, via strangers);

/// Each of `list`'s notifications of `event` once all of them are `held` for `why`.
fn held_for(list: &[Value], event: &str, why: &str, n: usize) -> bool {
    let of: Vec<&Value> = list.iter().filter(|x| x["event"] == event).collect();
    of.len() == n && of.iter().all(|x| x["held"] == why)
}

/// Test sends and mail are hourly allowances of the workspace, counted in the database
/// (two instances draw on one), answered 429 with Retry-After by the call that would
/// send; mail of background notices over the allowance waits in the outbox for the next
/// hour instead of being lost.
fn hourly_limits(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let limits = [
        ("LLMLAB_CHANNEL_TESTS_PER_HOUR", "3"),
        ("LLMLAB_EMAILS_PER_HOUR", "10"),
    ];
    let Some(app) = spawn_with(backend, &sink, &limits) else {
        return;
    };
    let other = app.second_instance();
    let token = app.signup("limits@example.com");
    let hook = Receiver::start(|_| 200);
    let hook_id = channel(
        &app,
        &token,
        json!({"name": "hook", "kind": "webhook", "url": hook.url(), "events": ["budget"]}),
    );
    let test = |on: &TestApp| on.post(&format!("/api/channels/{hook_id}/test"), &token, json!({}));
    for on in [&app, &other, &app] {
        assert_eq!(test(on).status, 202);
    }
    let r = test(&other);
    let v = assert_error(&r, 429, "rate_limited");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("test"),
        "{v}"
    );
    let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");

    // Ten confirmations use the hour's ten mails; one more address must wait.
    let many: Vec<String> = (0..10).map(|i| format!("p{i}@example.com")).collect();
    let mail_id = channel(
        &app,
        &token,
        json!({"name": "mail", "kind": "email", "to": many, "events": ["budget"]}),
    );
    let r = other.post(
        "/api/channels",
        &token,
        json!({"name": "late", "kind": "email", "to": ["late@example.com"], "events": ["budget"]}),
    );
    assert_error(&r, 429, "rate_limited");
    assert!(r.header("Retry-After").is_some());
    let names: Vec<String> = app.get("/api/channels", &token).json()["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["hook", "mail"], "nothing was created");

    // p0 confirms; a budget alert then finds the hour's mail used up and waits.
    confirm(&app, &sink, &["p0@example.com"]);
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "prod", "amount_usd": 1, "period": "monthly"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    track(
        &app,
        &token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
               "cost_usd": 1.5}),
    );
    eventually("alerts held for the next hour", || {
        held_for(
            &deliveries(&app, &token, mail_id),
            "budget",
            "hourly_limit",
            2,
        )
        .then_some(())
    });
    assert!(sink.messages().iter().all(is_confirmation));

    // The hour passes (the window and the notices' wait moved back by an hour): the
    // alerts go out, and the allowance is whole again.
    let url = app.db().url().to_string();
    eventually("the hour to pass", || {
        llmlab_store::admin::execute(
            &url,
            "UPDATE send_quota SET window_start = window_start - 3600000000; \
             UPDATE notifications SET next_attempt_at = NULL WHERE held = 'hourly_limit';",
        )
        .ok()
    });
    let mails = eventually("the held alerts", || {
        let m: Vec<Mail> = sink
            .messages()
            .into_iter()
            .filter(|m| !is_confirmation(m))
            .collect();
        (m.len() >= 2).then_some(m)
    });
    assert!(
        mails.iter().all(|m| m.to == ["p0@example.com"]),
        "{mails:?}"
    );
    let r = other.post(
        "/api/channels",
        &token,
        json!({"name": "late", "kind": "email", "to": ["late@example.com"], "events": ["budget"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(test(&app).status, 202);
}

llmlab_store::both_backends!(test_sends_and_mail_are_limited_per_workspace_hour, via hourly_limits);
