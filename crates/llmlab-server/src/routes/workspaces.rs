//! Workspaces, their members, and the audit log.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use llmlab_app::{UserId, WorkspaceId};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Person};
use crate::body::JsonBody;
use crate::dto::{
    AuditEntryOut, AuditPage, AuditQuery, InvitationOut, InvitationSent, MemberList, MemberOut,
    NewMemberIn, RoleIn, WorkspaceIn, WorkspaceList, WorkspaceOut,
};
use crate::error::ApiError;
use crate::query::{self, Query};
use crate::routes::path_id;
use llmlab_app::AppState;
use llmlab_app::blocking;
use llmlab_app::invitations;
use llmlab_app::workspaces::{self as use_case, Caller};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(rename)
        .service(remove)
        .service(members)
        .service(add_member)
        .service(set_role)
        .service(remove_member)
        .service(audit);
}

/// The caller's workspaces with their role in each.
#[utoipa::path(tag = "workspaces", responses((status = 200, body = WorkspaceList)), security(("bearer" = [])))]
#[get("/workspaces")]
async fn list(state: web::Data<AppState>, who: Person) -> Result<HttpResponse, ApiError> {
    let rows = blocking(&state, move |s| use_case::list(s, who.user_id)).await?;
    let workspaces = rows.into_iter().map(WorkspaceOut::from).collect();
    Ok(HttpResponse::Ok().json(WorkspaceList { workspaces }))
}

/// Creates a workspace; the caller is its owner.
#[utoipa::path(tag = "workspaces", request_body = WorkspaceIn,
    responses((status = 201, body = WorkspaceOut), (status = 422)), security(("bearer" = [])))]
#[post("/workspaces")]
async fn create(
    state: web::Data<AppState>,
    who: Person,
    body: JsonBody<WorkspaceIn>,
) -> Result<HttpResponse, ApiError> {
    let limit = state.settings.limits.workspaces;
    let row = blocking(&state, move |s| {
        let (tz, currency) = (
            body.0.timezone.as_deref(),
            body.0.display_currency.as_deref(),
        );
        use_case::create(s, &caller(&who), (&body.0.name, tz, currency), limit)
    })
    .await?;
    Ok(HttpResponse::Created().json(WorkspaceOut::from(row)))
}

pub(crate) fn caller(who: &Person) -> Caller<'_> {
    Caller {
        user: who.user_id,
        actor: &who.actor,
    }
}

/// Renames a workspace (owners).
#[utoipa::path(tag = "workspaces", params(("id" = i64, Path)), request_body = WorkspaceIn,
    responses((status = 200, body = WorkspaceOut), (status = 404), (status = 422)), security(("bearer" = [])))]
#[patch("/workspaces/{id}")]
async fn rename(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<String>,
    body: JsonBody<WorkspaceIn>,
) -> Result<HttpResponse, ApiError> {
    let ws: WorkspaceId = path_id(&path)?;
    let row = blocking(&state, move |s| {
        use_case::rename(
            s,
            &caller(&who),
            ws,
            (
                &body.0.name,
                body.0.timezone.as_deref(),
                body.0.display_currency.as_deref(),
            ),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(WorkspaceOut::from(row)))
}

/// Deletes a workspace and all its data (owners; a personal workspace cannot be deleted).
#[utoipa::path(tag = "workspaces", params(("id" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
#[delete("/workspaces/{id}")]
async fn remove(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ws: WorkspaceId = path_id(&path)?;
    let app = state.clone();
    blocking(&state, move |s| {
        use_case::delete(s, &app.keys, &caller(&who), ws)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The members of a workspace (any member).
#[utoipa::path(tag = "workspaces", params(("id" = i64, Path)),
    responses((status = 200, body = MemberList), (status = 404)), security(("bearer" = [])))]
#[get("/workspaces/{id}/members")]
async fn members(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ws: WorkspaceId = path_id(&path)?;
    let rows = blocking(&state, move |s| use_case::members(s, who.user_id, ws)).await?;
    let members = rows.into_iter().map(MemberOut::from).collect();
    Ok(HttpResponse::Ok().json(MemberList { members }))
}

/// Invites a person to the workspace (admins invite roles below owner; owners owners
/// too). The answer is the same whether or not anyone has signed up with the email; they
/// join when they accept. Re-inviting an email replaces its pending invitation.
#[utoipa::path(tag = "workspaces", params(("id" = i64, Path)), request_body = NewMemberIn,
    responses((status = 202, body = InvitationSent), (status = 404),
        (status = 409, description = "The email is a member's"), (status = 422),
        (status = 429, description = "The workspace sent its hourly invitations, or holds the most pending ones; see Retry-After")),
    security(("bearer" = [])))]
#[post("/workspaces/{id}/members")]
async fn add_member(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<String>,
    body: JsonBody<NewMemberIn>,
) -> Result<HttpResponse, ApiError> {
    let ws: WorkspaceId = path_id(&path)?;
    let limits = invitations::Limits::of(&state.settings);
    let NewMemberIn { email, role } = body.0;
    let row = blocking(&state, move |s| {
        let now = llmlab_app::now_utc();
        invitations::invite(s, &caller(&who), ws, (&email, role.into()), limits, now)
    })
    .await?;
    let invitation = InvitationOut::from(row);
    Ok(HttpResponse::Accepted().json(InvitationSent { invitation }))
}

/// Changes a member's role; the last owner keeps theirs (409 `last_owner`).
#[utoipa::path(tag = "workspaces", params(("id" = i64, Path), ("user_id" = i64, Path)), request_body = RoleIn,
    responses((status = 200, body = MemberOut), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
#[patch("/workspaces/{id}/members/{user_id}")]
async fn set_role(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<(String, String)>,
    body: JsonBody<RoleIn>,
) -> Result<HttpResponse, ApiError> {
    let ws: WorkspaceId = path_id(&path.0)?;
    let user: UserId = path_id(&path.1)?;
    let role = body.0.role.into();
    let row = blocking(&state, move |s| {
        use_case::set_role(s, &caller(&who), ws, user, role)
    })
    .await?;
    Ok(HttpResponse::Ok().json(MemberOut::from(row)))
}

/// Removes a member (anyone may leave; the last owner stays: 409 `last_owner`).
#[utoipa::path(tag = "workspaces", params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
#[delete("/workspaces/{id}/members/{user_id}")]
async fn remove_member(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let ws: WorkspaceId = path_id(&path.0)?;
    let user: UserId = path_id(&path.1)?;
    blocking(&state, move |s| {
        use_case::remove_member(s, &caller(&who), ws, user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The workspace's audit log, newest first (admins).
#[utoipa::path(tag = "workspaces", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 422)), security(("bearer" = [])))]
#[get("/audit")]
async fn audit(
    state: web::Data<AppState>,
    who: Admin,
    q: Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query::int("limit", q.0.limit.as_deref(), 100, 1, 500)? as u32;
    let before = q
        .0
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::validation("cursor", "not a cursor returned by this API"))
        })
        .transpose()?;
    let action = q.0.action;
    if let Some(a) = &action {
        llmlab_app::input::check_text("action", a)?;
    }
    let ws = who.workspace();
    let rows = blocking(&state, move |s| {
        use_case::audit_log(s, ws, limit + 1, before, action.as_deref())
    })
    .await?;
    let more = rows.len() > limit as usize;
    let entries: Vec<AuditEntryOut> = rows
        .into_iter()
        .take(limit as usize)
        .map(AuditEntryOut::from)
        .collect();
    let next_cursor = more
        .then(|| entries.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditPage {
        entries,
        next_cursor,
    }))
}
