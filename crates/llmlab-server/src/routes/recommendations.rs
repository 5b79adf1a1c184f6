//! Recommendations: the store's SQL aggregates fed to llmlab-recs.
//!
//! - Anomalies judge the last `days` UTC days *including today*: a partial day can only
//!   look lower than it will end, so a day already abnormal by noon is reported, and a
//!   quiet morning is never a false alarm.
//! - Switches and optimizations reprice the token mix of the last `days` days (default
//!   30), normalised to a 30-day month.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use llmlab_engine::Usd;
use llmlab_engine::providers::Catalog;
use llmlab_recs::{
    Anomaly, AnomalyConfig, DailyBreakdown, DailyCost, Dimension, Method, ModelMix,
    OptimizationConfig, SwitchConfig, TokenTotals, detect_anomalies, find_optimizations,
    long_context_thresholds, suggest_model_switches, total_potential_monthly_savings,
};
use llmlab_store::{DAY_MICROS, EventFilter, Store, StoreError, TokenMixRow};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::Reader;
use crate::dto::{
    AnomalyList, AnomalyOut, ModelSwitchList, ModelSwitchOut, OptimizationOut, Recommendations,
    RecsQuery, SwitchQuery, method_name,
};
use crate::error::ApiError;
use crate::query::QueryPairs;
use crate::routes::db;
use crate::state::AppState;

/// Tag keys whose values anomaly attribution looks at, at most.
const MAX_TAG_KEYS: u32 = 10;

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
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryPairs::parse(req.query_string())?;
    let anomaly_config = anomaly_config(&q)?;
    let days = window_days(&q)?;
    let now = Utc::now();
    let catalog = state.catalog.clone();
    let (found, mixes) = db(&state, move |s| -> Result<_, ApiError> {
        let found = anomalies_for(s, who.user_id, &anomaly_config, now)?;
        let mixes = model_mixes(s, &catalog, who.user_id, days, now)?;
        Ok((found, mixes))
    })
    .await?;
    let switches = suggest_model_switches(&state.catalog, &mixes, days, &SwitchConfig::default())?;
    let tips = find_optimizations(&state.catalog, &mixes, days, &OptimizationConfig::default())?;
    let total = total_potential_monthly_savings(&switches, &tips);
    Ok(HttpResponse::Ok().json(Recommendations {
        anomalies: found.iter().map(AnomalyOut::from).collect(),
        model_switches: switches.iter().map(ModelSwitchOut::from).collect(),
        optimizations: tips.iter().map(OptimizationOut::from).collect(),
        total_potential_monthly_savings_usd: total,
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
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryPairs::parse(req.query_string())?;
    let config = anomaly_config(&q)?;
    let now = Utc::now();
    let found = db(&state, move |s| anomalies_for(s, who.user_id, &config, now)).await?;
    Ok(HttpResponse::Ok().json(AnomalyList {
        anomalies: found.iter().map(AnomalyOut::from).collect(),
        days: config.days,
        threshold: config.threshold,
        method: method_name(config.method),
    }))
}

/// Cheaper models for this user's own token mix.
#[utoipa::path(tag = "recommendations", params(SwitchQuery),
    responses((status = 200, body = ModelSwitchList), (status = 422)), security(("bearer" = [])))]
#[get("/recommendations/model-switching")]
async fn model_switching(
    state: web::Data<AppState>,
    who: Reader,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryPairs::parse(req.query_string())?;
    let days = window_days(&q)?;
    let now = Utc::now();
    let catalog = state.catalog.clone();
    let mixes = db(&state, move |s| {
        model_mixes(s, &catalog, who.user_id, days, now)
    })
    .await?;
    let switches = suggest_model_switches(&state.catalog, &mixes, days, &SwitchConfig::default())?;
    Ok(HttpResponse::Ok().json(ModelSwitchList {
        recommendations: switches.iter().map(ModelSwitchOut::from).collect(),
        window_days: days,
    }))
}

fn window_days(q: &QueryPairs) -> Result<u32, ApiError> {
    Ok(q.int("days", 30, 1, 365)? as u32)
}

fn anomaly_config(q: &QueryPairs) -> Result<AnomalyConfig, ApiError> {
    let defaults = AnomalyConfig::default();
    let method = match q.get("method").unwrap_or("zscore") {
        "zscore" => Method::ZScore,
        "robust" => Method::Robust,
        _ => return Err(ApiError::validation("method", "must be zscore or robust")),
    };
    let config = AnomalyConfig {
        days: window_days(q)?,
        threshold: q.float("threshold", defaults.threshold, 0.5, 100.0)?,
        method,
        ..defaults
    };
    // A threshold above the default severity bands moves them up with it.
    let config = AnomalyConfig {
        medium: config.medium.max(config.threshold),
        high: config.high.max(config.threshold),
        ..config
    };
    config.validate()?;
    Ok(config)
}

fn utc_day(micros: i64) -> NaiveDate {
    DateTime::from_timestamp_micros(micros.div_euclid(DAY_MICROS) * DAY_MICROS)
        .unwrap_or_default()
        .date_naive()
}

/// `[first, last]` as a store filter over whole UTC days.
fn days_filter(first: NaiveDate, last: NaiveDate) -> EventFilter {
    let micros = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_micros()
    };
    EventFilter::between(micros(first), micros(last + Duration::days(1)))
}

