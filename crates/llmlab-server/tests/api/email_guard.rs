//! Email channels cannot be used to mail strangers: what a hostile user with a free
//! account tried (an email channel named like an invoice, to arbitrary and internal
//! addresses, tested in a loop; a workspace name holding RFC 2047 syntax), each a test on
//! both backends against the SMTP sink.

use serde_json::json;

use crate::assert_invalid;
use crate::channels::spawn;
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
