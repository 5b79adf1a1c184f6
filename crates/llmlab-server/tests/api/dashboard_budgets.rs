//! A budget's burn-down on the dashboard: the spend so far, added up day by day, against
//! the even line to the amount, drawn and as a table with the same figures.

use serde_json::json;

use crate::dashboard::{page, sign_in};
use crate::{TestApp, both};

/// The cells of the burn-down table's rows.
fn rows(html: &str) -> Vec<Vec<String>> {
    let at = html
        .find(r#"<details class="burn" open>"#)
        .expect("a burn-down");
    let table = &html[at..];
    let table = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
    table
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td>")
                .skip(1)
                .map(|cell| cell[..cell.find("</td>").unwrap()].to_string())
                .collect()
        })
        .collect()
}

both!(a_budget_burns_down_day_by_day, |app: TestApp| {
    let token = app.signup("burn@example.com");
    let cookie = sign_in(&app, "burn@example.com");
    // Two calls now: $2.50 and $0.25.
    for tokens in [1_000_000, 100_000] {
        let r = app.post(
            "/api/events/track",
            &token,
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": tokens, "output_tokens": 0}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = app.post(
        "/api/budgets",
        &token,
        json!({"name": "Month", "amount_usd": 310, "period": "monthly"}),
    );
    assert!(r.status < 300, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    let html = page(&app, "/budgets", Some(&cookie)).text();
    assert!(
        html.contains(&format!(r#"aria-labelledby="chart-title-{id}""#)),
        "{html}"
    );
    assert!(html.contains(r#"<polyline class="spent""#) && html.contains(r#"class="even""#));
    let rows = rows(&html);
    // One row per day of the month; the days to come have no spend yet.
    let days = chrono::Utc::now().date_naive();
    let listed = app.get("/api/budgets", &token).json();
    let start = listed["budgets"][0]["period_start"].as_str().unwrap()[..10].to_string();
    let end = listed["budgets"][0]["period_end"].as_str().unwrap()[..10].to_string();
    let (start, end) = (
        start.parse::<chrono::NaiveDate>().unwrap(),
        end.parse::<chrono::NaiveDate>().unwrap(),
    );
    assert_eq!(rows.len() as i64, (end - start).num_days(), "{rows:?}");
    let today = rows
        .iter()
        .position(|r| r[0] == days.to_string())
        .expect("today's row");
    assert_eq!(rows[today][1], "$2.75", "{rows:?}");
    assert_eq!(rows[today][2], "$2.75", "{rows:?}");
    assert!(rows[today + 1..].iter().all(|r| r[1] == "—" && r[2] == "—"));
    assert!(
        rows[..today]
            .iter()
            .all(|r| r[2] == "$0.00" || r[2] == "$0"),
        "{rows:?}"
    );
    // The even line reaches the amount at the month's end, by equal steps of a day.
    assert_eq!(rows.last().unwrap()[3], "$310.00", "{rows:?}");
    let per_day = 310.0 / rows.len() as f64;
    assert_eq!(
        rows[0][3],
        llmlab_app::money::dollars(llmlab_engine::Usd::from_f64_rounded(per_day).unwrap())
    );
    // A total budget has no period to burn down.
    app.post(
        "/api/budgets",
        &token,
        json!({"name": "Forever", "amount_usd": 1000, "period": "total"}),
    );
    let html = page(&app, "/budgets", Some(&cookie)).text();
    assert_eq!(
        html.matches(r#"<details class="burn" open>"#).count(),
        1,
        "{html}"
    );
});

both!(
    a_hard_budget_shows_what_is_reserved_and_available,
    |app: TestApp| {
        let token = app.signup("hard-page@example.com");
        let cookie = sign_in(&app, "hard-page@example.com");
        // Made hard through the dashboard's form.
        let shown = page(&app, "/budgets", Some(&cookie));
        let (csrf, ws) = (
            crate::dashboard::csrf(&shown),
            crate::dashboard::hidden(&shown, "ws").unwrap(),
        );
        let fields = [
            ("csrf", csrf.as_str()),
            ("ws", ws.as_str()),
            ("name", "Gateway"),
            ("amount_usd", "10"),
            ("period", "daily"),
            ("enforce", "hard"),
        ];
        let r = crate::dashboard::form(&app, "/budgets", Some(&cookie), &fields);
        assert_eq!(r.status, 303, "{}", r.text());
        assert_eq!(
            app.get("/api/budgets", &token).json()["budgets"][0]["enforce"],
            "hard"
        );
        // $2.50 spent; a reservation of 1M in + 100k out at $2.50 / $10 holds $3.50.
        let r = app.post(
        "/api/events/track",
        &token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 0}),
    );
        assert_eq!(r.status, 201, "{}", r.text());
        let r = app.post(
        "/api/budgets/reserve",
        &token,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "max_output_tokens": 100_000}),
    );
        assert_eq!(r.status, 201, "{}", r.text());
        let html = page(&app, "/budgets", Some(&cookie)).text();
        assert!(html.contains(r#"<span class="badge hard""#), "{html}");
        assert!(
            html.contains("spent $2.50 · reserved $3.50 · available $4.00"),
            "{html}"
        );
        // Its edit form keeps it hard.
        assert!(html.contains(r#"<option value="hard" selected>"#), "{html}");
        // The overview's chart names it as hard.
        let overview = page(&app, "/overview", Some(&cookie)).text();
        assert!(overview.contains("Gateway (hard)"), "{overview}");
    }
);
