//! Invitations: a workspace's pending ones (admins), and the signed-in person's own,
//! which they accept or decline. Inviting is `POST /api/workspaces/{id}/members`.

use actix_web::{HttpResponse, delete, get, post, web};
use llmlab_app::{InvitationId, WorkspaceId};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::Person;
use crate::dto::{InvitationList, InvitationOut, Joined, MyInvitationList, MyInvitationOut};
use crate::error::ApiError;
use crate::routes::path_id;
use crate::routes::workspaces::caller;
use llmlab_app::AppState;
use llmlab_app::blocking;
use llmlab_app::invitations as use_case;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(pending)
        .service(revoke)
        .service(mine)
        .service(accept)
        .service(decline);
}

/// The workspace's pending invitations (admins).
#[utoipa::path(tag = "workspaces", params(("id" = i64, Path)),
    responses((status = 200, body = InvitationList), (status = 404)), security(("bearer" = [])))]
#[get("/workspaces/{id}/invitations")]
async fn pending(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ws: WorkspaceId = path_id(&path)?;
    let rows = blocking(&state, move |s| {
        use_case::pending(s, &caller(&who), ws, llmlab_app::now_utc())
    })
    .await?;
    let invitations = rows.into_iter().map(InvitationOut::from).collect();
    Ok(HttpResponse::Ok().json(InvitationList { invitations }))
}

/// Withdraws a pending invitation (admins; owners for an invitation to be owner).
#[utoipa::path(tag = "workspaces", params(("id" = i64, Path), ("inv_id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/workspaces/{id}/invitations/{inv_id}")]
async fn revoke(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let ws: WorkspaceId = path_id(&path.0)?;
    let invitation: InvitationId = path_id(&path.1)?;
    blocking(&state, move |s| {
        use_case::revoke(s, &caller(&who), ws, invitation, llmlab_app::now_utc())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in person's pending invitations, newest first.
#[utoipa::path(tag = "workspaces",
    responses((status = 200, body = MyInvitationList)), security(("bearer" = [])))]
#[get("/invitations")]
async fn mine(state: web::Data<AppState>, who: Person) -> Result<HttpResponse, ApiError> {
    let rows = blocking(&state, move |s| {
        use_case::for_person(s, &who.email, llmlab_app::now_utc())
    })
    .await?;
    let invitations = rows.into_iter().map(MyInvitationOut::from).collect();
    Ok(HttpResponse::Ok().json(MyInvitationList { invitations }))
}

/// Accepts an invitation: the caller joins its workspace with its role.
#[utoipa::path(tag = "workspaces", params(("inv_id" = i64, Path)),
    responses((status = 200, body = Joined),
        (status = 404, description = "Not the caller's, expired, answered or revoked"),
        (status = 409, description = "Already a member"),
        (status = 422, description = "The workspace has the most members it may")),
    security(("bearer" = [])))]
#[post("/invitations/{inv_id}/accept")]
async fn accept(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let invitation: InvitationId = path_id(&path)?;
    let limit = state.settings.limits.members;
    let row = blocking(&state, move |s| {
        let now = llmlab_app::now_utc();
        use_case::accept(s, (&caller(&who), &who.email), invitation, limit, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Joined::from(row)))
}

/// Declines an invitation.
#[utoipa::path(tag = "workspaces", params(("inv_id" = i64, Path)),
    responses((status = 204), (status = 404, description = "Not the caller's, expired, answered or revoked")),
    security(("bearer" = [])))]
#[delete("/invitations/{inv_id}")]
async fn decline(
    state: web::Data<AppState>,
    who: Person,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let invitation: InvitationId = path_id(&path)?;
    blocking(&state, move |s| {
        let now = llmlab_app::now_utc();
        use_case::decline(s, (&caller(&who), &who.email), invitation, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
