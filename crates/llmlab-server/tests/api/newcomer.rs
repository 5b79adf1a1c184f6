//! The dashboard as a newcomer meets it: the first steps of an empty workspace, ranges
//! shown as the values they are, downloads with the session, and no action offered that
//! would be refused.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::dashboard::{csrf, form, hidden, page, sign_in};
use crate::{TestApp, both};

fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

both!(an_empty_workspace_shows_its_first_steps, |app: TestApp| {
    app.signup("first@example.com");
    let cookie = sign_in(&app, "first@example.com");
    let overview = page(&app, "/overview", Some(&cookie));
    let html = overview.text();
    assert!(html.contains("No events in this workspace yet"), "{html}");
    // Step one is a button: it creates a key, and the page that follows shows the key
    // once with the command that sends an event with it to this server.
    let (token, shown) = (csrf(&overview), hidden(&overview, "ws").unwrap());
    let name = hidden(&overview, "name").expect("the key's name in the form");
    let r = form(
        &app,
        "/settings/keys",
        Some(&cookie),
        &[("csrf", &token), ("ws", &shown), ("name", &name)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let html = unescape(&r.text());
    let at = html
        .find(r#"<code id="first-event">"#)
        .expect("the command")
        + 23;
    let command = &html[at..at + html[at..].find("</code>").unwrap()];
    let url = format!("http://{}/api/events/track", app.addr);
    assert!(
        command.starts_with(&format!("curl -X POST {url} ")),
        "{command}"
    );
    let key = command
        .split("Bearer ")
        .nth(1)
        .and_then(|k| k.split('\'').next())
        .unwrap();
    assert!(key.starts_with("llmlab_"), "{command}");
    let body: Value = serde_json::from_str(
        command
            .split("-d '")
            .nth(1)
            .and_then(|b| b.strip_suffix('\''))
            .unwrap(),
    )
    .unwrap();
    // Pasted, it is accepted, and the overview then has its event, not the first steps.
    let sent = app.post("/api/events/track", key, body);
    assert_eq!(sent.status, 201, "{}", sent.text());
    let html = page(&app, "/overview", Some(&cookie)).text();
    assert!(!html.contains("No events in this workspace yet"), "{html}");
    assert!(html.contains("openai"), "{html}");
});

both!(the_only_owner_is_not_offered_removal, |app: TestApp| {
    let owner = app.signup("alone@example.com");
    let colleague = app.signup("colleague@example.com");
    let cookie = sign_in(&app, "alone@example.com");
    let html = page(&app, "/settings", Some(&cookie)).text();
    assert!(!html.contains("Remove alone@example.com"), "{html}");
    assert!(html.contains("the only owner"), "{html}");
    // With a second owner, either may be removed.
    let r = app.post("/api/workspaces", &owner, json!({"name": "Team"}));
    let ws = r.json()["id"].as_i64().unwrap();
    let r = app.post(
        &format!("/api/workspaces/{ws}/members"),
        &owner,
        json!({"email": "colleague@example.com", "role": "owner"}),
    );
    assert!(r.status < 300, "{}", r.text());
    // The workspace switcher's choice, remembered for the other pages.
    let switched = page(&app, &format!("/overview?ws={ws}"), Some(&cookie));
    let chosen = switched
        .cookie("llmlab_ws")
        .expect("the workspace remembered");
    let cookie = format!("{cookie}; {chosen}");
    let html = page(&app, "/settings", Some(&cookie)).text();
    assert!(html.contains(r#"selected>Team (owner)"#), "{html}");
    assert!(html.contains("the only owner"), "before they join: {html}");
    let invited = app.get("/api/invitations", &colleague).json();
    let id = invited["invitations"][0]["id"].as_i64().unwrap();
    let r = app.post(
        &format!("/api/invitations/{id}/accept"),
        &colleague,
        json!({}),
    );
    assert!(r.status < 300, "{}", r.text());
    let html = page(&app, "/settings", Some(&cookie)).text();
    assert!(html.contains("Remove alone@example.com"), "{html}");
    assert!(html.contains("Remove colleague@example.com"), "{html}");
    assert!(!html.contains("the only owner"), "{html}");
});

both!(
    explore_shows_its_range_and_downloads_with_the_session,
    |app: TestApp| {
        let token = app.signup("explorer@example.com");
        let cookie = sign_in(&app, "explorer@example.com");
        let ts = format!("{}T10:00:00Z", Utc::now().date_naive() - Duration::days(1));
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
               "output_tokens": 100, "tags": {"team": "core"}, "timestamp": ts}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        // No range asked: the fields hold the last 30 days the chart covers, not examples.
        let html = page(&app, "/explore", Some(&cookie)).text();
        let now = Utc::now();
        let from = (now - Duration::days(30)).date_naive();
        assert!(
            html.contains(&format!(r#"name="start" value="{from}""#)),
            "{html}"
        );
        assert!(
            html.contains(&format!(r#"name="end" value="{}""#, now.date_naive())),
            "{html}"
        );
        assert!(!html.contains("2026-11-01"), "{html}");
        // Both downloads work with the session cookie, as a browser follows the links.
        for (link, first) in [
            ("/explore/events.csv?provider=openai", "id,"),
            ("/explore/focus.csv?provider=openai", "BilledCost,"),
        ] {
            let path = link.split('?').next().unwrap();
            assert!(html.contains(&format!(r#"href="{path}?"#)), "{html}");
            let r = page(&app, link, Some(&cookie));
            assert_eq!(r.status, 200, "{link}: {}", r.text());
            assert!(r.header("Content-Type").unwrap().starts_with("text/csv"));
            let text = r.text();
            assert!(text.starts_with(first), "{link}: {text}");
            assert_eq!(
                text.lines().count(),
                if first == "id," { 2 } else { 3 },
                "{text}"
            );
            // Without the session, the sign-in page; never the API's JSON.
            let r = page(&app, link, None);
            assert_eq!((r.status, r.header("Location")), (303, Some("/login")));
        }
    }
);

both!(
    a_budget_heading_past_its_amount_never_reads_ok,
    |app: TestApp| {
        let token = app.signup("heading@example.com");
        let cookie = sign_in(&app, "heading@example.com");
        // One call of 1M gpt-4o input tokens: $2.50, this month.
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000,
               "output_tokens": 0}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        // A month needs an hour behind it before its spend is projected: in its first hour
        // in UTC, the month of Tokyo (nine hours ahead) is used.
        let now = Utc::now();
        let zone = if now.format("%d").to_string() == "01" && now.format("%H").to_string() == "00" {
            "Asia/Tokyo"
        } else {
            "UTC"
        };
        // The spend is under either amount; the projection to the month's end passes the
        // first (a nano-dollar above the spend), not the second.
        for (name, amount) in [("Close", "2.500000001"), ("Far", "1000000")] {
            let r = app.post(
                "/api/budgets",
                &token,
                json!({"name": name, "amount_usd": amount, "period": "monthly", "timezone": zone}),
            );
            assert!(r.status < 300, "{}", r.text());
        }
        let listed = app.get("/api/budgets", &token).json();
        let budget = |name: &str| {
            listed["budgets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["name"] == name)
                .cloned()
                .unwrap()
        };
        let (close, far) = (budget("Close"), budget("Far"));
        assert_ne!(close["status"], "exceeded", "{close}");
        assert!(
            close["forecast_usd"].as_f64().unwrap() > 2.500000001,
            "{close}"
        );
        let crossing = close["expected_crossing"].as_str().expect("a crossing");
        let crossing = chrono::DateTime::parse_from_rfc3339(crossing).unwrap();
        let end =
            chrono::DateTime::parse_from_rfc3339(close["period_end"].as_str().unwrap()).unwrap();
        assert!(
            crossing > now - Duration::seconds(5) && crossing < end,
            "{close}"
        );
        assert_eq!(far["status"], "ok");
        assert_eq!(far["expected_crossing"], Value::Null, "{far}");
        // The dashboard says the same, beside the spend's own status.
        let html = page(&app, "/budgets", Some(&cookie)).text();
        let day = crossing
            .with_timezone(&zone.parse::<chrono_tz::Tz>().unwrap())
            .format("%b %-d")
            .to_string();
        let heading = format!(
            r#"<strong class="status heading">{}, on track to exceed on {day}</strong>"#,
            close["status"].as_str().unwrap()
        );
        assert!(html.contains(&heading), "{heading} in {html}");
        assert!(
            html.contains(r#"<strong class="status ok">ok</strong>"#),
            "{html}"
        );
    }
);

both!(
    a_refused_form_comes_back_with_the_input_and_why,
    |app: TestApp| {
        let token = app.signup("typo@example.com");
        let cookie = sign_in(&app, "typo@example.com");
        let shown = page(&app, "/budgets", Some(&cookie));
        let (csrf_token, ws) = (csrf(&shown), hidden(&shown, "ws").unwrap());
        let send = |fields: &[(&str, &str)]| {
            let mut all = vec![("csrf", csrf_token.as_str()), ("ws", ws.as_str())];
            all.extend_from_slice(fields);
            form(&app, "/budgets", Some(&cookie), &all)
        };
        // The observation: "abc" as an amount ended on a bare page, the input lost.
        let r = send(&[
            ("name", "Research"),
            ("amount_usd", "abc"),
            ("period", "weekly"),
        ]);
        assert_eq!(r.status, 422, "{}", r.text());
        let html = r.text();
        assert!(
            html.contains(r#"<nav aria-label="Main">"#),
            "the page, not a dead end"
        );
        assert!(html.contains(r#"name="name" value="Research""#), "{html}");
        assert!(
        html.contains(r#"name="amount_usd" value="abc" required inputmode="decimal" aria-invalid="true" aria-describedby="amount_usd-error""#),
        "{html}"
    );
        assert!(
            html.contains(
                r#"<p class="field-error" id="amount_usd-error" role="alert">must be an amount"#
            ),
            "{html}"
        );
        assert!(
            html.contains(r#"<option value="weekly" selected>"#),
            "{html}"
        );
        assert_eq!(app.get("/api/budgets", &token).json()["budgets"], json!([]));
        // An edit refused keeps that budget's form open with what was typed.
        let r = send(&[
            ("name", "Team"),
            ("amount_usd", "100"),
            ("period", "monthly"),
        ]);
        assert_eq!(r.status, 303, "{}", r.text());
        let id = app.get("/api/budgets", &token).json()["budgets"][0]["id"]
            .as_i64()
            .unwrap();
        let r = send(&[
            ("id", &id.to_string()),
            ("name", "Team"),
            ("amount_usd", "-5"),
            ("period", "monthly"),
        ]);
        assert_eq!(r.status, 422, "{}", r.text());
        let html = r.text();
        assert!(html.contains("<details open>"), "{html}");
        assert!(
            html.contains(&format!(r#"id="amount-{id}" name="amount_usd" value="-5""#)),
            "{html}"
        );
        assert!(
            html.contains(&format!(r#"id="amount_usd-error-{id}""#)),
            "{html}"
        );
        let listed = app.get("/api/budgets", &token).json();
        assert_eq!(
            listed["budgets"][0]["amount_usd"], 100.0,
            "unchanged: {listed}"
        );
    }
);

both!(
    a_refused_custom_price_keeps_every_rate_typed,
    |app: TestApp| {
        app.signup("rates@example.com");
        let cookie = sign_in(&app, "rates@example.com");
        let shown = page(&app, "/pricing", Some(&cookie));
        let (csrf_token, ws) = (csrf(&shown), hidden(&shown, "ws").unwrap());
        let r = form(
            &app,
            "/pricing/custom",
            Some(&cookie),
            &[
                ("csrf", &csrf_token),
                ("ws", &ws),
                ("provider", "openai"),
                ("model", "gpt-4o"),
                ("input", "2.5"),
                ("output", "ten"),
                ("cached_input", "1.25"),
                ("effective_from", "2026-11-01"),
            ],
        );
        assert_eq!(r.status, 422, "{}", r.text());
        let html = r.text();
        for (name, value) in [
            ("model", "gpt-4o"),
            ("input", "2.5"),
            ("cached_input", "1.25"),
            ("effective_from", "2026-11-01"),
        ] {
            assert!(
                html.contains(&format!(r#"name="{name}" value="{value}""#)),
                "{name}: {html}"
            );
        }
        assert!(html.contains(r#"name="output" value="ten""#), "{html}");
        assert!(
            html.contains(r#"id="price-output-error" role="alert""#),
            "{html}"
        );
        assert!(html.contains(r#"<nav aria-label="Main">"#));
    }
);

both!(
    refused_settings_forms_keep_what_was_typed,
    |app: TestApp| {
        app.signup("admin@example.com");
        let cookie = sign_in(&app, "admin@example.com");
        let shown = page(&app, "/settings", Some(&cookie));
        let (csrf_token, ws) = (csrf(&shown), hidden(&shown, "ws").unwrap());
        let send = |path: &str, fields: &[(&str, &str)]| {
            let mut all = vec![("csrf", csrf_token.as_str()), ("ws", ws.as_str())];
            all.extend_from_slice(fields);
            form(&app, path, Some(&cookie), &all)
        };
        let r = send(
            "/settings/members",
            &[("email", "bob at example"), ("role", "admin")],
        );
        assert_eq!(r.status, 422, "{}", r.text());
        let html = r.text();
        assert!(
            html.contains(r#"name="email" value="bob at example""#),
            "{html}"
        );
        assert!(
            html.contains(r#"id="member-email-error" role="alert""#),
            "{html}"
        );
        assert!(
            html.contains(r#"<option value="admin" selected>"#),
            "{html}"
        );
        let r = send("/settings/keys", &[("name", "   "), ("read", "on")]);
        assert_eq!(r.status, 422, "{}", r.text());
        let html = r.text();
        assert!(
            html.contains(r#"id="key-name-error" role="alert""#),
            "{html}"
        );
        assert!(html.contains(r#"name="read" value="on" checked"#), "{html}");
    }
);

both!(
    the_overview_takes_a_range_and_a_split_kept_in_its_url,
    |app: TestApp| {
        let token = app.signup("ranges@example.com");
        let cookie = sign_in(&app, "ranges@example.com");
        let today = Utc::now().date_naive();
        let mut events = Vec::new();
        // One call a day for 40 days: spend in this month, last month and every run of days.
        for k in 0..40 {
            let ts = format!("{}T12:00:00Z", today - Duration::days(k));
            let (model, team) = if k % 2 == 0 {
                ("gpt-4o", "core")
            } else {
                ("gpt-4o-mini", "ads")
            };
            events.push(
                json!({"provider": "openai", "model": model, "input_tokens": 10_000 + k,
                           "output_tokens": 500, "tags": {"team": team}, "timestamp": ts}),
            );
        }
        let r = app.post("/api/events/batch", &token, json!({ "events": events }));
        assert_eq!(r.json()["accepted"], 40, "{}", r.text());
        let total = |html: &str| {
            let at = html.find(r#"id="total">"#).expect("the total") + 11;
            html[at..at + html[at..].find('<').unwrap()].to_string()
        };
        let summary = |start: chrono::NaiveDate, end: chrono::NaiveDate| {
            let s = app
                .get(
                    &format!("/api/costs/summary?start={start}&end={end}&tz=UTC"),
                    &token,
                )
                .json();
            llmlab_app::money::dollars(
                llmlab_engine::Usd::from_f64_rounded(s["total_cost_usd"].as_f64().unwrap())
                    .unwrap(),
            )
        };
        for (range, start) in [
            ("7d", today - Duration::days(6)),
            ("30d", today - Duration::days(29)),
            ("90d", today - Duration::days(89)),
        ] {
            let html = page(
                &app,
                &format!("/overview?range={range}&tz=UTC"),
                Some(&cookie),
            )
            .text();
            assert_eq!(total(&html), summary(start, today), "{range}");
            assert!(
                html.contains(&format!(r#"<option value="{range}" selected>"#)),
                "{html}"
            );
        }
        let custom = format!(
            "/overview?range=custom&from={}&to={}&tz=UTC",
            today - Duration::days(12),
            today - Duration::days(3)
        );
        let html = page(&app, &custom, Some(&cookie)).text();
        assert_eq!(
            total(&html),
            summary(today - Duration::days(12), today - Duration::days(3))
        );
        // Split by model, then by the values of a tag: each costly group is its own series.
        let html = page(
            &app,
            "/overview?range=30d&group=model&tz=UTC",
            Some(&cookie),
        )
        .text();
        assert!(
            html.contains("openai/gpt-4o-mini") && html.contains("by model"),
            "{html}"
        );
        let html = page(
            &app,
            "/overview?range=30d&group=tag&key=team&tz=UTC",
            Some(&cookie),
        )
        .text();
        assert!(
            html.contains("team: core") && html.contains("team: ads"),
            "{html}"
        );
        assert!(html.contains(r#"<option value="tag" selected>"#), "{html}");
        // A bad range is a refusal, not a month.
        let r = page(&app, "/overview?range=fortnight", Some(&cookie));
        assert_eq!(r.status, 422, "{}", r.text());
    }
);

both!(
    a_page_that_cannot_be_shown_still_has_the_way_on,
    |app: TestApp| {
        app.signup("lost@example.com");
        let cookie = sign_in(&app, "lost@example.com");
        let r = page(&app, "/channels/987654", Some(&cookie));
        assert_eq!(r.status, 404, "{}", r.text());
        let html = r.text();
        assert!(
            html.contains("Not possible") && html.contains(r#"role="alert""#),
            "{html}"
        );
        for link in ["/overview", "/budgets", "/channels", "/settings"] {
            assert!(
                html.contains(&format!(r#"href="{link}""#)),
                "{link}: {html}"
            );
        }
    }
);

both!(
    the_overview_splits_spend_by_the_key_that_sent_it,
    |app: TestApp| {
        let token = app.signup("keys@example.com");
        let ws = app.get("/api/workspaces", &token).json()["workspaces"][0]["id"]
            .as_i64()
            .unwrap();
        let key = |name: &str| {
            let r = app.post("/api/keys", &token, json!({"name": name}));
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["key"].as_str().unwrap().to_owned()
        };
        let (search, billing) = (key("search-service"), key("billing-job"));
        let send = |credential: &str, cost: &str, n: usize| {
            let events: Vec<Value> = (0..n)
                .map(|_| {
                    json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
                           "output_tokens": 1, "cost_usd": cost})
                })
                .collect();
            let r = app.post("/api/events/batch", credential, json!({"events": events}));
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.json()["accepted"], n, "{}", r.text());
        };
        send(&search, "0.000000125", 4); // 500 nano-dollars
        send(&billing, "1.5", 2); // $3
        send(&token, "0.25", 1); // a person's session
        let store = app.db().store();
        let o = llmlab_app::overview::overview(
            &store,
            llmlab_store::WorkspaceId(ws),
            (
                llmlab_app::overview::Span::LastDays(7),
                llmlab_engine::period::Zone::UTC,
                &llmlab_app::overview::Grouping::Key,
            ),
            Utc::now(),
        )
        .unwrap();
        let by: Vec<(String, i64)> = o
            .stacks
            .iter()
            .map(|s| (s.name.clone(), s.amounts.iter().map(|a| a.nanos()).sum()))
            .collect();
        assert_eq!(
            by,
            [
                ("key: billing-job".to_string(), 3_000_000_000),
                ("signed-in people".to_string(), 250_000_000),
                ("key: search-service".to_string(), 500),
            ]
        );
        assert_eq!(o.series.total().cost.nanos(), 3_250_000_500);
        // The same figures from the API, with each key's id and name.
        let r = app.get("/api/costs/by-key", &token);
        assert_eq!(r.status, 200, "{}", r.text());
        // Read with the exact money type: a JSON number's digits, not an f64.
        #[derive(serde::Deserialize)]
        struct Row {
            api_key_id: Option<i64>,
            name: Option<String>,
            cost_usd: llmlab_engine::Usd,
            calls: u64,
        }
        #[derive(serde::Deserialize)]
        struct Keys {
            keys: Vec<Row>,
        }
        let keys: Keys = serde_json::from_str(&r.text()).unwrap();
        let rows: Vec<(Option<&str>, bool, i64, u64)> = keys
            .keys
            .iter()
            .map(|k| {
                (
                    k.name.as_deref(),
                    k.api_key_id.is_some(),
                    k.cost_usd.nanos(),
                    k.calls,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (Some("billing-job"), true, 3_000_000_000, 2),
                (None, false, 250_000_000, 1),
                (Some("search-service"), true, 500, 4),
            ]
        );
        // The same split in the page, kept in its URL.
        let cookie = sign_in(&app, "keys@example.com");
        let html = page(&app, "/overview?range=7d&group=key&tz=UTC", Some(&cookie)).text();
        assert!(
            html.contains("key: billing-job") && html.contains("by API key"),
            "{html}"
        );
        assert!(html.contains(r#"<option value="key" selected>"#), "{html}");
    }
);
