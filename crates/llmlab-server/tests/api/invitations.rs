//! Invitations: nobody joins a workspace without accepting, the answer to an invitation
//! never tells whether an email has an account, and a workspace cannot send them without
//! bound; on both backends.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::{TestApp, assert_error, both, find_by};

fn workspace(app: &TestApp, token: &str, name: &str) -> i64 {
    let r = app.post("/api/workspaces", token, json!({"name": name}));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

fn invite(app: &TestApp, token: &str, ws: i64, email: &str, role: &str) -> crate::Response {
    app.post(
        &format!("/api/workspaces/{ws}/members"),
        token,
        json!({"email": email, "role": role}),
    )
}

/// The invitation a 202 carries.
fn sent(r: &crate::Response) -> Value {
    assert_eq!(r.status, 202, "{}", r.text());
    r.json()["invitation"].clone()
}

fn mine(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/invitations", token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["invitations"].clone()
}

fn pending(app: &TestApp, token: &str, ws: i64) -> Value {
    let r = app.get(&format!("/api/workspaces/{ws}/invitations"), token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["invitations"].clone()
}

fn accept(app: &TestApp, token: &str, id: &Value) -> crate::Response {
    app.call(
        "POST",
        &format!("/api/invitations/{id}/accept"),
        Some(token),
        None,
    )
}

fn names(app: &TestApp, token: &str) -> Vec<String> {
    let listed = app.get("/api/workspaces", token).json();
    crate::strings(&listed["workspaces"], "name")
        .into_iter()
        .map(str::to_string)
        .collect()
}

fn audit_actions(app: &TestApp, token: &str, ws: i64) -> Vec<String> {
    let log = app.call_in(Some(ws), "GET", "/api/audit", Some(token), None);
    assert_eq!(log.status, 200, "{}", log.text());
    crate::strings(&log.json()["entries"], "action")
        .into_iter()
        .map(str::to_string)
        .collect()
}

// The account oracle: adding an unknown email was a 404 `user_not_found` and a real
// account's a 201. Now both are the same 202 with the same body, and the account holder
// has joined nothing.
both!(
    an_invitation_tells_nothing_about_accounts,
    |app: TestApp| {
        let ada = app.signup("ada@example.com");
        let bob = app.signup("bob@example.com");
        let acme = workspace(&app, &ada, "Acme");
        let known = sent(&invite(&app, &ada, acme, "Bob@Example.com", "owner"));
        let unknown = sent(&invite(&app, &ada, acme, "nobody@example.com", "owner"));
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&known), keys(&unknown));
        assert_eq!(
            keys(&known),
            ["email", "expires_at", "id", "invited_by", "role"]
        );
        assert_eq!(known["email"], "bob@example.com", "the normal form");
        assert_eq!(unknown["email"], "nobody@example.com");
        assert_eq!(
            (&known["role"], &unknown["role"]),
            (&json!("owner"), &json!("owner"))
        );
        // Bob belongs to nothing he did not accept.
        assert_eq!(names(&app, &bob), ["Personal"]);
        let members = app
            .get(&format!("/api/workspaces/{acme}/members"), &ada)
            .json();
        assert_eq!(members["members"].as_array().unwrap().len(), 1);
        let r = app.call_in(Some(acme), "GET", "/api/budgets", Some(&bob), None);
        assert_error(&r, 404, "not_found");
        // 409 only for a member.
        let r = invite(&app, &ada, acme, "ADA@example.com", "viewer");
        assert_error(&r, 409, "conflict");
        // A malformed email is refused before anything is stored.
        crate::assert_invalid(&invite(&app, &ada, acme, "not an email", "viewer"), "email");
    }
);

