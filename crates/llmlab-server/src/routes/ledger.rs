//! The price ledger: what needs a price, and re-pricing stored events.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use llmlab_engine::Usd;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Reader, Viewer};
use crate::body::JsonBody;
use crate::dto::{
    AuditActor, RangeQuery, RepriceModelOut, RepriceOut, RepriceRequest, RepriceRunList,
    RepriceRunOut, UnpricedList, UnpricedModelOut,
};
use crate::error::ApiError;
use llmlab_app::AppState;
use llmlab_app::blocking;
use llmlab_app::ledger::{self, RepriceScope, Repriced};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(unpriced).service(reprice).service(runs);
}

fn instant(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// Models with events stored without a price, most calls first: what needs a price.
#[utoipa::path(tag = "pricing", responses((status = 200, body = UnpricedList)), security(("bearer" = [])))]
#[get("/pricing/unpriced")]
async fn unpriced(state: web::Data<AppState>, who: Reader) -> Result<HttpResponse, ApiError> {
    let ws = who.workspace();
    let rows = blocking(&state, move |s| ledger::unpriced(s, ws)).await?;
    let models = rows
        .into_iter()
        .map(|m| UnpricedModelOut {
            provider: m.provider,
            model: m.model,
            calls: m.calls,
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            first_seen: instant(m.first_seen),
            last_seen: instant(m.last_seen),
        })
        .collect();
    Ok(HttpResponse::Ok().json(UnpricedList { models }))
}

/// Re-prices stored events with the prices in effect at each one's timestamp now
/// (catalog versions and custom revisions); client costs never change. A dry run (the
/// default) only reports; applied, every report follows and the run is recorded.
#[utoipa::path(tag = "pricing", request_body = RepriceRequest,
    responses((status = 200, body = RepriceOut), (status = 409, description = "The workspace's prices changed several times during the run; run it again"), (status = 422)), security(("bearer" = [])))]
#[post("/pricing/reprice")]
async fn reprice(
    state: web::Data<AppState>,
    who: Admin,
    body: JsonBody<RepriceRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let range = RangeQuery {
        start: b.start,
        end: b.end,
        provider: b.provider,
        model: b.model,
        tag: Vec::new(),
    }
    .resolve(Utc::now(), None)?;
    let scope = RepriceScope {
        start_micros: range.filter.start_micros,
        end_micros: range.filter.end_micros,
        provider: range.filter.provider,
        model: range.filter.model,
    };
    let dry_run = b.dry_run.unwrap_or(true);
    let ws = who.workspace();
    let app = state.clone();
    let (done, since) = blocking(&state, move |s| {
        let done = ledger::reprice(s, &app.catalog, ws, &who.actor(), &scope, dry_run)?;
        Ok::<_, llmlab_app::AppError>((done, llmlab_app::retention::retained_since(s)?))
    })
    .await?;
    if !done.dry_run && done.events_changed > 0 {
        llmlab_app::budgets::after_ingest(&state, ws);
    }
    Ok(HttpResponse::Ok().json(reprice_out(done, since)))
}

fn reprice_out(r: Repriced, retained_since: Option<chrono::DateTime<Utc>>) -> RepriceOut {
    let usd = Usd::from_nanos;
    RepriceOut {
        id: r.id,
        dry_run: r.dry_run,
        events_matched: r.events_matched,
        events_changed: r.events_changed,
        old_cost_usd: usd(r.old_cost_nanos),
        new_cost_usd: usd(r.new_cost_nanos),
        delta_usd: usd(r.new_cost_nanos - r.old_cost_nanos),
        price_changes_met: r.price_changes_met,
        by_model: r
            .by_model
            .into_iter()
            .map(|m| RepriceModelOut {
                provider: m.provider,
                model: m.model,
                events_changed: m.events_changed,
                old_cost_usd: usd(m.old_cost_nanos),
                new_cost_usd: usd(m.new_cost_nanos),
                delta_usd: usd(m.new_cost_nanos - m.old_cost_nanos),
            })
            .collect(),
        retained_since,
    }
}

/// Past re-pricing runs, newest first, with who ran them.
#[utoipa::path(tag = "pricing", responses((status = 200, body = RepriceRunList)), security(("bearer" = [])))]
#[get("/pricing/reprices")]
async fn runs(state: web::Data<AppState>, who: Viewer) -> Result<HttpResponse, ApiError> {
    let ws = who.workspace();
    let rows = blocking(&state, move |s| ledger::runs(s, ws)).await?;
    let usd = Usd::from_nanos;
    let runs = rows
        .into_iter()
        .map(|r| RepriceRunOut {
            id: r.id,
            status: r.status,
            actor: AuditActor {
                kind: "user".into(),
                id: r.actor_id,
                label: r.actor_label,
            },
            scope: serde_json::from_str(&r.params_json).unwrap_or_default(),
            events_matched: r.events_matched,
            events_changed: r.events_changed,
            old_cost_usd: usd(r.old_cost_nanos),
            new_cost_usd: usd(r.new_cost_nanos),
            delta_usd: usd(r.new_cost_nanos - r.old_cost_nanos),
            started_at: r.started_at.and_utc(),
            finished_at: r.finished_at.map(|t| t.and_utc()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(RepriceRunList { runs }))
}
