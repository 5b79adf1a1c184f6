//! Settings: API keys (a new key shown once, with a copy button), members and roles,
//! invitations (sent and revoked here; answered on the invitee's own page), the webhook
//! secret and the audit log, each behind the role the API asks for.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use llmlab_app::{ApiKeyId, InvitationId, Role, UserId};
use maud::{Markup, html};
use serde::Deserialize;

use super::form::{Submitted, act_then_back, done, hidden};
use super::refused::Refused;
use super::session::{Visitor, visitor};
use super::view::{first_event, page, server_url};
use super::{WebError, html as respond};
use crate::access::{AdminOnly, MemberOnly, Scopes, ViewerOnly};
use crate::dto::KeyOut;
use llmlab_app::AppState;
use llmlab_app::workspaces::{self as members, Caller};
use llmlab_app::{AppError, blocking, invitations, keys};

type Page = Result<HttpResponse, WebError>;

/// The new-key form.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyForm {
    name: String,
    #[serde(default)]
    read: Option<String>,
}

/// The invitation form.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MemberForm {
    email: String,
    role: String,
}

/// What only this response shows once.
#[derive(Default)]
struct Once {
    /// A new key, with where this server is reached (for the first event's command).
    key: Option<(String, String)>,
    secret: Option<String>,
    /// A refused key form, shown again with what was typed.
    key_refused: Option<(KeyForm, Refused)>,
    /// A refused invitation, shown again with what was typed.
    invite_refused: Option<(MemberForm, Refused)>,
}

pub async fn settings(req: HttpRequest, state: web::Data<AppState>) -> Page {
    let v = visitor(&req, &state, None).await?;
    render(&state, &v, Once::default()).await
}