// The invitee decides: they see the invitation (also when they sign up after it was
// sent), accept it into the role it names, or decline it. No one else can take it.
both!(the_invitee_accepts_or_declines, |app: TestApp| {
    let ada = app.signup("ada@example.com");
    let bob = app.signup("bob@example.com");
    let acme = workspace(&app, &ada, "Acme");
    let before = Utc::now();
    let to_bob = sent(&invite(&app, &ada, acme, "bob@example.com", "member"));
    let to_cy = sent(&invite(&app, &ada, acme, "  Cy@Example.com ", "viewer"));
    let expires: DateTime<Utc> = to_bob["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires >= before + Duration::days(7) - Duration::seconds(1));
    assert!(expires <= Utc::now() + Duration::days(7));

    let bobs = mine(&app, &bob);
    assert_eq!(bobs.as_array().unwrap().len(), 1, "{bobs}");
    assert_eq!(bobs[0]["id"], to_bob["id"]);
    assert_eq!(bobs[0]["workspace"], json!({"id": acme, "name": "Acme"}));
    assert_eq!(bobs[0]["role"], "member");
    assert_eq!(bobs[0]["invited_by"]["email"], "ada@example.com");
    assert_eq!(bobs[0]["expires_at"], to_bob["expires_at"]);
    // Not bob's to take: another person, or the inviter, finds no such invitation.
    let eve = app.signup("eve@example.com");
    assert_eq!(mine(&app, &eve), json!([]));
    assert_error(&accept(&app, &eve, &to_bob["id"]), 404, "not_found");
    assert_error(&accept(&app, &ada, &to_bob["id"]), 404, "not_found");
    let r = app.call(
        "DELETE",
        &format!("/api/invitations/{}", to_bob["id"]),
        Some(&eve),
        None,
    );
    assert_error(&r, 404, "not_found");

    let r = accept(&app, &bob, &to_bob["id"]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"workspace": {"id": acme, "name": "Acme"}, "role": "member"})
    );
    assert_eq!(names(&app, &bob), ["Personal", "Acme"]);
    let members = app
        .get(&format!("/api/workspaces/{acme}/members"), &bob)
        .json();
    assert_eq!(
        find_by(&members["members"], "email", "bob@example.com")["role"],
        "member"
    );
    assert_eq!(mine(&app, &bob), json!([]));
    assert_error(&accept(&app, &bob, &to_bob["id"]), 404, "not_found");

    // Cy signs up after the invitation was sent, with another spelling, and sees it.
    let cy = app.signup("cy@EXAMPLE.com");
    let cys = mine(&app, &cy);
    assert_eq!(cys[0]["id"], to_cy["id"]);
    let r = app.call(
        "DELETE",
        &format!("/api/invitations/{}", to_cy["id"]),
        Some(&cy),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(mine(&app, &cy), json!([]));
    assert_error(&accept(&app, &cy, &to_cy["id"]), 404, "not_found");
    assert_eq!(names(&app, &cy), ["Personal"]);
    assert_eq!(pending(&app, &ada, acme), json!([]));

    // An expired invitation is gone for everyone.
    let dan = app.signup("dan@example.com");
    let to_dan = sent(&invite(&app, &ada, acme, "dan@example.com", "viewer"));
    app.db()
        .store()
        .execute_batch(&format!(
            "UPDATE invitations SET expires_at = '2020-01-01 00:00:00' WHERE id = {}",
            to_dan["id"]
        ))
        .unwrap();
    assert_eq!(mine(&app, &dan), json!([]));
    assert_eq!(pending(&app, &ada, acme), json!([]));
    assert_error(&accept(&app, &dan, &to_dan["id"]), 404, "not_found");
    // Ids that are no number name nothing either.
    assert_error(&accept(&app, &dan, &json!("x")), 404, "not_found");

    assert_eq!(
        audit_actions(&app, &ada, acme),
        [
            "invitation.create",
            "invitation.decline",
            "invitation.accept",
            "invitation.create",
            "invitation.create",
            "workspace.create",
        ]
    );
    let log = app.call_in(
        Some(acme),
        "GET",
        "/api/audit?action=invitation.accept",
        Some(&ada),
        None,
    );
    let entry = &log.json()["entries"][0];
    assert_eq!(entry["actor"]["label"], "bob@example.com");
    assert_eq!(entry["details"]["role"], "member");
});

