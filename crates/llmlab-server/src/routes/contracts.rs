//! Contracts: a workspace's negotiated discounts off catalog prices.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::Utc;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Reader};
use crate::body::JsonBody;
use crate::dto::{ContractIn, ContractList, ContractOut};
use crate::error::ApiError;
use llmlab_app::contracts as use_case;
use llmlab_app::{AppState, blocking};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list).service(create).service(end);
}

/// The workspace's contracts, ended ones included.
#[utoipa::path(tag = "contracts", responses((status = 200, body = ContractList)), security(("bearer" = [])))]
#[get("/contracts")]
async fn list(state: web::Data<AppState>, who: Reader) -> Result<HttpResponse, ApiError> {
    let found = blocking(&state, move |s| use_case::list(s, who.workspace())).await?;
    let contracts = found.into_iter().map(ContractOut::from).collect();
    Ok(HttpResponse::Ok().json(ContractList { contracts }))
}

/// Records a contract: `discount_pct` off the catalog's prices of `provider` (models
/// starting with `model_prefix`) from `effective_from` to `effective_to`. Events stored
/// from now on are priced under it; re-price to apply it to events already stored.
#[utoipa::path(tag = "contracts", request_body = ContractIn, responses(
    (status = 201, body = ContractOut), (status = 409, description = "The name is taken"), (status = 422)), security(("bearer" = [])))]
#[post("/contracts")]
async fn create(
    state: web::Data<AppState>,
    who: Admin,
    body: JsonBody<ContractIn>,
) -> Result<HttpResponse, ApiError> {
    let new = use_case::validate(&state.catalog, body.0.into())?;
    let made = blocking(&state, move |s| {
        use_case::create(s, who.workspace(), &who, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(ContractOut::from(made)))
}

/// Ends a contract from now on; the events it priced keep it.
#[utoipa::path(tag = "contracts", params(("contract_id" = i64, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/contracts/{contract_id}")]
async fn end(
    state: web::Data<AppState>,
    who: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("contract"))?;
    blocking(&state, move |s| {
        use_case::end(s, who.workspace(), &who, id, Utc::now())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