async fn render(state: &web::Data<AppState>, v: &Visitor, once: Once) -> Page {
    let (ws, user, admin, member) = (
        v.workspace(),
        v.user_id,
        v.may(Role::Admin),
        v.may(Role::Member),
    );
    let actor = v.identity.actor();
    let (keys, people, invited, audit) = blocking(state, move |s| {
        let keys = if member {
            keys::list(s, ws)?
        } else {
            Vec::new()
        };
        let people = members::members(s, user, ws)?;
        let (invited, audit) = if admin {
            let who = Caller {
                user,
                actor: &actor,
            };
            (
                invitations::pending(s, &who, ws, llmlab_app::now_utc())?,
                members::audit_log(s, ws, 50, None, None)?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok::<_, AppError>((keys, people, invited, audit))
    })
    .await?;
    let keys: Vec<KeyOut> = keys.into_iter().map(KeyOut::from).collect();
    // The last owner cannot be removed (the workspace would have nobody to run it), so
    // removing them is not offered.
    let owners = people.iter().filter(|m| m.role == Role::Owner).count();
    let body = html! {
        h1 { "Settings" }
        @if member { (keys_section(v, &keys, once.key.as_ref(), once.key_refused.as_ref())) }
        section aria-labelledby="members" {
            h2 #members { "Members" }
            table {
                thead { tr { th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Since" } @if admin { th scope="col" { "" } } } }
                tbody { @for m in &people { tr {
                    td { (m.email) } td { (m.role.as_str()) } td { (m.added_at.format("%Y-%m-%d")) }
                    @if admin && m.role == Role::Owner && owners == 1 { td.small { "the only owner" } }
                    @else if admin && (m.role < Role::Owner || v.may(Role::Owner)) { td {
                        form.inline method="post" action=(format!("/settings/members/{}/remove", m.user_id)) {
                            (hidden(v))
                            button.danger type="submit" { "Remove " (m.email) }
                        }
                    } }
                } } }
            }
            @if admin {
                h3 #invitations { "Invitations" }
                p { "People join when they accept, within 7 days, on their Invitations page (they may sign up after being invited)." }
                @if !invited.is_empty() {
                    table {
                        thead { tr { th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Invited by" } th scope="col" { "Expires (UTC)" } th scope="col" { "" } } }
                        tbody { @for i in &invited { tr {
                            td { (i.email) } td { (i.role.as_str()) } td { (i.invited_by_email) } td { (i.expires_at.format("%Y-%m-%d %H:%M")) }
                            td { @if i.role < Role::Owner || v.may(Role::Owner) {
                                form.inline method="post" action=(format!("/settings/invitations/{}/revoke", i.id)) {
                                    (hidden(v))
                                    button.danger type="submit" { "Revoke invitation of " (i.email) }
                                }
                            } }
                        } } }
                    }
                }
                @let (typed, refused) = match &once.invite_refused {
                    Some((f, r)) => (f.clone(), Some(r)),
                    None => (MemberForm { role: "viewer".into(), ..MemberForm::default() }, None),
                };
                @let about = |f: &str| refused.is_some_and(|r| r.about(f));
                form method="post" action="/settings/members" {
                    (hidden(v))
                    @if let Some(r) = refused { (r.above(&["email", "role"])) }
                    label for="member-email" { "Email" }
                    input #member-email type="email" name="email" value=(typed.email) required
                        aria-invalid=[about("email").then_some("true")] aria-describedby=[about("email").then_some("member-email-error")];
                    @if let Some(r) = refused { (r.beside("email", "member-email-error")) }
                    label for="member-role" { "Role" }
                    select #member-role name="role" {
                        @for r in ["viewer", "member", "admin"] { option value=(r) selected[r == typed.role] { (r) } }
                        @if v.may(Role::Owner) { option value="owner" selected[typed.role == "owner"] { "owner" } }
                    }
                    button type="submit" { "Invite" }
                }
            }
        }
        @if admin {
            section aria-labelledby="secret" {
                h2 #secret { "Webhook secret" }
                p { "Budget webhooks are signed with it (header " code { "X-LLMLab-Signature" } "). Each reading is recorded in the audit log." }
                @if let Some(s) = &once.secret {
                    p { output #webhook-secret { (s) } " " button.copy type="button" data-copy="webhook-secret" { "Copy" } }
                } @else {
                    form method="post" action="/settings/webhook-secret" {
                        (hidden(v))
                        button type="submit" { "Show the webhook secret" }
                    }
                }
            }
            section aria-labelledby="audit" {
                h2 #audit { "Audit log" }
                table {
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Target" } } }
                    tbody { @for e in &audit { tr {
                        td { (e.at.format("%Y-%m-%d %H:%M:%S")) } td { (e.actor_label) } td { (e.action) } td { (e.target_kind) " " (e.target_id) }
                    } } }
                }
            }
        }
    };
    let status = once
        .key_refused
        .as_ref()
        .map(|r| r.1.status)
        .or(once.invite_refused.as_ref().map(|r| r.1.status))
        .unwrap_or(StatusCode::OK);
    Ok(respond(status, page("Settings", v, "/settings", body)))
}

fn keys_section(
    v: &Visitor,
    keys: &[KeyOut],
    new_key: Option<&(String, String)>,
    refused: Option<&(KeyForm, Refused)>,
) -> Markup {
    let typed = refused.map(|r| r.0.clone()).unwrap_or_default();
    let about = refused.is_some_and(|r| r.1.about("name"));
    html! {
        section aria-labelledby="keys" {
            h2 #keys { "API keys" }
            @if let Some((k, base)) = new_key {
                div.notice role="status" {
                    p { "Your new key. It is shown only now: store it in your service's secrets." }
                    p { output #new-key { (k) } " " button.copy type="button" data-copy="new-key" { "Copy" } }
                    (first_event(base, k))
                }
            }
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Scopes" } th scope="col" { "Last used" } th scope="col" { "" } } }
                tbody { @for k in keys { tr {
                    td { (k.name) } td { code { (k.prefix) "…" } }
                    td { (k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                    td { @match k.last_used_at { Some(t) => (t.format("%Y-%m-%d %H:%M")), None => "never" } }
                    td { form.inline method="post" action=(format!("/settings/keys/{}/revoke", k.id)) {
                        (hidden(v))
                        button.danger type="submit" { "Revoke " (k.name) }
                    } }
                } } }
            }
            form method="post" action="/settings/keys" {
                (hidden(v))
                @if let Some((_, r)) = refused { (r.above(&["name"])) }
                label for="key-name" { "Name" }
                input #key-name name="name" value=(typed.name) required maxlength="100"
                    aria-invalid=[about.then_some("true")] aria-describedby=[about.then_some("key-name-error")];
                @if let Some((_, r)) = refused { (r.beside("name", "key-name-error")) }
                label { input type="checkbox" name="read" value="on" checked[typed.read.is_some()]; " May also read the reports (scope read)" }
                button type="submit" { "Create key" }
            }
        }
    }
}

pub async fn create_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Submitted<MemberOnly, KeyForm>,
) -> Page {
    let (v, form) = form.into_parts();
    match make_key(&state, &v, &form).await {
        Ok(key) => {
            let base = server_url(&req, state.settings.public_url.as_deref());
            let once = Once {
                key: Some((key, base)),
                ..Once::default()
            };
            render(&state, &v, once).await
        }
        Err(e) => {
            let once = Once {
                key_refused: Some((form, Refused::of(e)?)),
                ..Once::default()
            };
            render(&state, &v, once).await
        }
    }
}

/// Creates the key `form` describes; its secret.
async fn make_key(
    state: &web::Data<AppState>,
    v: &Visitor,
    form: &KeyForm,
) -> Result<String, WebError> {
    let scopes = if form.read.is_some() {
        Scopes::of(&[
            crate::access::KeyScope::Ingest,
            crate::access::KeyScope::Read,
        ])
    } else {
        Scopes::DEFAULT
    };
    let limit = state.settings.limits.api_keys;
    let spec = keys::KeySpec::new(&form.name, scopes, Default::default())?;
    let (ws, identity) = (v.workspace(), v.identity.clone());
    let created = blocking(state, move |s| keys::create(s, ws, &identity, spec, limit)).await?;
    Ok(created.key)
}

pub async fn revoke_key(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: Submitted<MemberOnly>,
) -> Page {
    let (app, id) = (state.clone(), ApiKeyId(path.into_inner()));
    act_then_back(&state, form, "/settings", |ws, by| {
        blocking(&state, move |s| keys::remove(s, &app.keys, ws, &by, id))
    })
    .await
}

pub async fn invite(state: web::Data<AppState>, form: Submitted<AdminOnly, MemberForm>) -> Page {
    let (v, form) = form.into_parts();
    match send_invitation(&state, &v, &form).await {
        Ok(()) => Ok(done(&state, &v, "/settings")),
        Err(e) => {
            let once = Once {
                invite_refused: Some((form, Refused::of(e)?)),
                ..Once::default()
            };
            render(&state, &v, once).await
        }
    }
}

/// Invites the person `form` names.
async fn send_invitation(
    state: &web::Data<AppState>,
    v: &Visitor,
    form: &MemberForm,
) -> Result<(), WebError> {
    let role = Role::parse(form.role.trim())
        .ok_or_else(|| AppError::invalid("role", "one of viewer, member, admin, owner"))?;
    let (ws, user, actor, email) = (
        v.workspace(),
        v.user_id,
        v.identity.actor(),
        form.email.clone(),
    );
    let limits = invitations::Limits::of(&state.settings);
    blocking(state, move |s| {
        let who = Caller {
            user,
            actor: &actor,
        };
        let now = llmlab_app::now_utc();
        invitations::invite(s, &who, ws, (&email, role), limits, now)
    })
    .await?;
    Ok(())
}

pub async fn revoke_invitation(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: Submitted<AdminOnly>,
) -> Page {
    let v = form.visitor;
    let (ws, user, actor, id) = (
        v.workspace(),
        v.user_id,
        v.identity.actor(),
        InvitationId(path.into_inner()),
    );
    blocking(&state, move |s| {
        let who = Caller {
            user,
            actor: &actor,
        };
        invitations::revoke(s, &who, ws, id, llmlab_app::now_utc())
    })
    .await?;
    Ok(done(&state, &v, "/settings"))
}

pub async fn remove_member(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: Submitted<ViewerOnly>,
) -> Page {
    let v = form.visitor;
    let (ws, user, actor, gone) = (
        v.workspace(),
        v.user_id,
        v.identity.actor(),
        UserId(path.into_inner()),
    );
    blocking(&state, move |s| {
        members::remove_member(
            s,
            &Caller {
                user,
                actor: &actor,
            },
            ws,
            gone,
        )
    })
    .await?;
    Ok(if gone == v.user_id {
        // They left it: the overview shows one they are still in.
        super::pages::see_other("/overview")
    } else {
        done(&state, &v, "/settings")
    })
}

pub async fn webhook_secret(state: web::Data<AppState>, form: Submitted<AdminOnly>) -> Page {
    let v = form.visitor;
    let (ws, identity, app) = (v.workspace(), v.identity.clone(), state.clone());
    let secret = blocking(&state, move |s| {
        llmlab_app::budgets::webhook_secret(&app, s, ws, &identity)
    })
    .await?;
    render(
        &state,
        &v,
        Once {
            secret: Some(secret),
            ..Once::default()
        },
    )
    .await
}
