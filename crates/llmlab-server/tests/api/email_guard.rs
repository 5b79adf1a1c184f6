//! Email channels cannot be used to mail strangers: what a hostile user with a free
//! account tried (an email channel named like an invoice, to arbitrary and internal
//! addresses, tested in a loop; a workspace name holding RFC 2047 syntax), each a test on
//! both backends against the SMTP sink.

use std::time::Duration;

use serde_json::json;

use crate::assert_invalid;
use crate::channels::{channel, spawn};
use crate::smtp::SmtpSink;

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
    let r = app.post(&format!("/api/channels/{id}/test"), &token, json!({}));
    assert_eq!(r.status, 202, "{}", r.text());
    let mail = sink.wait_for(1, Duration::from_secs(30));
    let subject = mail[0].header("Subject").unwrap();
    assert!(subject.contains(name), "{subject}");
    assert!(!subject.contains("Invoice overdue"), "{subject}");
}

llmlab_store::both_backends!(encoded_words_in_names_reach_the_reader_literally, via encoded_word_names);
