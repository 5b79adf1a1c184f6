//! Commitments: amounts prepaid or committed to a provider over a period, with what is
//! consumed, what remains and where the forecast takes them.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::Utc;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Reader};
use crate::body::JsonBody;
use crate::dto::{CommitmentIn, CommitmentList, CommitmentOut};
use crate::error::ApiError;
use llmlab_app::commitments as use_case;
use llmlab_app::{AppState, blocking};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list).service(create).service(remove);
}

/// The workspace's commitments with where each stands.
#[utoipa::path(tag = "commitments", responses((status = 200, body = CommitmentList)), security(("bearer" = [])))]
#[get("/commitments")]
async fn list(state: web::Data<AppState>, who: Reader) -> Result<HttpResponse, ApiError> {
    let found = blocking(&state, move |s| {
        use_case::list(s, who.workspace(), Utc::now())
    })
    .await?;
    let commitments = found.into_iter().map(CommitmentOut::from).collect();
    Ok(HttpResponse::Ok().json(CommitmentList { commitments }))
}

/// Records a commitment: an amount prepaid or committed to a provider (or to all) from
/// `start` to `end`.
#[utoipa::path(tag = "commitments", request_body = CommitmentIn, responses(
    (status = 201, body = CommitmentOut), (status = 409, description = "The name is taken"), (status = 422)), security(("bearer" = [])))]
#[post("/commitments")]
async fn create(
    state: web::Data<AppState>,
    who: Admin,
    body: JsonBody<CommitmentIn>,
) -> Result<HttpResponse, ApiError> {
    let new = use_case::validate(&state.catalog, body.0.into())?;
    let made = blocking(&state, move |s| {
        use_case::create(s, who.workspace(), &who, new, Utc::now())
    })
    .await?;
    Ok(HttpResponse::Created().json(CommitmentOut::from(made)))
}

/// Deletes a commitment.
#[utoipa::path(tag = "commitments", params(("commitment_id" = i64, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/commitments/{commitment_id}")]
async fn remove(
    state: web::Data<AppState>,
    who: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("commitment"))?;
    blocking(&state, move |s| {
        use_case::remove(s, who.workspace(), &who, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
