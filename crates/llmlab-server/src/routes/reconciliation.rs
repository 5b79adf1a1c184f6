//! Reconciliation: a provider's cost report imported, and what it billed against what
//! LLMLab tracked.

use actix_web::{HttpResponse, get, post, web};
use chrono::{Duration, Utc};
use llmlab_engine::Discount;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Reader};
use crate::body::ReportBody;
use crate::dto::{ImportOut, ImportQuery, ReconciliationOut, ReconciliationQuery};
use crate::error::ApiError;
use crate::query::Query;
use llmlab_app::reconciliation::{self as use_case, Format};
use llmlab_app::{AppState, blocking, input};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(import).service(reconcile);
}

/// Imports a provider's cost report, the file as the body: OpenAI's organization costs
/// JSON, Anthropic's cost report JSON or a FOCUS 1.2 CSV. The same content again answers
/// 200 with the first import; a newer import of a day and provider replaces what an
/// earlier one said of it.
#[utoipa::path(tag = "reconciliation", params(ImportQuery), request_body(content = String, description = "The provider's file", content_type = "application/octet-stream"),
    responses((status = 201, body = ImportOut), (status = 200, body = ImportOut, description = "Imported before"), (status = 413), (status = 422)), security(("bearer" = [])))]
#[post("/reconciliation/imports")]
async fn import(
    state: web::Data<AppState>,
    who: Admin,
    q: Query<ImportQuery>,
    body: ReportBody,
) -> Result<HttpResponse, ApiError> {
    let format = Format::parse(q.0.format.as_deref().unwrap_or_default())?;
    let catalog = state.catalog.clone();
    let done = blocking(&state, move |s| {
        use_case::import(s, &catalog, who.workspace(), &who, format, &body.0)
    })
    .await?;
    let created = done.created;
    let out = ImportOut::from(done);
    Ok(if created {
        HttpResponse::Created().json(out)
    } else {
        HttpResponse::Ok().json(out)
    })
}

/// Billed against tracked per UTC day and provider, over the days the imported bills
/// cover: the drift in dollars and percent, the days beyond `threshold_pct`, and the
/// discount that would make the two agree.
#[utoipa::path(tag = "reconciliation", params(ReconciliationQuery), responses((status = 200, body = ReconciliationOut), (status = 422)), security(("bearer" = [])))]
#[get("/reconciliation")]
async fn reconcile(
    state: web::Data<AppState>,
    who: Reader,
    q: Query<ReconciliationQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let end = match q.end.as_deref() {
        Some(d) => input::parse_day(d)
            .map_err(|_| ApiError::validation("end", "a date such as 2026-01-31"))?,
        None => Utc::now().date_naive(),
    };
    let start = match q.start.as_deref() {
        Some(d) => input::parse_day(d)
            .map_err(|_| ApiError::validation("start", "a date such as 2026-01-01"))?,
        None => end - Duration::days(29),
    };
    let threshold = match q.threshold_pct.as_deref() {
        Some(t) => Discount::parse(t).map_err(|_| {
            ApiError::validation(
                "threshold_pct",
                "a percentage from 0 to 100, two decimals at most",
            )
        })?,
        None => Discount::from_basis_points(500).unwrap_or_default(),
    };
    let provider = q
        .provider
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty());
    let by_model = match q.by.as_deref() {
        None | Some("provider") => false,
        Some("model") => true,
        Some(_) => return Err(ApiError::validation("by", "provider or model")),
    };
    let found = blocking(&state, move |s| {
        use_case::reconcile(
            s,
            who.workspace(),
            (start, end),
            (provider.as_deref(), by_model),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReconciliationOut::new(found, threshold)))
}
