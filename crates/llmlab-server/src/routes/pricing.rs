//! The catalog and per-user custom prices.

use actix_web::{HttpResponse, delete, get, put, web};
use llmlab_engine::providers::{PerMTok, Rates};
use llmlab_store::CustomPriceRow;
use serde_json::Value;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Viewer};
use crate::app::blocking;
use crate::app::pricing;
use crate::body::JsonBody;
use crate::dto::{
    CatalogModel, CatalogOut, CatalogProvider, CustomPriceList, CustomPriceOut, PriceFields,
    PriceRates, TierOut,
};
use crate::error::ApiError;
use crate::state::AppState;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(catalog)
        .service(put_custom)
        .service(list_custom)
        .service(delete_custom);
}

/// A rate as a JSON number with its published digits.
fn rate_json(r: PerMTok) -> Value {
    r.to_string()
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The built-in catalog (plus any catalog file the server was started with).
#[utoipa::path(tag = "pricing", responses((status = 200, body = CatalogOut)))]
#[get("/pricing")]
async fn catalog(state: web::Data<AppState>) -> HttpResponse {
    let providers = state
        .catalog
        .providers()
        .iter()
        .map(|p| CatalogProvider {
            provider: p.id.clone(),
            models: p
                .models()
                .iter()
                .map(|m| {
                    let v = m.current_price();
                    CatalogModel {
                        model: m.name.clone(),
                        aliases: m.aliases.clone(),
                        snapshots: m.snapshots.clone(),
                        prices: price_fields(&v.rates, v.batch_discount_pct.map(i32::from)),
                        tiers: v
                            .long_context
                            .iter()
                            .map(|t| TierOut {
                                threshold_tokens: t.threshold_tokens,
                                input_per_mtok_usd: rate_json(t.rates.input),
                                output_per_mtok_usd: rate_json(t.rates.output),
                                cached_input_per_mtok_usd: t.rates.cached_input.map(rate_json),
                            })
                            .collect(),
                        service_tiers: v.tiers().iter().map(|t| t.to_string()).collect(),
                        flex: v.flex.as_ref().map(|r| price_fields(r, None)),
                        priority: v.priority.as_ref().map(|r| price_fields(r, None)),
                        effective_from: v.effective_from,
                        source: v.source.clone(),
                        checked: v.checked,
                        context_window: m.context_window,
                        tier: format!("{:?}", m.tier).to_lowercase(),
                        deprecated: m.deprecated,
                    }
                })
                .collect(),
        })
        .collect();
    HttpResponse::Ok().json(CatalogOut { providers })
}

fn custom_out(c: CustomPriceRow) -> CustomPriceOut {
    let r = crate::app::ingest::custom_rates(&c);
    let revision = c.revision();
    CustomPriceOut {
        prices: price_fields(&r, c.price.batch_discount_pct),
        provider: c.price.provider,
        model: c.price.model,
        updated_at: c.updated_at.and_utc(),
        revision,
        effective_from: c.price.effective_from,
    }
}

fn price_fields(r: &Rates, batch: Option<i32>) -> PriceRates {
    PriceRates {
        input_per_mtok_usd: rate_json(r.input),
        output_per_mtok_usd: rate_json(r.output),
        cached_input_per_mtok_usd: r.cached_input.map(rate_json),
        cache_write_per_mtok_usd: r.cache_write.map(rate_json),
        batch_discount_pct: batch.map(i64::from),
        cache_write_1h_per_mtok_usd: r.cache_write_1h.map(rate_json),
        input_audio_per_mtok_usd: r.input_audio.map(rate_json),
        output_audio_per_mtok_usd: r.output_audio.map(rate_json),
    }
}

fn path_part(field: &str, s: &str) -> Result<String, ApiError> {
    Ok(pricing::price_key(field, s)?)
}

/// Sets this user's price for a model; their new events for it use it from then on.
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
    Ok(HttpResponse::Ok().json(custom_out(row)))
}

/// This user's custom prices.
#[utoipa::path(tag = "pricing", responses((status = 200, body = CustomPriceList)), security(("bearer" = [])))]
#[get("/pricing/custom")]
async fn list_custom(state: web::Data<AppState>, who: Viewer) -> Result<HttpResponse, ApiError> {
    let rows = blocking(&state, move |s| s.list_custom_prices(who.workspace())).await?;
    Ok(HttpResponse::Ok().json(CustomPriceList {
        prices: rows.into_iter().map(custom_out).collect(),
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
