//! Workspaces: the tenant. Members and roles, keys that act in one workspace, the audit
//! log, and isolation checked as a matrix (every route × every role, a non-member and
//! another workspace's key), on both backends.

use serde_json::{Value, json};

use crate::{TestApp, both};

use crate::{assert_error, assert_invalid};

/// Creates workspace `name` as `token`'s user; returns its id.
fn workspace(app: &TestApp, token: &str, name: &str) -> i64 {
    let r = app.post("/api/workspaces", token, json!({"name": name}));
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["role"], "owner");
    assert_eq!(v["name"], name);
    v["id"].as_i64().unwrap()
}

fn user_id(app: &TestApp, token: &str) -> i64 {
    app.get("/api/auth/me", token).json()["id"]
        .as_i64()
        .unwrap()
}

fn add(app: &TestApp, token: &str, ws: i64, email: &str, role: &str) -> crate::Response {
    app.post(
        &format!("/api/workspaces/{ws}/members"),
        token,
        json!({"email": email, "role": role}),
    )
}

fn track(app: &TestApp, ws: Option<i64>, token: &str, tags: Value) -> crate::Response {
    let e = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
        "output_tokens": 100, "timestamp": "2026-11-20T10:00:00Z", "tags": tags});
    app.call_in(ws, "POST", "/api/events/track", Some(token), Some(&e))
}

const RANGE: &str = "start=2026-11-01&end=2026-11-30";

