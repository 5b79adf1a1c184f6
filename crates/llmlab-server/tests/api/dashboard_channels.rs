//! The dashboard's channels page: admins create, test and delete channels through
//! forms; everyone sees them and their deliveries, URLs without their secret path.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::channels::spawn;
use crate::dashboard::{csrf, form, hidden, page, sign_in};
use crate::receiver::Receiver;
use crate::smtp::SmtpSink;

fn managed_from_the_page(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let slack = Receiver::start(|_| 200);
    let owner = app.signup("channels@example.com");
    let cookie = sign_in(&app, "channels@example.com");
    let shown = page(&app, "/channels", Some(&cookie));
    assert_eq!(shown.status, 200, "{}", shown.text());
    assert!(shown.text().contains("No channels yet."));
    let (token, ws) = (csrf(&shown), hidden(&shown, "ws").unwrap());
    let send = |path: &str, fields: &[(&str, &str)]| {
        let mut all = vec![("csrf", token.as_str()), ("ws", ws.as_str())];
        all.extend_from_slice(fields);
        form(&app, path, Some(&cookie), &all)
    };
    let url = format!("http://{}/services/T1/B2/secret", slack.addr);
    let r = send(
        "/channels",
        &[
            ("name", "#spend"),
            ("kind", "slack"),
            ("target", &url),
            ("ev_budget", "on"),
            ("ev_report_weekly", "on"),
        ],
    );
    assert_eq!(
        (r.status, r.header("Location")),
        (303, Some("/channels")),
        "{}",
        r.text()
    );
    let listed = app.get("/api/channels", &owner).json();
    let channel = &listed["channels"][0];
    assert_eq!(
        channel["events"],
        json!(["budget", "report_weekly"]),
        "{listed}"
    );
    let id = channel["id"].as_i64().unwrap();
    let html = page(&app, "/channels", Some(&cookie)).text();
    assert!(html.contains(&format!("http://{}/…", slack.addr)), "{html}");
    assert!(
        !html.contains("secret"),
        "the URL's path stays hidden: {html}"
    );
    // Tested from its button: a test notice reaches the receiver, and the channel's
    // deliveries page shows it accepted.
    let r = send(&format!("/channels/{id}/test"), &[]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        r.header("Location"),
        Some(format!("/channels/{id}").as_str())
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let html = page(&app, &format!("/channels/{id}"), Some(&cookie)).text();
        if html.contains("accepted") {
            assert!(
                html.contains("Deliveries of #spend") && html.contains("test"),
                "{html}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never delivered: {html}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(slack.requests().len(), 1);
    // A refused form comes back with what was typed.
    let r = send(
        "/channels",
        &[
            ("name", "finance"),
            ("kind", "email"),
            ("target", "not an address"),
            ("ev_budget", "on"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let html = r.text();
    assert!(
        html.contains(r#"name="target" value="not an address""#),
        "{html}"
    );
    assert!(html.contains(r#"id="channel-target-error""#), "{html}");
    assert!(
        html.contains(r#"<option value="email" selected>"#),
        "{html}"
    );
    // An email channel's test before any address confirmed: the page says why (409).
    let r = send(
        "/channels",
        &[
            ("name", "finance"),
            ("kind", "email"),
            ("target", "finance@example.com"),
            ("ev_budget", "on"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let email = app.get("/api/channels", &owner).json()["channels"][1]["id"]
        .as_i64()
        .unwrap();
    let html = page(&app, "/channels", Some(&cookie)).text();
    assert!(html.contains("finance@example.com (pending)"), "{html}");
    let r = send(&format!("/channels/{email}/test"), &[]);
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text().contains(r#"<p class="notice" role="alert">"#),
        "{}",
        r.text()
    );
    // Deleted from its button.
    let r = send(&format!("/channels/{email}/delete"), &[]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        app.get("/api/channels", &owner).json()["channels"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

llmlab_store::both_backends!(channels_are_managed_from_their_page, via managed_from_the_page);

crate::both!(
    viewers_see_channels_without_their_controls,
    |app: crate::TestApp| {
        let owner = app.signup("lead@example.com");
        let viewer = app.signup("watcher@example.com");
        let r = app.post("/api/workspaces", &owner, json!({"name": "Ops"}));
        let ws = r.json()["id"].as_i64().unwrap();
        let r = app.post(
            &format!("/api/workspaces/{ws}/members"),
            &owner,
            json!({"email": "watcher@example.com", "role": "viewer"}),
        );
        assert!(r.status < 300, "{}", r.text());
        let id = app.get("/api/invitations", &viewer).json()["invitations"][0]["id"]
            .as_i64()
            .unwrap();
        app.post(&format!("/api/invitations/{id}/accept"), &viewer, json!({}));
        let cookie = sign_in(&app, "watcher@example.com");
        let switched = page(&app, &format!("/overview?ws={ws}"), Some(&cookie));
        let cookie = format!("{cookie}; {}", switched.cookie("llmlab_ws").unwrap());
        let html = page(&app, "/channels", Some(&cookie)).text();
        assert!(html.contains("<h1>Channels</h1>"), "{html}");
        assert!(
            !html.contains(r#"method="post" action="/channels"#),
            "no form for a viewer: {html}"
        );
        assert!(html.contains(r#"selected>Ops (viewer)"#), "{html}");
    }
);
