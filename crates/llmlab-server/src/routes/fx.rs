//! Exchange rates: what reports convert each day's spend with (`currency=`).

use actix_web::{HttpRequest, HttpResponse, get, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Reader};
use crate::body::ReportBody;
use crate::dto::{FxQuery, FxRateIo, FxRateList, FxRatesIn, FxStored};
use crate::error::ApiError;
use crate::query::Query;
use llmlab_app::fx::{self as use_case, Currency, RateIn};
use llmlab_app::{AppState, blocking};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(upload).service(list);
}

/// Stores dated exchange rates, as JSON `{rates: [{date, currency, units_per_usd}]}` or,
/// with `Content-Type: text/csv`, lines of `date,currency,units_per_usd`. A rate of a
/// currency and day already set is replaced.
#[utoipa::path(tag = "fx", request_body = FxRatesIn,
    responses((status = 200, body = FxStored), (status = 413), (status = 422)), security(("bearer" = [])))]
#[put("/fx-rates")]
async fn upload(
    state: web::Data<AppState>,
    who: Admin,
    req: HttpRequest,
    body: ReportBody,
) -> Result<HttpResponse, ApiError> {
    let csv = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/csv"));
    let rates: Vec<RateIn> = if csv {
        use_case::from_csv(&body.0)?
    } else {
        let parsed: FxRatesIn = serde_json::from_slice(&body.0)
            .map_err(|e| ApiError::validation("rates", format!("not a list of rates: {e}")))?;
        parsed.rates.into_iter().map(RateIn::from).collect()
    };
    let stored = blocking(&state, move |s| {
        use_case::put(s, who.workspace(), &who, &rates)
    })
    .await?;
    Ok(HttpResponse::Ok().json(FxStored { stored }))
}

/// The workspace's exchange rates, newest day first.
#[utoipa::path(tag = "fx", params(FxQuery), responses((status = 200, body = FxRateList), (status = 422)), security(("bearer" = [])))]
#[get("/fx-rates")]
async fn list(
    state: web::Data<AppState>,
    who: Reader,
    q: Query<FxQuery>,
) -> Result<HttpResponse, ApiError> {
    let currency = match q.0.currency.as_deref() {
        Some(c) => Some(Currency::parse("currency", c)?),
        None => None,
    };
    let found = blocking(&state, move |s| {
        use_case::list(s, who.workspace(), currency.as_ref())
    })
    .await?;
    let rates = found.into_iter().map(FxRateIo::from).collect();
    Ok(HttpResponse::Ok().json(FxRateList { rates }))
}