/// The anomalies of the history `config` needs, ending with today (UTC). Attribution
/// needs a breakdown by model, provider and tag value; it is read only when some day is
/// anomalous, and only for the days those anomalies are judged against.
fn anomalies_for(
    store: &Store,
    user_id: i64,
    config: &AnomalyConfig,
    now: DateTime<Utc>,
) -> Result<Vec<Anomaly>, ApiError> {
    let today = now.date_naive();
    let first = today - Duration::days(i64::from(config.history_days()) - 1);
    // Gaps are zero-spend days; the series must start at the window's first day so a new
    // user's first day is not compared with nothing.
    let mut series = vec![DailyCost::new(first, Usd::ZERO)];
    series.extend(
        store
            .slots(user_id, &days_filter(first, today), 86_400)?
            .iter()
            .map(|r| DailyCost::new(utc_day(r.slot_start_micros), Usd::from_nanos(r.cost_nanos))),
    );
    series.push(DailyCost::new(today, Usd::ZERO));
    let found = detect_anomalies(&series, &[], config)?;
    let Some(earliest) = found.iter().map(|a| a.date).min() else {
        return Ok(found);
    };
    let from = (earliest - Duration::days(i64::from(config.baseline_days))).max(first);
    let breakdown = breakdown(store, user_id, &days_filter(from, today))?;
    Ok(detect_anomalies(&series, &breakdown, config)?)
}

/// Daily spend by model, provider and tag value.
fn breakdown(
    store: &Store,
    user_id: i64,
    filter: &EventFilter,
) -> Result<Vec<DailyBreakdown>, StoreError> {
    let mut breakdown = Vec::new();
    let mut per_provider: BTreeMap<(NaiveDate, String), Usd> = BTreeMap::new();
    for r in store.daily_by_model(user_id, filter)? {
        let (day, cost) = (utc_day(r.day_start_micros), Usd::from_nanos(r.cost_nanos));
        let slot = per_provider.entry((day, r.provider.clone())).or_default();
        *slot = slot.saturating_add(cost);
        breakdown.push(DailyBreakdown::new(
            day,
            Dimension::model(r.provider, r.model),
            cost,
        ));
    }
    breakdown.extend(
        per_provider
            .into_iter()
            .map(|((day, p), cost)| DailyBreakdown::new(day, Dimension::provider(p), cost)),
    );
    for key in store.tag_keys(user_id, filter, MAX_TAG_KEYS)? {
        for r in store.daily_by_tag(user_id, filter, &key)? {
            breakdown.push(DailyBreakdown::new(
                utc_day(r.day_start_micros),
                Dimension::tag(key.clone(), r.value),
                Usd::from_nanos(r.cost_nanos),
            ));
        }
    }
    Ok(breakdown)
}

fn token_totals(r: &TokenMixRow) -> TokenTotals {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    TokenTotals {
        calls: n(r.calls),
        input_tokens: n(r.input_tokens),
        cached_input_tokens: n(r.cached_input_tokens),
        cache_write_tokens: n(r.cache_write_tokens),
        output_tokens: n(r.output_tokens),
        reasoning_tokens: n(r.reasoning_tokens),
    }
}

/// Per model, the token mix of the last `days` days, with the sums of the prompts above
/// each long-context threshold some prompt crossed. Fine-tunes are left out: a switch
/// away from a fine-tune is not like for like.
fn model_mixes(
    store: &Store,
    catalog: &Catalog,
    user_id: i64,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Vec<ModelMix>, StoreError> {
    let end = now.timestamp_micros();
    let filter = EventFilter::between(end - i64::from(days) * DAY_MICROS, end);
    let mut mixes: BTreeMap<(String, String), ModelMix> = BTreeMap::new();
    for r in store.token_mix(user_id, &filter, None)? {
        if r.model.starts_with("ft:") {
            continue;
        }
        let mix = mixes
            .entry((r.provider.clone(), r.model.clone()))
            .or_insert_with(|| ModelMix::new(r.provider.clone(), r.model.clone()));
        if r.batch {
            mix.batch = token_totals(&r);
        } else {
            mix.standard = token_totals(&r);
        }
        mix.cost = mix.cost.saturating_add(Usd::from_nanos(r.cost_nanos));
        mix.max_input_tokens = mix
            .max_input_tokens
            .max(u64::try_from(r.max_input_tokens).unwrap_or(0));
    }
    let largest = mixes
        .values()
        .map(|m| m.max_input_tokens)
        .max()
        .unwrap_or(0);
    for threshold in long_context_thresholds(catalog) {
        if threshold >= largest {
            break;
        }
        let above = i64::try_from(threshold).unwrap_or(i64::MAX);
        for r in store.token_mix(user_id, &filter, Some(above))? {
            if let Some(mix) = mixes.get_mut(&(r.provider.clone(), r.model.clone())) {
                *mix = std::mem::take(mix).tracking_long_prompts(&[threshold]);
                if let Some(long) = mix
                    .long_prompts
                    .iter_mut()
                    .find(|l| l.threshold_tokens == threshold)
                {
                    if r.batch {
                        long.batch = token_totals(&r);
                    } else {
                        long.standard = token_totals(&r);
                    }
                }
            }
        }
    }
    Ok(mixes.into_values().collect())
}