// Admins list and revoke; the role rules of members hold for invitations; one pending
// invitation per email, the latest replacing it; an invitation is only as good as its
// sender's right to grant it when it is accepted.
both!(
    admins_manage_invitations_within_their_role,
    |app: TestApp| {
        let ada = app.signup("owner@example.com");
        let cy = app.signup("admin@example.com");
        let vi = app.signup("viewer@example.com");
        let acme = workspace(&app, &ada, "Acme");
        app.join(&ada, acme, "admin@example.com", &cy, "admin");
        app.join(&ada, acme, "viewer@example.com", &vi, "viewer");

        // An admin invites below owner; owners invite owners.
        let r = invite(&app, &cy, acme, "new@example.com", "owner");
        let v = assert_error(&r, 403, "forbidden");
        assert_eq!(v["error"]["details"]["required_role"], "owner");
        let by_owner = sent(&invite(&app, &ada, acme, "boss@example.com", "owner"));
        let first = sent(&invite(&app, &cy, acme, "new@example.com", "viewer"));
        // Viewers neither invite nor see invitations; strangers find no workspace.
        assert_error(
            &invite(&app, &vi, acme, "x@example.com", "viewer"),
            403,
            "forbidden",
        );
        let r = app.get(&format!("/api/workspaces/{acme}/invitations"), &vi);
        assert_eq!(
            assert_error(&r, 403, "forbidden")["error"]["details"]["required_role"],
            "admin"
        );
        let stranger = app.signup("stranger@example.com");
        let r = app.get(&format!("/api/workspaces/{acme}/invitations"), &stranger);
        assert_error(&r, 404, "not_found");
        assert_error(
            &invite(&app, &stranger, acme, "x@example.com", "viewer"),
            404,
            "not_found",
        );

        // Inviting the same email again replaces the pending invitation: a new id, the
        // latest role, one invitation listed; the old id names nothing.
        let second = sent(&invite(&app, &cy, acme, "NEW@example.com", "member"));
        assert_ne!(second["id"], first["id"]);
        let listed = pending(&app, &cy, acme);
        assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
        let new = find_by(&listed, "email", "new@example.com");
        assert_eq!(
            (&new["id"], &new["role"]),
            (&second["id"], &json!("member"))
        );
        assert_eq!(new["invited_by"]["email"], "admin@example.com");
        let newbie = app.signup("new@example.com");
        assert_error(&accept(&app, &newbie, &first["id"]), 404, "not_found");
        // An admin may not replace nor revoke an owner's invitation to be owner.
        let r = invite(&app, &cy, acme, "boss@example.com", "viewer");
        assert_error(&r, 403, "forbidden");
        let path = |id: &Value| format!("/api/workspaces/{acme}/invitations/{id}");
        let r = app.call("DELETE", &path(&by_owner["id"]), Some(&cy), None);
        assert_error(&r, 403, "forbidden");
        let r = app.call("DELETE", &path(&second["id"]), Some(&vi), None);
        assert_error(&r, 403, "forbidden");
        // An admin revokes their own; the invitee no longer sees it.
        assert_eq!(mine(&app, &newbie).as_array().unwrap().len(), 1);
        let r = app.call("DELETE", &path(&second["id"]), Some(&cy), None);
        assert_eq!(r.status, 204, "{}", r.text());
        assert_eq!(mine(&app, &newbie), json!([]));
        assert_error(&accept(&app, &newbie, &second["id"]), 404, "not_found");
        let r = app.call("DELETE", &path(&second["id"]), Some(&cy), None);
        assert_error(&r, 404, "not_found");
        // Another workspace's invitation is not found in this one.
        let other = workspace(&app, &ada, "Other");
        let elsewhere = sent(&invite(&app, &ada, other, "far@example.com", "viewer"));
        let r = app.call("DELETE", &path(&elsewhere["id"]), Some(&ada), None);
        assert_error(&r, 404, "not_found");

        // An admin since demoted: what they sent is void, for the invitee and the admins.
        let dee = app.signup("dee@example.com");
        let from_cy = sent(&invite(&app, &cy, acme, "dee@example.com", "admin"));
        let cy_id = app.get("/api/auth/me", &cy).json()["id"].as_i64().unwrap();
        let r = app.call(
            "PATCH",
            &format!("/api/workspaces/{acme}/members/{cy_id}"),
            Some(&ada),
            Some(&json!({"role": "member"})),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(mine(&app, &dee), json!([]));
        assert_error(&accept(&app, &dee, &from_cy["id"]), 404, "not_found");
        let left = pending(&app, &ada, acme);
        assert_eq!(crate::strings(&left, "email"), ["boss@example.com"]);
        // The owner's invitation stands, and makes an owner.
        let boss = app.signup("boss@example.com");
        let r = accept(&app, &boss, &by_owner["id"]);
        assert_eq!(r.json()["role"], "owner", "{}", r.text());
        let r = app.call("DELETE", &path(&by_owner["id"]), Some(&ada), None);
        assert_error(&r, 404, "not_found");
        let actions = audit_actions(&app, &ada, acme);
        assert_eq!(actions[0], "invitation.accept");
        assert!(
            actions.contains(&"invitation.revoke".to_string()),
            "{actions:?}"
        );
    }
);
// Invitations per workspace per hour are counted in the database (every instance draws
// on one allowance), and a workspace holds a bounded number of pending ones; past
// either, 429 with Retry-After in the contract's error shape.
both!(
    invitations_are_rate_limited,
    &[("LLMLAB_INVITATIONS_PER_HOUR", "3")],
    |app: TestApp| {
        let ada = app.signup("ada@example.com");
        let acme = workspace(&app, &ada, "Acme");
        for i in 0..3 {
            sent(&invite(
                &app,
                &ada,
                acme,
                &format!("u{i}@example.com"),
                "viewer",
            ));
        }
        let r = invite(&app, &ada, acme, "u3@example.com", "viewer");
        assert_error(&r, 429, "rate_limited");
        let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
        assert!((1..=3600).contains(&wait), "{wait}");
        let second = app.second_instance();
        let r = invite(&second, &ada, acme, "u4@example.com", "viewer");
        assert_error(&r, 429, "rate_limited");
        // Refused invitations were not sent.
        assert_eq!(pending(&app, &ada, acme).as_array().unwrap().len(), 3);
        // Another workspace has its own allowance.
        let other = workspace(&app, &ada, "Other");
        sent(&invite(&app, &ada, other, "u3@example.com", "viewer"));

        // At most N pending: past it, 429 until one is revoked (or expires).
        let capped = app.instance_with(&[
            ("LLMLAB_INVITATIONS_PER_HOUR", "0"),
            ("LLMLAB_MAX_PENDING_INVITATIONS", "4"),
        ]);
        sent(&invite(&capped, &ada, acme, "u4@example.com", "viewer"));
        let r = invite(&capped, &ada, acme, "u5@example.com", "viewer");
        assert_error(&r, 429, "rate_limited");
        let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
        assert!(wait > 6 * 24 * 3600, "until the oldest expires: {wait}");
        // Replacing a pending one adds none.
        sent(&invite(&capped, &ada, acme, "u4@example.com", "member"));
        let id = find_by(&pending(&capped, &ada, acme), "email", "u0@example.com")["id"].clone();
        let r = capped.call(
            "DELETE",
            &format!("/api/workspaces/{acme}/invitations/{id}"),
            Some(&ada),
            None,
        );
        assert_eq!(r.status, 204);
        sent(&invite(&capped, &ada, acme, "u5@example.com", "viewer"));
    }
);
