//! The catalog and per-workspace custom prices.

use actix_web::{HttpResponse, delete, get, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Viewer};
use crate::body::JsonBody;
use crate::dto::{CatalogOut, CustomPriceList, CustomPriceOut, PriceFields};
use crate::error::ApiError;
use llmlab_app::AppState;
use llmlab_app::blocking;
use llmlab_app::pricing;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(catalog)
        .service(put_custom)
        .service(list_custom)
        .service(delete_custom);
}

/// The built-in catalog (plus any catalog file the server was started with).
#[utoipa::path(tag = "pricing", responses((status = 200, body = CatalogOut)))]
#[get("/pricing")]
async fn catalog(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(CatalogOut::from(state.catalog.as_ref()))
}

fn path_part(field: &str, s: &str) -> Result<String, ApiError> {
    Ok(pricing::price_key(field, s)?)
}

/// Sets this workspace's price for a model; its new events for it use it from then on.
#[utoipa::path(tag = "pricing", request_body = PriceFields, params(("provider" = String, Path), ("model" = String, Path)),
    responses((status = 200, body = CustomPriceOut), (status = 422)), security(("bearer" = [])))]
#[put("/pricing/custom/{provider}/{model:.*}")]
async fn put_custom(
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<(String, String)>,
    body: JsonBody<PriceFields>,
) -> Result<HttpResponse, ApiError> {
    let (provider, model) = path.into_inner();
    let (provider, model) = (
        path_part("provider", &provider)?,
        path_part("model", &model)?,
    );
    let new = body.0.into_revision(provider, model)?;
    let limit = state.settings.limits.custom_prices;
    let row = blocking(&state, move |s| {
        pricing::set_custom(s, who.workspace(), &who, &new, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(CustomPriceOut::from(row)))
}

/// This user's custom prices.
#[utoipa::path(tag = "pricing", responses((status = 200, body = CustomPriceList)), security(("bearer" = [])))]
#[get("/pricing/custom")]
async fn list_custom(state: web::Data<AppState>, who: Viewer) -> Result<HttpResponse, ApiError> {
    let rows = blocking(&state, move |s| {
        llmlab_app::pricing::custom_prices(s, who.workspace())
    })
    .await?;
    Ok(HttpResponse::Ok().json(CustomPriceList {
        prices: rows.into_iter().map(CustomPriceOut::from).collect(),
    }))
}

/// Removes a custom price; the catalog prices that model again.
#[utoipa::path(tag = "pricing", params(("provider" = String, Path), ("model" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/pricing/custom/{provider}/{model:.*}")]
async fn delete_custom(
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (provider, model) = path.into_inner();
    let (provider, model) = (
        provider.trim().to_ascii_lowercase(),
        model.trim().to_ascii_lowercase(),
    );
    blocking(&state, move |s| {
        pricing::remove_custom(s, who.workspace(), &who, &provider, &model)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
