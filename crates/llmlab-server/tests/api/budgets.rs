//! Budget scopes and periods over HTTP: only in-scope spend counts, periods start at the
//! budget's local midnight, and the pre-flight check follows scope and status.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use crate::{TestApp, both};

fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/budgets", token, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn track(app: &TestApp, token: &str, model: &str, usd: f64, tags: Value) {
    let r = app.post(
        "/api/events/track",
        token,
        json!({"provider": "openai", "model": model, "input_tokens": 1, "output_tokens": 1,
               "cost_usd": usd, "tags": tags}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

fn field_of(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/budgets", token, body);
    assert_eq!(r.status, 422, "{}", r.text());
    r.json()["error"]["details"]["field"].clone()
}

both!(scopes_periods_and_the_preflight_check, |app: TestApp| {
    let token = app.signup("scopes@example.com");
    let tagged = create(
        &app,
        &token,
        json!({"name": "search team", "amount_usd": 2, "period": "daily",
               "timezone": "Asia/Kolkata", "scope": {"tag": "team:search"}}),
    );
    // A dated snapshot in the scope counts events of the model however they name it.
    let model = create(
        &app,
        &token,
        json!({"name": "4o", "amount_usd": 10, "period": "total",
               "scope": {"provider": "openai", "model": "gpt-4o-2024-08-06"}}),
    );
    assert_eq!(model["scope"]["model"], "gpt-4o");
    track(&app, &token, "gpt-4o", 1.5, json!({"team": "search"}));
    track(
        &app,
        &token,
        "gpt-4o-2024-11-20",
        0.75,
        json!({"team": "growth"}),
    );
    track(&app, &token, "gpt-4o-mini", 0.25, json!({"team": "search"}));

    let list = app.get("/api/budgets", &token).json();
    let find = |name: &str| crate::find_by(&list["budgets"], "name", name).clone();
    let search = find("search team");
    assert_eq!(search["spent_usd"].to_string(), "1.75");
    assert_eq!(search["remaining_usd"].to_string(), "0.25");
    assert_eq!(search["percent_used"].as_f64(), Some(87.5));
    assert_eq!(search["status"], "warning");
    // Today's window in Kolkata (+05:30): local midnight to local midnight.
    let kolkata = chrono_tz::Asia::Kolkata;
    let local_today = Utc::now().with_timezone(&kolkata).date_naive();
    let midnight = kolkata
        .from_local_datetime(&local_today.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(parse(&search["period_start"]), midnight);
    assert_eq!(
        parse(&search["period_end"]),
        midnight + chrono::Duration::days(1)
    );
    let four_o = find("4o");
    assert_eq!(four_o["spent_usd"].to_string(), "2.25");
    assert_eq!(four_o["status"], "ok");
    assert!(
        four_o["period_start"].is_null(),
        "a total budget has no period"
    );

    // The gateway's question, per call.
    let check = |q: &str| app.get(&format!("/api/budgets/check?{q}"), &token).json();
    assert_eq!(
        check("provider=openai&model=gpt-4o&tag=team:search")["allowed"],
        true
    );
    track(&app, &token, "gpt-4o-mini", 0.25, json!({"team": "search"}));
    let blocked = check("provider=openai&model=gpt-4o-mini&tag=team:search");
    assert_eq!(blocked["allowed"], false);
    let names: Vec<&str> = crate::strings(&blocked["budgets"], "name");
    assert_eq!(
        names,
        ["search team"],
        "the 4o budget does not cover gpt-4o-mini"
    );
    assert_eq!(blocked["budgets"][0]["status"], "exceeded");
    assert_eq!(
        check("provider=openai&model=gpt-4o-mini&tag=team:growth")["allowed"],
        true
    );
    assert_eq!(check("provider=openai&model=gpt-4o")["allowed"], true);
    assert_eq!(tagged["alert_threshold_pct"], 80);

    // Every invalid field is named.
    for (body, field) in [
        (
            json!({"name": "x", "amount_usd": -1, "period": "daily"}),
            "amount_usd",
        ),
        (
            json!({"name": "x", "amount_usd": 1, "period": "daily", "alert_threshold_pct": 0}),
            "alert_threshold_pct",
        ),
        (
            json!({"name": "x", "amount_usd": 1, "period": "daily", "alert_threshold_pct": 101}),
            "alert_threshold_pct",
        ),
        (
            json!({"name": "x", "amount_usd": 1, "period": "daily", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"name": "x", "amount_usd": 1, "period": "daily", "scope": {"provider": "acme"}}),
            "scope.provider",
        ),
        (
            json!({"name": "x", "amount_usd": 1, "period": "daily", "scope": {"tag": "no-value"}}),
            "scope.tag",
        ),
        (
            json!({"name": "", "amount_usd": 1, "period": "daily"}),
            "name",
        ),
        (
            json!({"name": "x", "amount_usd": "ten", "period": "daily"}),
            "amount_usd",
        ),
    ] {
        assert_eq!(field_of(&app, &token, body.clone()), field, "{body}");
    }
});

// A model scope without a provider is canonicalized too when exactly one provider knows
// the name: the snapshot name alone would match no event, since events record the
// catalog name. A name two providers share, or none knows, is kept as given.
both!(
    a_model_scope_without_provider_is_canonical,
    |app: TestApp| {
        let token = app.signup("model-only@example.com");
        let snapshot = create(
            &app,
            &token,
            json!({"name": "4o", "amount_usd": 10, "period": "total",
               "scope": {"model": "gpt-4o-2024-08-06"}}),
        );
        assert_eq!(snapshot["scope"]["model"], "gpt-4o", "{snapshot}");
        let unknown = create(
            &app,
            &token,
            json!({"name": "in-house", "amount_usd": 10, "period": "total",
               "scope": {"model": "our-own-model"}}),
        );
        assert_eq!(unknown["scope"]["model"], "our-own-model", "{unknown}");
        track(&app, &token, "gpt-4o-2024-11-20", 0.75, json!({}));
        let list = app.get("/api/budgets", &token).json();
        let spent = crate::find_by(&list["budgets"], "name", "4o")["spent_usd"].to_string();
        assert_eq!(spent, "0.75", "{list}");
        // The pre-flight check names the call the same way: a snapshot without a
        // provider is covered by the budget for its model.
        let check = app
            .get("/api/budgets/check?model=gpt-4o-2024-08-06", &token)
            .json();
        let names = crate::strings(&check["budgets"], "name");
        assert_eq!(names, ["4o"], "{check}");
    }
);