fn total(app: &TestApp, ws: Option<i64>, token: &str) -> Value {
    let r = app.call_in(
        ws,
        "GET",
        &format!("/api/costs/summary?{RANGE}"),
        Some(token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["total_calls"].clone()
}

both!(signup_makes_a_personal_workspace, |app: TestApp| {
    let token = app.signup("solo@example.com");
    let me = app.get("/api/auth/me", &token).json();
    assert_eq!(me["email"], "solo@example.com");
    let listed = app.get("/api/workspaces", &token).json();
    assert_eq!(listed["workspaces"], me["workspaces"]);
    let ws = &me["workspaces"][0];
    assert_eq!(me["workspaces"].as_array().unwrap().len(), 1);
    assert_eq!(ws["role"], "owner");
    assert_eq!(ws["personal"], true);
    // Acting in it by name is the same as the default.
    let id = ws["id"].as_i64().unwrap();
    assert_eq!(track(&app, Some(id), &token, json!({})).status, 201);
    assert_eq!(total(&app, None, &token), 1);
    // The personal workspace cannot be deleted.
    let r = app.call(
        "DELETE",
        &format!("/api/workspaces/{id}"),
        Some(&token),
        None,
    );
    assert_error(&r, 409, "conflict");
    // A header that is no id is a 422 naming it; an id of no workspace of the user, 404.
    let r = app.call_in(Some(-1), "GET", "/api/budgets", Some(&token), None);
    assert_invalid(&r, "X-LLMLab-Workspace");
    // Routes of the person, not of a workspace, do not read it.
    let r = app.call_in(Some(-1), "GET", "/api/auth/me", Some(&token), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.call_in(Some(id + 1000), "GET", "/api/budgets", Some(&token), None);
    assert_error(&r, 404, "not_found");
});

// A second person joins as a viewer, sees the team's spend and not their own, cannot
// write, is promoted, and loses access on the next request once removed, on another
// instance too.
both!(a_team_shares_a_workspace, |app: TestApp| {
    let ada = app.signup("ada@example.com");
    let bob = app.signup("bob@example.com");
    let acme = workspace(&app, &ada, "Acme");
    let invitation = app.join(&ada, acme, "Bob@Example.com", &bob, "viewer");
    assert_eq!(invitation["role"], "viewer");
    assert_eq!(invitation["email"], "bob@example.com");
    assert_error(
        &add(&app, &ada, acme, "bob@example.com", "member"),
        409,
        "conflict",
    );
    // An email nobody signed up with is invited like any other (see invitations.rs).
    assert_eq!(
        add(&app, &ada, acme, "nobody@example.com", "viewer").status,
        202
    );
    let bobs = app.get("/api/workspaces", &bob).json();
    let names: Vec<&str> = crate::strings(&bobs["workspaces"], "name");
    assert_eq!(names, ["Personal", "Acme"]);
    assert_eq!(bobs["workspaces"][1]["role"], "viewer");

    assert_eq!(track(&app, Some(acme), &ada, json!({})).status, 201);
    assert_eq!(total(&app, Some(acme), &bob), 1);
    assert_eq!(
        total(&app, None, &bob),
        0,
        "bob's own workspace is separate"
    );
    assert_eq!(total(&app, None, &ada), 0, "so is ada's");

    let budget = json!({"name": "team", "amount_usd": 10, "period": "monthly"});
    let r = app.call_in(
        Some(acme),
        "POST",
        "/api/budgets",
        Some(&bob),
        Some(&budget),
    );
    let v = assert_error(&r, 403, "forbidden");
    assert_eq!(v["error"]["details"]["required_role"], "member");

    let bob_id = user_id(&app, &bob);
    let other = app.second_instance();
    let r = app.call(
        "PATCH",
        &format!("/api/workspaces/{acme}/members/{bob_id}"),
        Some(&ada),
        Some(&json!({"role": "member"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["role"], "member");
    let r = other.call_in(
        Some(acme),
        "POST",
        "/api/budgets",
        Some(&bob),
        Some(&budget),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let members = app
        .get(&format!("/api/workspaces/{acme}/members"), &bob)
        .json();
    assert_eq!(members["members"][0]["email"], "ada@example.com");
    assert_eq!(members["members"][0]["role"], "owner");
    assert_eq!(members["members"][1]["role"], "member");

    // A member cannot rename, manage members or read the audit log.
    let r = app.call(
        "PATCH",
        &format!("/api/workspaces/{acme}"),
        Some(&bob),
        Some(&json!({"name": "Bob's"})),
    );
    assert_eq!(
        assert_error(&r, 403, "forbidden")["error"]["details"]["required_role"],
        "owner"
    );
    let r = add(&app, &bob, acme, "ada@example.com", "viewer");
    assert_error(&r, 403, "forbidden");

    let r = app.call(
        "DELETE",
        &format!("/api/workspaces/{acme}/members/{bob_id}"),
        Some(&ada),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = other.call_in(Some(acme), "GET", "/api/budgets", Some(&bob), None);
    assert_error(&r, 404, "not_found");
    let r = other.get(&format!("/api/workspaces/{acme}/members"), &bob);
    assert_error(&r, 404, "not_found");
});

both!(a_workspace_keeps_an_owner, |app: TestApp| {
    let ada = app.signup("owner@example.com");
    let cy = app.signup("admin@example.com");
    let acme = workspace(&app, &ada, "Acme");
    let ada_id = user_id(&app, &ada);
    let cy_id = user_id(&app, &cy);
    app.join(&ada, acme, "admin@example.com", &cy, "admin");
    let member = |who: i64| format!("/api/workspaces/{acme}/members/{who}");
    // The last owner can neither step down nor leave.
    let r = app.call(
        "PATCH",
        &member(ada_id),
        Some(&ada),
        Some(&json!({"role": "admin"})),
    );
    assert_error(&r, 409, "last_owner");
    assert_error(
        &app.call("DELETE", &member(ada_id), Some(&ada), None),
        409,
        "last_owner",
    );
    // An admin cannot touch an owner, nor make one.
    let r = app.call(
        "PATCH",
        &member(ada_id),
        Some(&cy),
        Some(&json!({"role": "viewer"})),
    );
    assert_error(&r, 403, "forbidden");
    let r = app.call(
        "PATCH",
        &member(cy_id),
        Some(&cy),
        Some(&json!({"role": "owner"})),
    );
    assert_error(&r, 403, "forbidden");
    assert_error(
        &app.call("DELETE", &member(ada_id), Some(&cy), None),
        403,
        "forbidden",
    );
    // With a second owner, the first may leave.
    let r = app.call(
        "PATCH",
        &member(cy_id),
        Some(&ada),
        Some(&json!({"role": "owner"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        app.call("DELETE", &member(ada_id), Some(&ada), None).status,
        204
    );
    assert_error(
        &app.call("DELETE", &member(cy_id), Some(&cy), None),
        409,
        "last_owner",
    );
    // Unknown roles and members.
    let r = app.call(
        "PATCH",
        &member(cy_id),
        Some(&cy),
        Some(&json!({"role": "god"})),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = app.call(
        "PATCH",
        &member(999_999),
        Some(&cy),
        Some(&json!({"role": "viewer"})),
    );
    assert_error(&r, 404, "not_found");
    // Rename, then delete with its data.
    let r = app.call(
        "PATCH",
        &format!("/api/workspaces/{acme}"),
        Some(&cy),
        Some(&json!({"name": "  Acme Inc  "})),
    );
    assert_eq!(r.json()["name"], "Acme Inc");
    assert_eq!(track(&app, Some(acme), &cy, json!({})).status, 201);
    let r = app.call(
        "DELETE",
        &format!("/api/workspaces/{acme}"),
        Some(&cy),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = app.call_in(Some(acme), "GET", "/api/events", Some(&cy), None);
    assert_error(&r, 404, "not_found");
    assert_eq!(
        app.get("/api/workspaces", &cy).json()["workspaces"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
});

// A key belongs to the workspace it was made in, acts only there, and stamps its tags
// on what it sends (the event's own tag wins).
both!(
    keys_act_in_their_workspace_with_their_tags,
    |app: TestApp| {
        let ada = app.signup("keys@example.com");
        let acme = workspace(&app, &ada, "Acme");
        let body = json!({"name": "gateway", "scopes": ["ingest", "read"],
        "tags": {"service": "search", "team": "core"}});
        let r = app.call_in(Some(acme), "POST", "/api/keys", Some(&ada), Some(&body));
        assert_eq!(r.status, 201, "{}", r.text());
        let created = r.json();
        assert_eq!(
            created["tags"],
            json!({"service": "search", "team": "core"})
        );
        assert_eq!(created["created_by"], user_id(&app, &ada));
        let key = created["key"].as_str().unwrap().to_string();

        let r = track(&app, None, &key, json!({"team": "growth"}));
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(
            r.json()["tags"],
            json!({"service": "search", "team": "growth"})
        );
        assert_eq!(total(&app, Some(acme), &ada), 1);
        assert_eq!(total(&app, None, &ada), 0, "not in the personal workspace");
        let personal = app.get("/api/auth/me", &ada).json()["workspaces"][0]["id"]
            .as_i64()
            .unwrap();
        let r = app.call_in(Some(personal), "GET", "/api/events", Some(&key), None);
        assert_error(&r, 404, "not_found");
        let listed = app
            .call_in(Some(acme), "GET", "/api/keys", Some(&ada), None)
            .json();
        assert_eq!(listed["keys"][0]["tags"]["service"], "search");
        assert_eq!(app.get("/api/keys", &ada).json()["keys"], json!([]));
        // Bad default tags are refused like an event's.
        let r = app.call_in(
            Some(acme),
            "POST",
            "/api/keys",
            Some(&ada),
            Some(&json!({"name": "x", "tags": {"a:b": "c"}})),
        );
        assert_error(&r, 422, "validation_error");
        // Keys manage nothing of workspaces.
        let r = app.post("/api/workspaces", &key, json!({"name": "k"}));
        assert_error(&r, 403, "forbidden");
    }
);

both!(the_audit_log_records_each_change, |app: TestApp| {
    let ada = app.signup("audit@example.com");
    let viewer = app.signup("viewer@example.com");
    let acme = workspace(&app, &ada, "Acme");
    app.join(&ada, acme, "viewer@example.com", &viewer, "viewer");
    let call = |method: &str, path: &str, body: Option<Value>| {
        app.call_in(Some(acme), method, path, Some(&ada), body.as_ref())
    };
    let key = call("POST", "/api/keys", Some(json!({"name": "k"}))).json();
    let key_id = key["id"].as_i64().unwrap();
    let budget = call(
        "POST",
        "/api/budgets",
        Some(json!({"name": "b", "amount_usd": 5, "period": "daily"})),
    )
    .json();
    let budget_id = budget["id"].as_i64().unwrap();
    call(
        "PUT",
        "/api/pricing/custom/openai/gpt-4o",
        Some(json!({"input_per_mtok_usd": "1", "output_per_mtok_usd": "2"})),
    );
    assert_eq!(call("GET", "/api/budgets/webhook-secret", None).status, 200);
    call("DELETE", &format!("/api/keys/{key_id}"), None);
    call("DELETE", &format!("/api/budgets/{budget_id}"), None);
    call("DELETE", "/api/pricing/custom/openai/gpt-4o", None);
    // A refused change leaves no entry.
    assert_eq!(call("DELETE", "/api/budgets/999999", None).status, 404);

    let log = call("GET", "/api/audit", None);
    assert_eq!(log.status, 200, "{}", log.text());
    let log = log.json();
    let actions: Vec<&str> = crate::strings(&log["entries"], "action");
    assert_eq!(
        actions,
        [
            "custom_price.delete",
            "budget.delete",
            "key.revoke",
            "webhook_secret.read",
            "custom_price.set",
            "budget.create",
            "key.create",
            "invitation.accept",
            "invitation.create",
            "workspace.create",
        ]
    );
    let first = &log["entries"][9];
    assert_eq!(first["actor"]["kind"], "user");
    assert_eq!(first["actor"]["label"], "audit@example.com");
    assert_eq!(
        first["target"],
        json!({"kind": "workspace", "id": acme.to_string()})
    );
    assert_eq!(log["entries"][2]["target"]["id"], key_id.to_string());
    assert_eq!(log["next_cursor"], Value::Null);
    // Pages and the action filter.
    let page = call("GET", "/api/audit?limit=4", None).json();
    assert_eq!(page["entries"].as_array().unwrap().len(), 4);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let next = call("GET", &format!("/api/audit?limit=4&cursor={cursor}"), None).json();
    assert_eq!(next["entries"][0]["action"], "custom_price.set");
    let only = call("GET", "/api/audit?action=budget.create", None).json();
    assert_eq!(only["entries"].as_array().unwrap().len(), 1);
    assert_error(
        &call("GET", "/api/audit?cursor=x", None),
        422,
        "validation_error",
    );
    // Viewers do not read it; nothing deletes entries.
    let r = app.call_in(Some(acme), "GET", "/api/audit", Some(&viewer), None);
    assert_eq!(
        assert_error(&r, 403, "forbidden")["error"]["details"]["required_role"],
        "admin"
    );
    assert_eq!(call("DELETE", "/api/audit", None).status, 405);
});

/// Every workspace-scoped route: the least role a person needs, and the key scope
/// (`None`: no key). `{b}`, `{k}` and `{c}` are a budget, a key and a notification channel
/// of the workspace.
const MATRIX: &[(&str, &str, &str, Option<&str>)] = &[
    ("POST", "/api/events/track", "member", Some("ingest")),
    ("POST", "/api/events/batch", "member", Some("ingest")),
    ("GET", "/api/budgets/check", "viewer", Some("ingest")),
    ("POST", "/api/costs/estimate", "member", Some("ingest")),
    ("GET", "/api/events", "viewer", Some("read")),
    ("GET", "/api/events/export", "viewer", Some("read")),
    ("GET", "/api/costs/summary", "viewer", Some("read")),
    ("GET", "/api/costs/by-provider", "viewer", Some("read")),
    ("GET", "/api/costs/top-models", "viewer", Some("read")),
    ("GET", "/api/costs/by-tag?key=team", "viewer", Some("read")),
    ("GET", "/api/budgets", "viewer", Some("read")),
    ("GET", "/api/budgets/{b}/alerts", "viewer", Some("read")),
    ("GET", "/api/recommendations", "viewer", Some("read")),
    (
        "GET",
        "/api/recommendations/anomalies",
        "viewer",
        Some("read"),
    ),
    (
        "GET",
        "/api/recommendations/model-switching",
        "viewer",
        Some("read"),
    ),
    ("GET", "/api/pricing/custom", "viewer", None),
    ("POST", "/api/keys", "member", None),
    ("GET", "/api/keys", "member", None),
    ("POST", "/api/budgets", "member", None),
    ("GET", "/api/budgets/webhook-secret", "admin", None),
    ("PUT", "/api/pricing/custom/openai/gpt-4o", "admin", None),
    ("DELETE", "/api/pricing/custom/openai/gpt-4o", "admin", None),
    ("GET", "/api/audit", "admin", None),
    ("GET", "/api/costs/forecast", "viewer", Some("read")),
    ("GET", "/api/costs/export", "viewer", Some("read")),
    ("GET", "/api/pricing/unpriced", "viewer", Some("read")),
    ("GET", "/api/pricing/reprices", "viewer", None),
    ("POST", "/api/pricing/reprice", "admin", None),
    ("GET", "/api/channels", "viewer", None),
    ("POST", "/api/channels", "admin", None),
    ("GET", "/api/channels/{c}/deliveries", "viewer", None),
    ("POST", "/api/channels/{c}/test", "admin", None),
    ("DELETE", "/api/keys/{k}", "member", None),
    ("DELETE", "/api/budgets/{b}", "member", None),
    ("DELETE", "/api/channels/{c}", "admin", None),
    ("GET", "/api/contracts", "viewer", Some("read")),
    ("POST", "/api/contracts", "admin", None),
    ("DELETE", "/api/contracts/999999", "admin", None),
    ("GET", "/api/reconciliation", "viewer", Some("read")),
    (
        "POST",
        "/api/reconciliation/imports?format=focus",
        "admin",
        None,
    ),
];

const ROLES: [&str; 4] = ["viewer", "member", "admin", "owner"];

both!(isolation_matrix, |app: TestApp| {
    let owner = app.signup("m-owner@example.com");
    let ws = workspace(&app, &owner, "Matrix");
    let mut people = vec![("owner", owner.clone())];
    for role in &ROLES[..3] {
        let email = format!("m-{role}@example.com");
        let token = app.signup(&email);
        app.join(&owner, ws, &email, &token, role);
        people.push((role, token));
    }
    let stranger = app.signup("m-stranger@example.com");
    let r = app.post(
        "/api/keys",
        &stranger,
        json!({"name": "theirs", "scopes": ["ingest", "read"]}),
    );
    let stranger_key = r.json()["key"].as_str().unwrap().to_string();
    let in_ws = |method: &str, path: &str, body: Value| {
        app.call_in(Some(ws), method, path, Some(&owner), Some(&body))
    };
    let b = in_ws(
        "POST",
        "/api/budgets",
        json!({"name": "b", "amount_usd": 5, "period": "daily"}),
    )
    .json()["id"]
        .as_i64()
        .unwrap();
    let k = in_ws("POST", "/api/keys", json!({"name": "k"})).json()["id"]
        .as_i64()
        .unwrap();
    let c = in_ws(
        "POST",
        "/api/channels",
        json!({"name": "c", "kind": "webhook", "url": "https://hooks.example.com/llmlab",
               "events": ["budget"]}),
    );
    assert_eq!(c.status, 201, "{}", c.text());
    let c = c.json()["id"].as_i64().unwrap();
    let body = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
        "output_tokens": 1, "events": [], "name": "x", "amount_usd": 1, "period": "daily",
        "input_per_mtok_usd": "1", "output_per_mtok_usd": "1"});
    for &(method, template, least, _) in MATRIX {
        let path = template
            .replace("{b}", &b.to_string())
            .replace("{k}", &k.to_string())
            .replace("{c}", &c.to_string());
        let rank = |r: &str| ROLES.iter().position(|x| *x == r).unwrap();
        for (role, token) in &people {
            let r = app.call_in(Some(ws), method, &path, Some(token), Some(&body));
            if rank(role) >= rank(least) {
                assert!(
                    r.status != 401 && r.status != 403 && r.status < 500,
                    "{method} {path} as {role}: {} {}",
                    r.status,
                    r.text()
                );
            } else {
                let v = assert_error(&r, 403, "forbidden");
                assert_eq!(
                    v["error"]["details"]["required_role"], least,
                    "{method} {path}"
                );
            }
        }
        // Not a member, or another workspace's key: the workspace does not exist.
        for cred in [&stranger, &stranger_key] {
            let r = app.call_in(Some(ws), method, &path, Some(cred), Some(&body));
            assert_error(&r, 404, "not_found");
        }
    }
    // In their own workspace, the same ids name nothing.
    for (method, path) in [
        ("GET", format!("/api/budgets/{b}/alerts")),
        ("DELETE", format!("/api/budgets/{b}")),
        ("DELETE", format!("/api/keys/{k}")),
    ] {
        for cred in [&stranger, &stranger_key] {
            let r = app.call(method, &path, Some(cred), None);
            assert!(
                r.status == 404 || r.status == 403,
                "{method} {path}: {}",
                r.text()
            );
            if cred == &stranger {
                assert_error(&r, 404, "not_found");
            }
        }
    }
    // The workspace's own routes by path: members read, admins manage, owners own.
    let member_path = format!("/api/workspaces/{ws}/members");
    let viewer_id = user_id(&app, &people[1].1);
    let routes: [(&str, String, Value, &str); 5] = [
        ("GET", member_path.clone(), json!(null), "viewer"),
        (
            "GET",
            format!("/api/workspaces/{ws}/invitations"),
            json!(null),
            "admin",
        ),
        (
            "POST",
            member_path.clone(),
            json!({"email": "m-stranger@example.com", "role": "viewer"}),
            "admin",
        ),
        (
            "PATCH",
            format!("{member_path}/{viewer_id}"),
            json!({"role": "viewer"}),
            "admin",
        ),
        (
            "PATCH",
            format!("/api/workspaces/{ws}"),
            json!({"name": "Matrix"}),
            "owner",
        ),
    ];
    for (method, path, body, least) in &routes {
        let rank = |r: &str| ROLES.iter().position(|x| *x == r).unwrap();
        for (role, token) in &people {
            let r = app.call(method, path, Some(token), Some(body));
            if rank(role) >= rank(least) {
                assert!(
                    r.status < 400 || r.status == 409,
                    "{method} {path} as {role}: {}",
                    r.text()
                );
            } else {
                assert_error(&r, 403, "forbidden");
            }
        }
        let r = app.call(
            method,
            path,
            Some(&app.signup(&format!("x{}@example.com", rand_suffix()))),
            Some(body),
        );
        assert_error(&r, 404, "not_found");
        let r = app.call(method, path, Some(&stranger_key), Some(body));
        assert_error(&r, 403, "forbidden");
    }
});

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
