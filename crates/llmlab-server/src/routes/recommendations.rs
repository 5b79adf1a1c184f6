//! Recommendations: query parameters in, the use cases of `app::recommendations`, and
//! their results as the API shows them.

use actix_web::{HttpResponse, get, web};
use chrono::Utc;
use llmlab_recs::{AnomalyConfig, Method};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::Reader;
use crate::dto::{
    AnomalyList, AnomalyOut, ModelSwitchList, ModelSwitchOut, OptimizationOut, Recommendations,
    RecsQuery, SwitchQuery, method_name,
};
use crate::error::ApiError;
use crate::query::{self, Query};
use llmlab_app::AppState;
use llmlab_app::blocking_read;
use llmlab_app::recommendations as use_case;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(all).service(anomalies).service(model_switching);
}

/// Everything at once, with the savings of all tips and switches counted once per model.
#[utoipa::path(tag = "recommendations", params(RecsQuery),
    responses((status = 200, body = Recommendations), (status = 422)), security(("bearer" = [])))]
#[get("/recommendations")]
async fn all(
    state: web::Data<AppState>,
    who: Reader,
    q: Query<RecsQuery>,
) -> Result<HttpResponse, ApiError> {
    let anomaly_config = anomaly_config(&q.0)?;
    let days = window_days(q.0.days.as_deref())?;
    let now = Utc::now();
    let catalog = state.catalog.clone();
    let found = blocking_read(&state, move |s| {
        use_case::report(s, &catalog, who.workspace(), &anomaly_config, days, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Recommendations {
        anomalies: found.anomalies.iter().map(AnomalyOut::from).collect(),
        model_switches: found.switches.iter().map(ModelSwitchOut::from).collect(),
        optimizations: found
            .optimizations
            .iter()
            .map(OptimizationOut::from)
            .collect(),
        total_potential_monthly_savings_usd: found.total_monthly_savings,
        window_days: days,
        generated_at: now,
    }))
}

/// Days whose spend is abnormally high against the days before them.
#[utoipa::path(tag = "recommendations", params(RecsQuery),
    responses((status = 200, body = AnomalyList), (status = 422)), security(("bearer" = [])))]
#[get("/recommendations/anomalies")]
async fn anomalies(
    state: web::Data<AppState>,
    who: Reader,
    q: Query<RecsQuery>,
) -> Result<HttpResponse, ApiError> {
    let config = anomaly_config(&q.0)?;
    let now = Utc::now();
    let found = blocking_read(&state, move |s| {
        use_case::anomalies_for(s, who.workspace(), &config, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AnomalyList {
        anomalies: found.iter().map(AnomalyOut::from).collect(),
        days: config.days,
        threshold: config.threshold,
        method: method_name(config.method),
    }))
}

/// Cheaper models for this workspace's own token mix.
#[utoipa::path(tag = "recommendations", params(SwitchQuery),
    responses((status = 200, body = ModelSwitchList), (status = 422)), security(("bearer" = [])))]
#[get("/recommendations/model-switching")]
async fn model_switching(
    state: web::Data<AppState>,
    who: Reader,
    q: Query<SwitchQuery>,
) -> Result<HttpResponse, ApiError> {
    let days = window_days(q.0.days.as_deref())?;
    let now = Utc::now();
    let catalog = state.catalog.clone();
    let switches = blocking_read(&state, move |s| {
        use_case::model_switches(s, &catalog, who.workspace(), days, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ModelSwitchList {
        recommendations: switches.iter().map(ModelSwitchOut::from).collect(),
        window_days: days,
    }))
}

fn window_days(days: Option<&str>) -> Result<u32, ApiError> {
    Ok(query::int("days", days, 30, 1, 365)? as u32)
}

fn anomaly_config(q: &RecsQuery) -> Result<AnomalyConfig, ApiError> {
    let defaults = AnomalyConfig::default();
    let method = match q.method.as_deref().unwrap_or("zscore") {
        "zscore" => Method::ZScore,
        "robust" => Method::Robust,
        _ => return Err(ApiError::validation("method", "must be zscore or robust")),
    };
    let mut config = AnomalyConfig::default();
    config.days = window_days(q.days.as_deref())?;
    config.threshold = query::float(
        "threshold",
        q.threshold.as_deref(),
        defaults.threshold,
        0.5,
        100.0,
    )?;
    config.method = method;
    // A threshold above the default severity bands moves them up with it.
    config.medium = config.medium.max(config.threshold);
    config.high = config.high.max(config.threshold);
    config.validate()?;
    Ok(config)
}
