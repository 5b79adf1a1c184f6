//! The dashboard over HTTP: session cookies, CSRF, roles, and figures that match the
//! API, on both backends.

use serde_json::json;

use crate::client::{Response, raw};
use crate::{TestApp, both};

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A form POST, as a browser sends it (without `Origin`, as older browsers do).
pub(crate) fn form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> Response {
    form_from(app, path, cookie, None, fields)
}

/// [`form`] with the `Origin` a browser sends when `origin` is given.
pub(crate) fn form_from(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> Response {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    if let Some(o) = origin {
        headers.push(("Origin", o));
    }
    raw(app.addr, "POST", path, &headers, body.join("&").as_bytes())
}

pub(crate) fn page(app: &TestApp, path: &str, cookie: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
    raw(app.addr, "GET", path, &headers, &[])
}

/// The sign-in (`/login`) or sign-up (`/signup`) form sent as a browser sends it: the
/// page first, then its form with the page's cookie and token, from `origin` if given.
pub(crate) fn auth_form(app: &TestApp, path: &str, email: &str, origin: Option<&str>) -> Response {
    let shown = page(app, path, None);
    assert_eq!(shown.status, 200, "{}", shown.text());
    let cookie = shown.cookie("llmlab_signin").expect("a pre-session cookie");
    let token = csrf(&shown);
    form_from(
        app,
        path,
        Some(&cookie),
        origin,
        &[
            ("csrf", &token),
            ("email", email),
            ("password", "correct horse"),
        ],
    )
}

/// Signs in through the form; returns the `Cookie` header value of the session.
pub(crate) fn sign_in(app: &TestApp, email: &str) -> String {
    let r = auth_form(app, "/login", email, None);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("Location"), Some("/overview"));
    r.cookie("llmlab_session").expect("a session cookie")
}

/// The value of the first hidden field `name` in a page's forms.
pub(crate) fn hidden(r: &Response, name: &str) -> Option<String> {
    let text = r.text();
    let field = format!(r#"type="hidden" name="{name}" value=""#);
    let at = text.find(&field)? + field.len();
    let rest = &text[at..];
    Some(rest[..rest.find('"')?].to_string())
}

/// The whole `Set-Cookie` header that sets `name`.
fn set_cookie(r: &Response, name: &str) -> String {
    r.headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("Set-Cookie") && v.starts_with(&format!("{name}=")))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} cookie set"))
}

/// The CSRF token in a page's forms.
pub(crate) fn csrf(r: &Response) -> String {
    hidden(r, "csrf").expect("a form with a CSRF token")
}

both!(
    pages_need_a_session_and_the_api_ignores_the_cookie,
    |app: TestApp| {
        for path in ["/", "/overview", "/events", "/budgets"] {
            let r = page(&app, path, None);
            assert_eq!(r.status, 303, "{path}");
            assert_eq!(r.header("Location"), Some("/login"), "{path}");
        }
        let login = page(&app, "/login", None);
        assert_eq!(login.status, 200);
        assert!(
            login
                .header("Content-Type")
                .unwrap()
                .starts_with("text/html")
        );
        let csp = login.header("Content-Security-Policy").unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(page(&app, "/assets/app.css", None).status == 200);

        let r = auth_form(&app, "/signup", "web@example.com", None);
        assert_eq!(r.status, 303, "{}", r.text());
        let set = set_cookie(&r, "llmlab_session");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(
            !set.contains("Secure"),
            "plain http without LLMLAB_PUBLIC_URL=https"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        assert_eq!(page(&app, "/overview", Some(&cookie)).status, 200);
        // The JSON API does not take the cookie.
        let r = raw(app.addr, "GET", "/api/auth/me", &[("Cookie", &cookie)], &[]);
        assert_eq!(r.status, 401);
        // Same rules as the API: a short password is refused, with the reason on the page
        // and a form to try again.
        let shown = page(&app, "/signup", None);
        let pre = shown.cookie("llmlab_signin").unwrap();
        let r = form(
            &app,
            "/signup",
            Some(&pre),
            &[
                ("csrf", &csrf(&shown)),
                ("email", "x@example.com"),
                ("password", "short"),
            ],
        );
        assert_eq!(r.status, 422);
        assert!(r.text().contains("password"));
        assert_eq!(csrf(&r), csrf(&shown), "the same browser, the same token");
        let r = form(
            &app,
            "/login",
            Some(&pre),
            &[
                ("csrf", &csrf(&shown)),
                ("email", "web@example.com"),
                ("password", "wrong one"),
            ],
        );
        assert_eq!(r.status, 401);
    }
);

both!(the_overview_shows_what_the_api_reports, |app: TestApp| {
    let token = app.signup("figures@example.com");
    for cost in ["1234.5", "0.06"] {
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 10,
                "output_tokens": 10, "cost_usd": cost}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let now = chrono::Utc::now();
    let month = now.format("%Y-%m-01").to_string();
    let api = app
        .get(
            &format!(
                "/api/costs/summary?start={month}&end={}",
                now.format("%Y-%m-%d")
            ),
            &token,
        )
        .json();
    assert_eq!(api["total_cost_usd"].to_string(), "1234.56");
    let cookie = sign_in(&app, "figures@example.com");
    let r = page(&app, "/overview", Some(&cookie));
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains(r#"id="total">$1,234.56</p>"#), "{html}");
    assert!(html.contains("<svg class=\"chart\""));
    assert!(html.contains("openai/gpt-4o"));
    let events = page(&app, "/events", Some(&cookie)).text();
    assert!(events.contains("$1234.5") && events.contains("sent by the client"));
    // The time zone chosen is remembered.
    let r = page(&app, "/overview?tz=Asia/Tokyo", Some(&cookie));
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Set-Cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("llmlab_tz=Asia/Tokyo")),
        "{cookies:?}"
    );
});

