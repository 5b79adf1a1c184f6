//! The dashboard's forms against a page of another site: sign-in and sign-up need the
//! token of a page the server served, every form's `Origin` must be the server's own, and
//! every form acts in the workspace its page showed, not the one a cookie last named.

use serde_json::json;

use crate::client::Response;
use crate::dashboard::{auth_form, csrf, form, form_from, hidden, page, sign_in};
use crate::{TestApp, both};

const EVIL: &str = "https://evil.example";

/// The server's own origin, as a browser on its pages sends it.
fn own(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// A refused sign-in or sign-up: a 403 page with the form again and why, and no session.
fn assert_refused(r: &Response, action: &str) {
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.cookie("llmlab_session"),
        None,
        "no session for a refused form"
    );
    let text = r.text();
    assert!(
        text.contains(&format!(r#"method="post" action="{action}""#)),
        "the form again: {text}"
    );
    assert!(text.contains(r#"role="alert""#), "with the reason: {text}");
}

both!(
    sign_in_needs_a_token_of_its_page_and_this_origin,
    // A refused form is refused before the login limiter counts it: were it counted,
    // these refusals would use up the allowance and the last sign-in would be a 429.
    &[("LLMLAB_LOGIN_ATTEMPTS_PER_MINUTE", "2")],
    |app: TestApp| {
        app.signup("mallory@example.com");
        // The observation: a page of another site signs its visitor in as its author.
        let r = form_from(
            &app,
            "/login",
            None,
            Some(EVIL),
            &[
                ("email", "mallory@example.com"),
                ("password", "correct horse"),
            ],
        );
        assert_refused(&r, "/login");
        let mallory = [("email", "mallory@example.com"), ("password", "wrong one")];
        // No token at all, from no origin.
        assert_refused(&form(&app, "/login", None, &mallory), "/login");
        // The token of a page, without that page's cookie (it stays in the browser that
        // loaded the page), or with another page's cookie.
        let shown = page(&app, "/login", None);
        let cookie = shown.cookie("llmlab_signin").expect("a pre-session cookie");
        let set = shown
            .headers
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("Set-Cookie") && v.starts_with("llmlab_signin="))
            .map(|(_, v)| v.clone())
            .unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let token = csrf(&shown);
        let with = |t: &str| {
            [
                ("csrf", t.to_string()),
                ("email", "mallory@example.com".into()),
                ("password", "wrong one".into()),
            ]
        };
        let fields = with(&token);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_refused(&form(&app, "/login", None, &fields), "/login");
        let other = page(&app, "/login", None).cookie("llmlab_signin").unwrap();
        assert_ne!(other, cookie);
        assert_refused(&form(&app, "/login", Some(&other), &fields), "/login");
        // A page's cookie and token, sent by another site: refused all the same.
        for origin in [EVIL, "null", "http://127.0.0.1.evil.example"] {
            let r = form_from(&app, "/login", Some(&cookie), Some(origin), &fields);
            assert_refused(&r, "/login");
        }
        // The refused page offers a form that works.
        let r = form(&app, "/login", None, &mallory);
        let again = r
            .cookie("llmlab_signin")
            .expect("a fresh pre-session cookie");
        let fields = [
            ("csrf", csrf(&r)),
            ("email", "mallory@example.com".into()),
            ("password", "correct horse".into()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = form_from(&app, "/login", Some(&again), Some(&own(&app)), &fields);
        assert_eq!(r.status, 303, "{}", r.text());
        assert!(r.cookie("llmlab_session").is_some());
        assert_eq!(
            r.cookie("llmlab_signin").as_deref(),
            Some("llmlab_signin="),
            "the pre-session cookie is spent"
        );
    }
);

both!(
    sign_up_needs_a_token_of_its_page_and_this_origin,
    // Refused forms do not use the address's sign-up allowance either.
    &[("LLMLAB_SIGNUPS_PER_HOUR", "1")],
    |app: TestApp| {
        let fields = [("email", "new@example.com"), ("password", "correct horse")];
        let r = form_from(&app, "/signup", None, Some(EVIL), &fields);
        assert_refused(&r, "/signup");
        assert_refused(&form(&app, "/signup", None, &fields), "/signup");
        let r = auth_form(&app, "/signup", "new@example.com", Some(EVIL));
        assert_refused(&r, "/signup");
        // No account was made.
        let r = app.anonymous(
            "/api/auth/login",
            json!({"email": "new@example.com", "password": "correct horse"}),
        );
        assert_eq!(r.status, 401, "{}", r.text());
        let r = auth_form(&app, "/signup", "new@example.com", Some(&own(&app)));
        assert_eq!(r.status, 303, "{}", r.text());
        assert!(r.cookie("llmlab_session").is_some());
    }
);

both!(
    behind_a_public_url_forms_come_from_it,
    &[("LLMLAB_PUBLIC_URL", "https://llmlab.example.com/")],
    |app: TestApp| {
        app.signup("public@example.com");
        // The Host the request names is not the public origin: refused.
        let r = auth_form(&app, "/login", "public@example.com", Some(&own(&app)));
        assert_refused(&r, "/login");
        let r = auth_form(
            &app,
            "/login",
            "public@example.com",
            Some("http://llmlab.example.com"),
        );
        assert_refused(&r, "/login");
        let r = auth_form(
            &app,
            "/login",
            "public@example.com",
            Some("https://llmlab.example.com"),
        );
        assert_eq!(r.status, 303, "{}", r.text());
    }
);

/// `llmlab_ws=<id>`, the cookie of the workspace a page last showed.
fn chosen(ws: i64) -> String {
    format!("llmlab_ws={ws}")
}

both!(
    every_form_checks_the_origin_and_logout_too,
    |app: TestApp| {
        let token = app.signup("origin@example.com");
        let session = sign_in(&app, "origin@example.com");
        let shown = page(&app, "/budgets", Some(&session));
        let (csrf, ws) = (
            csrf(&shown),
            hidden(&shown, "ws").expect("the form's workspace"),
        );
        let budget = [
            ("csrf", csrf.as_str()),
            ("ws", ws.as_str()),
            ("name", "Team"),
            ("amount_usd", "250"),
            ("period", "monthly"),
        ];
        for origin in [EVIL, "null"] {
            let r = form_from(&app, "/budgets", Some(&session), Some(origin), &budget);
            assert_eq!(r.status, 403, "{origin}: {}", r.text());
            let r = form_from(
                &app,
                "/logout",
                Some(&session),
                Some(origin),
                &[("csrf", &csrf), ("ws", &ws)],
            );
            assert_eq!(r.status, 403, "{origin}: {}", r.text());
        }
        assert_eq!(app.get("/api/budgets", &token).json()["budgets"], json!([]));
        assert_eq!(
            page(&app, "/overview", Some(&session)).status,
            200,
            "still signed in"
        );
        let r = form_from(&app, "/budgets", Some(&session), Some(&own(&app)), &budget);
        assert_eq!(r.status, 303, "{}", r.text());
        let r = form_from(
            &app,
            "/logout",
            Some(&session),
            Some(&own(&app)),
            &[("csrf", &csrf), ("ws", &ws)],
        );
        assert_eq!(r.status, 303, "{}", r.text());
        assert_eq!(page(&app, "/overview", Some(&session)).status, 303);
    }
);

both!(
    forms_act_in_the_workspace_their_page_showed,
    |app: TestApp| {
        let token = app.signup("tabs@example.com");
        let personal = app.get("/api/auth/me", &token).json()["workspaces"][0]["id"]
            .as_i64()
            .unwrap();
        let r = app.post("/api/workspaces", &token, json!({"name": "Team"}));
        assert_eq!(r.status, 201, "{}", r.text());
        let team = r.json()["id"].as_i64().unwrap();
        let session = sign_in(&app, "tabs@example.com");
        let csrf = csrf(&page(&app, "/overview", Some(&session)));
        let keys_in = |ws: i64| -> Vec<String> {
            let r = app.call_in(Some(ws), "GET", "/api/keys", Some(&token), None);
            crate::strings(&r.json()["keys"], "name")
                .into_iter()
                .map(str::to_string)
                .collect()
        };

        // The observation: the settings of the personal workspace in one tab, the team's
        // opened in another since (the cookie now names the team); the first tab's form
        // makes its key in the personal workspace.
        let cookies = format!("{session}; {}", chosen(team));
        let personal_text = personal.to_string();
        let r = form(
            &app,
            "/settings/keys",
            Some(&cookies),
            &[
                ("csrf", &csrf),
                ("ws", &personal_text),
                ("name", "first tab"),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(keys_in(personal), ["first tab"]);
        assert!(keys_in(team).is_empty());
        // And the other way round, with a budget: the team's form, the cookie personal.
        let cookies = format!("{session}; {}", chosen(personal));
        let team_text = team.to_string();
        let r = form(
            &app,
            "/budgets",
            Some(&cookies),
            &[
                ("csrf", &csrf),
                ("ws", &team_text),
                ("name", "Team cap"),
                ("amount_usd", "100"),
                ("period", "monthly"),
            ],
        );
        assert_eq!(r.status, 303, "{}", r.text());
        let budgets = app.call_in(Some(team), "GET", "/api/budgets", Some(&token), None);
        assert_eq!(budgets.json()["budgets"][0]["name"], "Team cap");
        assert_eq!(app.get("/api/budgets", &token).json()["budgets"], json!([]));
        // The page it leads to shows the workspace the form acted in.
        assert_eq!(r.cookie("llmlab_ws"), Some(chosen(team)));

        // A form that does not say where, or names a workspace its sender is not in (a
        // stranger's), or one where their role is too low, changes nothing.
        let stranger = app.signup("stranger@example.com");
        let theirs = app.get("/api/auth/me", &stranger).json()["workspaces"][0]["id"]
            .as_i64()
            .unwrap();
        let r = app.post(
            "/api/workspaces",
            &stranger,
            json!({"name": "Where tabs views"}),
        );
        let viewed = r.json()["id"].as_i64().unwrap();
        app.join(&stranger, viewed, "tabs@example.com", &token, "viewer");
        let (theirs_text, viewed_text) = (theirs.to_string(), viewed.to_string());
        for ws in [
            None,
            Some("x"),
            Some("-1"),
            Some(&theirs_text),
            Some(&viewed_text),
        ] {
            let mut fields = vec![("csrf", csrf.as_str()), ("name", "refused")];
            fields.extend(ws.map(|w| ("ws", w)));
            let r = form(&app, "/settings/keys", Some(&cookies), &fields);
            assert_eq!(r.status, 403, "{ws:?}: {}", r.text());
            assert!(
                r.text().contains("Not possible"),
                "the 403 page: {}",
                r.text()
            );
        }
        assert_eq!(keys_in(personal), ["first tab"]);
        assert!(keys_in(team).is_empty());
        for ws in [theirs, viewed] {
            let r = app.call_in(Some(ws), "GET", "/api/keys", Some(&stranger), None);
            assert_eq!(r.json()["keys"], json!([]), "{ws}");
        }

        // Every form a page draws says the workspace the page shows.
        let ada = app.signup("ada@example.com");
        app.join(&token, team, "ada@example.com", &ada, "member");
        let r = app.call_in(
            Some(team),
            "POST",
            "/api/keys",
            Some(&token),
            Some(&json!({"name": "gateway"})),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let cookies = format!("{session}; {}", chosen(team));
        for path in ["/overview", "/budgets", "/settings", "/pricing", "/events"] {
            let text = page(&app, path, Some(&cookies)).text();
            let forms = text.matches("<form").count();
            let posts = text.matches(r#"method="post""#).count();
            let named = text
                .matches(&format!(r#"type="hidden" name="ws" value="{team}""#))
                .count();
            assert!(posts >= 1 && forms >= posts, "{path}");
            assert_eq!(posts, named, "{path}: every form names the workspace");
            assert_eq!(
                text.matches(r#"type="hidden" name="csrf""#).count(),
                posts,
                "{path}: every form carries the token"
            );
        }
    }
);

// Seen: after creating a key the address bar says /settings/keys, and reloading it
// showed the JSON `404 no route for GET /settings/keys`; /favicon.ico was a 404 on
// every page; Explore read "1 calls".
both!(
    form_addresses_reload_to_their_page_and_counts_agree,
    |app: TestApp| {
        let token = app.signup("reload@example.com");
        let cookie = sign_in(&app, "reload@example.com");
        for (path, to) in [
            ("/settings/keys", "/settings"),
            ("/settings/members?ws=7", "/settings?ws=7"),
            ("/settings/webhook-secret", "/settings"),
            ("/pricing/custom", "/pricing"),
            ("/channels/3/test", "/channels"),
            ("/channels/3/delete", "/channels"),
            ("/budgets/3/delete?ws=7", "/budgets?ws=7"),
            ("/settings/keys/3/revoke", "/settings"),
            ("/settings/invitations/3/revoke", "/settings"),
            ("/settings/members/3/remove", "/settings"),
            ("/invitations/3/accept", "/invitations"),
            ("/invitations/3/decline", "/invitations"),
            ("/logout", "/overview"),
        ] {
            let r = page(&app, path, Some(&cookie));
            assert_eq!(r.status, 303, "{path}: {}", r.text());
            assert_eq!(r.header("Location"), Some(to), "{path}");
        }
        let r = page(&app, "/favicon.ico", None);
        assert_eq!(r.status, 303);
        let icon = page(&app, r.header("Location").unwrap(), None);
        assert_eq!(icon.status, 200);
        assert_eq!(icon.header("Content-Type"), Some("image/svg+xml"));
        assert!(icon.text().starts_with("<svg"));
        assert!(
            page(&app, "/overview", Some(&cookie))
                .text()
                .contains(r#"<link rel="icon" href="/assets/favicon.svg""#)
        );

        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 10,
                   "output_tokens": 10}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let explore = page(&app, "/explore", Some(&cookie)).text();
        assert!(explore.contains(" in 1 call ·"), "{explore}");
        assert!(!explore.contains("1 calls"), "{explore}");
    }
);