fn budget_form<'a>(csrf: &'a str, ws: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("csrf", csrf),
        ("ws", ws),
        ("name", "Team"),
        ("amount_usd", "250"),
        ("period", "monthly"),
    ]
}

both!(
    budget_forms_need_the_csrf_token_and_a_role,
    |app: TestApp| {
        let owner_token = app.signup("forms@example.com");
        let cookie = sign_in(&app, "forms@example.com");
        let budgets = page(&app, "/budgets", Some(&cookie));
        let (token, shown) = (csrf(&budgets), hidden(&budgets, "ws").unwrap());
        let r = form(&app, "/budgets", Some(&cookie), &budget_form("", &shown));
        assert_eq!(r.status, 403, "without the token");
        let r = form(
            &app,
            "/budgets",
            Some(&cookie),
            &budget_form("0000", &shown),
        );
        assert_eq!(r.status, 403, "with a wrong token");
        let r = form(
            &app,
            "/budgets",
            Some(&cookie),
            &budget_form(&token, &shown),
        );
        assert_eq!(r.status, 303, "{}", r.text());
        let listed = app.get("/api/budgets", &owner_token).json();
        assert_eq!(listed["budgets"][0]["name"], "Team");
        let id = listed["budgets"][0]["id"].as_i64().unwrap();
        let page_now = page(&app, "/budgets", Some(&cookie)).text();
        assert!(page_now.contains("Team") && page_now.contains("<progress"));
        assert!(page_now.contains(r#"method="post" action="/budgets""#));
        assert!(page_now.contains("Alerts (0)"));
        // Edited through its form: the same budget, renamed.
        let id_text = id.to_string();
        let r = form(
            &app,
            "/budgets",
            Some(&cookie),
            &[
                ("csrf", &token),
                ("ws", &shown),
                ("id", &id_text),
                ("name", "Team 2"),
                ("amount_usd", "300"),
                ("period", "monthly"),
            ],
        );
        assert_eq!(r.status, 303, "{}", r.text());
        let listed = app.get("/api/budgets", &owner_token).json();
        assert_eq!(listed["budgets"].as_array().unwrap().len(), 1);
        assert_eq!(
            (
                listed["budgets"][0]["name"].as_str(),
                listed["budgets"][0]["amount_usd"].as_i64()
            ),
            (Some("Team 2"), Some(300))
        );

        // A viewer sees no controls, and a form sent anyway is refused.
        let looker = app.signup("looker@example.com");
        let ws = app.get("/api/auth/me", &owner_token).json()["workspaces"][0]["id"]
            .as_i64()
            .unwrap();
        app.join(&owner_token, ws, "looker@example.com", &looker, "viewer");
        let viewer = sign_in(&app, "looker@example.com");
        let seen = page(&app, &format!("/budgets?ws={ws}"), Some(&viewer));
        assert!(seen.text().contains("Team 2"));
        assert!(!seen.text().contains(r#"method="post" action="/budgets""#));
        let viewer_cookie = seen.cookie("llmlab_ws").unwrap();
        let both_cookies = format!("{viewer}; {viewer_cookie}");
        let (viewer_csrf, ws_text) = (csrf(&seen), ws.to_string());
        let r = form(
            &app,
            "/budgets",
            Some(&both_cookies),
            &budget_form(&viewer_csrf, &ws_text),
        );
        assert_eq!(r.status, 403);
        let r = form(
            &app,
            &format!("/budgets/{id}/delete"),
            Some(&both_cookies),
            &[("csrf", &viewer_csrf), ("ws", &ws_text)],
        );
        assert_eq!(r.status, 403);

        // The owner deletes it; signing out ends the session on the server.
        let r = form(
            &app,
            &format!("/budgets/{id}/delete"),
            Some(&cookie),
            &[("csrf", &token), ("ws", &shown)],
        );
        assert_eq!(r.status, 303);
        assert_eq!(
            app.get("/api/budgets", &owner_token).json()["budgets"],
            json!([])
        );
        let r = form(
            &app,
            "/logout",
            Some(&cookie),
            &[("csrf", &token), ("ws", &shown)],
        );
        assert_eq!(r.status, 303);
        assert_eq!(page(&app, "/overview", Some(&cookie)).status, 303);
    }
);

both!(settings_make_keys_and_manage_members, |app: TestApp| {
    let owner_token = app.signup("settings@example.com");
    let cookie = sign_in(&app, "settings@example.com");
    let settings = page(&app, "/settings", Some(&cookie));
    assert_eq!(settings.status, 200);
    let (token, shown) = (csrf(&settings), hidden(&settings, "ws").unwrap());
    let marks = [("csrf", token.as_str()), ("ws", shown.as_str())];
    // A new key is shown once, and works with the API.
    let r = form(
        &app,
        "/settings/keys",
        Some(&cookie),
        &[marks[0], marks[1], ("name", "gateway"), ("read", "on")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    let at = html.find(r#"<output id="new-key">"#).expect("the new key")
        + r#"<output id="new-key">"#.len();
    let key = &html[at..at + html[at..].find('<').unwrap()];
    assert!(key.starts_with("llmlab_"));
    assert_eq!(
        app.get("/api/events", key).status,
        200,
        "the key has the read scope"
    );
    let again = page(&app, "/settings", Some(&cookie)).text();
    assert!(!again.contains(key), "shown only once");
    assert!(again.contains("gateway"));
    let id = app.get("/api/keys", &owner_token).json()["keys"][0]["id"]
        .as_i64()
        .unwrap();
    let r = form(
        &app,
        &format!("/settings/keys/{id}/revoke"),
        Some(&cookie),
        &marks,
    );
    assert_eq!(r.status, 303);
    assert_eq!(app.get("/api/events", key).status, 401);

    // Members: an admin invites people, sees who is invited and revokes an invitation;
    // the webhook secret is read through an audited form.
    app.signup("colleague@example.com");
    let ws = app.get("/api/auth/me", &owner_token).json()["workspaces"][0]["id"]
        .as_i64()
        .unwrap();
    for email in ["colleague@example.com", "passer-by@example.com"] {
        let r = form(
            &app,
            "/settings/members",
            Some(&cookie),
            &[marks[0], marks[1], ("email", email), ("role", "member")],
        );
        assert_eq!(r.status, 303, "{}", r.text());
    }
    let invited = app
        .get(&format!("/api/workspaces/{ws}/invitations"), &owner_token)
        .json();
    let id_of = |email: &str| crate::find_by(&invited["invitations"], "email", email)["id"].clone();
    let listed = page(&app, "/settings", Some(&cookie)).text();
    for email in ["colleague@example.com", "passer-by@example.com"] {
        let revoke = format!(r#"action="/settings/invitations/{}/revoke""#, id_of(email));
        assert!(listed.contains(&revoke), "{revoke} in {listed}");
    }
    let r = form(
        &app,
        &format!(
            "/settings/invitations/{}/revoke",
            id_of("passer-by@example.com")
        ),
        Some(&cookie),
        &marks,
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let left = app
        .get(&format!("/api/workspaces/{ws}/invitations"), &owner_token)
        .json();
    assert_eq!(
        crate::strings(&left["invitations"], "email"),
        ["colleague@example.com"]
    );
    let r = form(&app, "/settings/webhook-secret", Some(&cookie), &marks);
    assert!(r.text().contains("whsec_"));
    let audit = app.get("/api/audit", &owner_token).json();
    let actions: Vec<&str> = crate::strings(&audit["entries"], "action");
    assert_eq!(
        &actions[..5],
        [
            "webhook_secret.read",
            "invitation.revoke",
            "invitation.create",
            "invitation.create",
            "key.revoke",
        ]
    );
    // The colleague accepts on their invitations page, and lands in the workspace.
    let member = sign_in(&app, "colleague@example.com");
    let invitations = page(&app, "/invitations", Some(&member));
    let accept = format!("/invitations/{}/accept", id_of("colleague@example.com"));
    assert!(
        invitations
            .text()
            .contains(&format!(r#"action="{accept}""#))
    );
    let r = form(
        &app,
        &accept,
        Some(&member),
        &[("csrf", &csrf(&invitations))],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        r.header("Location"),
        Some(format!("/overview?ws={ws}").as_str())
    );
    // The member sees the members but no admin controls, and is refused if they try.
    let seen = page(&app, &format!("/budgets?ws={ws}"), Some(&member));
    let ws_cookie = seen.cookie("llmlab_ws").unwrap();
    let both_cookies = format!("{member}; {ws_cookie}");
    let theirs = page(&app, "/settings", Some(&both_cookies));
    assert!(theirs.text().contains("settings@example.com"));
    assert!(!theirs.text().contains(r#"action="/settings/members""#));
    assert!(!theirs.text().contains("Webhook secret"));
    let (member_csrf, ws_text) = (csrf(&theirs), ws.to_string());
    let r = form(
        &app,
        "/settings/webhook-secret",
        Some(&both_cookies),
        &[("csrf", &member_csrf), ("ws", &ws_text)],
    );
    assert_eq!(r.status, 403);
});

// The invitee's own page: each invitation with its accept and decline forms, which need
// the session's CSRF token like every other form.
both!(invitations_are_answered_on_their_page, |app: TestApp| {
    let owner = app.signup("inviter@example.com");
    app.signup("invitee@example.com");
    let mut ids = Vec::new();
    for name in ["Declined", "Joined"] {
        let r = app.post("/api/workspaces", &owner, json!({"name": name}));
        let ws = r.json()["id"].as_i64().unwrap();
        let r = app.post(
            &format!("/api/workspaces/{ws}/members"),
            &owner,
            json!({"email": "invitee@example.com", "role": "viewer"}),
        );
        assert_eq!(r.status, 202, "{}", r.text());
        ids.push((ws, r.json()["invitation"]["id"].as_i64().unwrap()));
    }
    let [(declined_ws, declined), (joined_ws, joined)] = ids[..] else {
        unreachable!()
    };
    let cookie = sign_in(&app, "invitee@example.com");
    let overview = page(&app, "/overview", Some(&cookie)).text();
    assert!(
        overview.contains(r#"href="/invitations""#),
        "linked from the navigation"
    );
    let seen = page(&app, "/invitations", Some(&cookie));
    assert_eq!(seen.status, 200);
    let html = seen.text();
    for (name, id) in [("Declined", declined), ("Joined", joined)] {
        assert!(html.contains(name), "{html}");
        assert!(html.contains(&format!(r#"action="/invitations/{id}/accept""#)));
        assert!(html.contains(&format!(r#"action="/invitations/{id}/decline""#)));
    }
    let token = csrf(&seen);
    // Without the token nothing happens.
    let r = form(
        &app,
        &format!("/invitations/{joined}/accept"),
        Some(&cookie),
        &[],
    );
    assert_eq!(r.status, 403);
    let r = form(
        &app,
        &format!("/invitations/{declined}/decline"),
        Some(&cookie),
        &[("csrf", &token)],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("Location"), Some("/invitations"));
    let r = form(
        &app,
        &format!("/invitations/{joined}/accept"),
        Some(&cookie),
        &[("csrf", &token)],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        r.header("Location"),
        Some(format!("/overview?ws={joined_ws}").as_str())
    );
    let invitee = app.anonymous(
        "/api/auth/login",
        json!({"email": "invitee@example.com", "password": "correct horse"}),
    );
    let invitee = invitee.json()["token"].as_str().unwrap().to_string();
    let theirs: Vec<i64> = app.get("/api/workspaces", &invitee).json()["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_i64().unwrap())
        .collect();
    assert!(
        theirs.contains(&joined_ws) && !theirs.contains(&declined_ws),
        "{theirs:?}"
    );
    assert_eq!(
        app.get("/api/invitations", &invitee).json()["invitations"],
        json!([])
    );
    let after = page(&app, "/invitations", Some(&cookie)).text();
    assert!(!after.contains("/accept"), "{after}");
});

both!(explore_recommendations_and_pricing_pages, |app: TestApp| {
    let token = app.signup("explore@example.com");
    for (model, cost, tag) in [
        ("gpt-4o", "10.25", "search"),
        ("gpt-4o-mini", "1.5", "chat"),
    ] {
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": model, "input_tokens": 100,
                "output_tokens": 10, "cost_usd": cost, "tags": {"team": tag}}),
        );
        assert_eq!(r.status, 201);
    }
    let r = app.call(
        "PUT",
        "/api/pricing/custom/openai/ft-acme",
        Some(&token),
        Some(&json!({"input_per_mtok_usd": "0.075", "output_per_mtok_usd": "0.3"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = sign_in(&app, "explore@example.com");
    // The same filters as the API: the same total.
    let query = "provider=openai&tag=team:search&granularity=day";
    let api = app
        .get(&format!("/api/costs/summary?{query}"), &token)
        .json();
    assert_eq!(api["total_cost_usd"].to_string(), "10.25");
    let explore = page(&app, &format!("/explore?{query}"), Some(&cookie));
    assert_eq!(explore.status, 200, "{}", explore.text());
    assert!(
        explore.text().contains(r#"id="explore-total">$10.25<"#),
        "{}",
        explore.text()
    );
    assert!(
        explore
            .text()
            .contains("/explore/events.csv?provider=openai&amp;tag=team:search")
    );
    let r = page(&app, "/explore?granularity=fortnight", Some(&cookie));
    assert_eq!(r.status, 422);
    let recs = page(&app, "/recommendations", Some(&cookie));
    assert_eq!(recs.status, 200);
    assert!(recs.text().contains("Anomalies") && recs.text().contains("Cheaper models"));
    let pricing = page(&app, "/pricing?q=gpt-4o-mini", Some(&cookie)).text();
    assert!(pricing.contains("openai/gpt-4o-mini"));
    assert!(
        !pricing.contains("anthropic/"),
        "the search narrows the catalog"
    );
    assert!(pricing.contains("openai/ft-acme") && pricing.contains("$0.075"));
    // An admin adds a revision through the form, dated; without the token it is refused.
    let shown = page(&app, "/pricing", Some(&cookie));
    let (token_in_page, ws_in_page) = (csrf(&shown), hidden(&shown, "ws").unwrap());
    let fields = |csrf: &'static str| {
        vec![
            ("csrf", csrf),
            ("provider", "OpenAI"),
            ("model", "gpt-5.1"),
            ("input", "1.25"),
            ("output", "10"),
            ("effective_from", "2026-11-01"),
        ]
    };
    let mut without_token = fields("");
    without_token.push(("ws", &ws_in_page));
    assert_eq!(
        form(&app, "/pricing/custom", Some(&cookie), &without_token).status,
        403
    );
    let mut with_token = without_token.clone();
    with_token[0].1 = &token_in_page;
    let r = form(&app, "/pricing/custom", Some(&cookie), &with_token);
    assert_eq!(r.status, 303, "{}", r.text());
    let prices = app.get("/api/pricing/custom", &token).json();
    let added = crate::find_by(&prices["prices"], "model", "gpt-5.1").clone();
    assert_eq!(
        (added["provider"].as_str(), added["effective_from"].as_str()),
        (Some("openai"), Some("2026-11-01"))
    );
    assert_eq!(added["input_per_mtok_usd"].to_string(), "1.25");
    // Left empty, the optional rates are not set; filled in, they are, and the page
    // lists them.
    assert!(added.get("input_audio_per_mtok_usd").is_none(), "{added}");
    assert_eq!(
        added["cached_input_per_mtok_usd"],
        serde_json::Value::Null,
        "{added}"
    );
    let mut audio = with_token.clone();
    audio[2].1 = "gpt-4o-audio-preview";
    audio.extend([("cached_input", "0.5"), ("input_audio", "32")]);
    let r = form(&app, "/pricing/custom", Some(&cookie), &audio);
    assert_eq!(r.status, 303, "{}", r.text());
    let prices = app.get("/api/pricing/custom", &token).json();
    let set = crate::find_by(&prices["prices"], "model", "gpt-4o-audio-preview").clone();
    assert_eq!(set["cached_input_per_mtok_usd"].to_string(), "0.5", "{set}");
    assert_eq!(set["input_audio_per_mtok_usd"].to_string(), "32", "{set}");
    let listed = page(&app, "/pricing", Some(&cookie)).text();
    assert!(listed.contains("audio in $32"), "the page lists the rate");
    // A malformed optional rate is refused, quoting it.
    let mut bad = with_token.clone();
    bad.push(("output_audio", "lots"));
    let r = form(&app, "/pricing/custom", Some(&cookie), &bad);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("'lots' is not a price"), "{}", r.text());
});
