//! Cost reports (SQL aggregates folded by the engine) and estimates.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use llmlab_app::{EventFilter, WorkspaceId};
use llmlab_engine::Usd;
use llmlab_engine::period::{Period, Zone};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Ingester, Reader};
use crate::body::JsonBody;
use crate::dto::{
    BreakdownOut, CostExportQuery, CurrencyQuery, Estimate, ForecastOut, ForecastQuery, FxRateUsed,
    KeySpendList, KeySpendRow, ModelList, ModelRow, ProviderList, ProviderRow, RangeQuery, Summary,
    SummaryQuery, TagKeyQuery, TagList, TopQuery, TrackEvent, with_shares,
};
use crate::error::ApiError;
use crate::query::{self, Query};
use llmlab_app::AppState;
use llmlab_app::fx::{Amount, Currency, Rates};
use llmlab_app::ingest;
use llmlab_app::reports;
use llmlab_app::tag_rankings;
use llmlab_app::{AppError, blocking_read};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(summary)
        .service(forecast)
        .service(export)
        .service(by_provider)
        .service(by_key)
        .service(top_models)
        .service(by_tag)
        .service(estimate);
}

/// Spend over a range, bucketed by hour, day, week or month in a time zone.
#[utoipa::path(tag = "costs", params(RangeQuery, SummaryQuery),
    responses((status = 200, body = Summary), (status = 422)), security(("bearer" = [])))]
#[get("/costs/summary")]
async fn summary(
    state: web::Data<AppState>,
    who: Reader,
    range: Query<RangeQuery>,
    opts: Query<SummaryQuery>,
) -> Result<HttpResponse, ApiError> {
    let ask = range
        .0
        .resolve(Utc::now(), Some(30))?
        .summary(opts.0.granularity.as_deref(), opts.0.tz.as_deref())?;
    let (start, end, granularity, zone) = (ask.start, ask.end, ask.granularity, ask.zone);
    let currency = currency_of(CurrencyQuery {
        currency: opts.0.currency.clone(),
    })?;
    let Some(currency) = currency else {
        let series = blocking_read(&state, move |s| {
            reports::summary_of(s, who.workspace(), &ask)
        })
        .await?;
        return Ok(HttpResponse::Ok().json(Summary::new(series, (start, end), granularity, zone)));
    };
    // The local days the range spans: the rates read are those in effect on them.
    let local = |t: chrono::DateTime<Utc>| t.with_timezone(&zone.tz()).date_naive();
    let days = (local(start), local(end));
    let (series, converted, rates) = blocking_read(&state, move |s| {
        let mut rates = Rates::load(s, who.workspace(), currency.clone(), days)?;
        let (series, converted) = reports::summary_in(s, who.workspace(), &ask, &mut rates)?;
        Ok::<_, AppError>((series, converted, rates))
    })
    .await?;
    let summary = Summary::new(series, (start, end), granularity, zone);
    Ok(HttpResponse::Ok().json(summary.converted(&converted, &rates)))
}

/// Spend per provider, costliest first.
#[utoipa::path(tag = "costs", params(RangeQuery, CurrencyQuery),
    responses((status = 200, body = ProviderList), (status = 422)), security(("bearer" = [])))]
#[get("/costs/by-provider")]
async fn by_provider(
    state: web::Data<AppState>,
    who: Reader,
    range: Query<RangeQuery>,
    currency: Query<CurrencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let range = range.0.resolve(Utc::now(), Some(30))?;
    let currency = currency_of(currency.0)?;
    let (rows, converted) = reports::breakdown_read(
        &state,
        who.workspace(),
        range.filter,
        currency,
        reports::by_provider,
        reports::by_model_in,
    )
    .await?;
    let mut providers = with_shares(&rows, |r| r.sums.cost_nanos, ProviderRow::new);
    if let Some((by_model, _)) = &converted {
        for p in &mut providers {
            let mine = by_model
                .iter()
                .filter(|((provider, _), _)| *provider == p.provider);
            p.cost = Some(mine.map(|(_, a)| *a).sum::<Amount>());
        }
    }
    let (currency, fx_rates_used) = FxRateUsed::named(converted.as_ref().map(|c| &c.1));
    Ok(HttpResponse::Ok().json(ProviderList {
        providers,
        currency,
        fx_rates_used,
    }))
}

/// `currency=` read, when given.
fn currency_of(q: CurrencyQuery) -> Result<Option<Currency>, ApiError> {
    Ok(match q.currency.as_deref() {
        Some(c) => Some(Currency::parse("currency", c)?),
        None => None,
    })
}

/// Spend per API key that sent it (events sent with a person's session as one row),
/// costliest first. Rollups do not keep the sender: this reads the range's events.
#[utoipa::path(tag = "costs", params(RangeQuery, CurrencyQuery),
    responses((status = 200, body = KeySpendList), (status = 422)), security(("bearer" = [])))]
#[get("/costs/by-key")]
async fn by_key(
    state: web::Data<AppState>,
    who: Reader,
    range: Query<RangeQuery>,
    currency: Query<CurrencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let range = range.0.resolve(Utc::now(), Some(30))?;
    let currency = currency_of(currency.0)?;
    let (rows, converted) = reports::breakdown_read(
        &state,
        who.workspace(),
        range.filter,
        currency,
        reports::by_sender,
        reports::by_sender_in,
    )
    .await?;
    let mut keys = with_shares(&rows, |r| r.sums.cost_nanos, KeySpendRow::new);
    if let Some((by_key, _)) = &converted {
        for k in &mut keys {
            k.cost = Some(by_key.get(&k.api_key_id).copied().unwrap_or_default());
        }
    }
    let (currency, fx_rates_used) = FxRateUsed::named(converted.as_ref().map(|c| &c.1));
    Ok(HttpResponse::Ok().json(KeySpendList {
        keys,
        currency,
        fx_rates_used,
    }))
}

/// The costliest models.
#[utoipa::path(tag = "costs", params(RangeQuery, TopQuery, CurrencyQuery),
    responses((status = 200, body = ModelList), (status = 422)), security(("bearer" = [])))]
#[get("/costs/top-models")]
async fn top_models(
    state: web::Data<AppState>,
    who: Reader,
    range: Query<RangeQuery>,
    top: Query<TopQuery>,
    currency: Query<CurrencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let range = range.0.resolve(Utc::now(), Some(30))?;
    let limit = query::int("limit", top.0.limit.as_deref(), 10, 1, 1000)? as u32;
    let currency = currency_of(currency.0)?;
    let (rows, converted) = reports::breakdown_read(
        &state,
        who.workspace(),
        range.filter,
        currency,
        move |s, ws, filter| reports::top_models(s, ws, filter, limit),
        reports::by_model_in,
    )
    .await?;
    let mut models: Vec<ModelRow> = rows.iter().map(ModelRow::from).collect();
    if let Some((by_model, _)) = &converted {
        for m in &mut models {
            let key = (m.provider.clone(), m.model.clone());
            m.cost = Some(by_model.get(&key).copied().unwrap_or_default());
        }
    }
    let (currency, fx_rates_used) = FxRateUsed::named(converted.as_ref().map(|c| &c.1));
    Ok(HttpResponse::Ok().json(ModelList {
        models,
        currency,
        fx_rates_used,
    }))
}

/// Spend per value of one tag key: the 1,000 costliest values, costliest first, and
/// the key's other values added up as `other`.
#[utoipa::path(tag = "costs", params(TagKeyQuery, RangeQuery, CurrencyQuery),
    responses((status = 200, body = TagList), (status = 422)), security(("bearer" = [])))]
#[get("/costs/by-tag")]
async fn by_tag(
    state: web::Data<AppState>,
    who: Reader,
    key: Query<TagKeyQuery>,
    range: Query<RangeQuery>,
    currency: Query<CurrencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let currency = currency_of(currency.0)?;
    let key = key
        .0
        .key
        .ok_or_else(|| ApiError::validation("key", "the tag key to group by is required"))?
        .to_string();
    let range = range.0.resolve(Utc::now(), Some(30))?;
    let (k, k_in, ws) = (key.clone(), key.clone(), who.workspace());
    let (rows, converted) = reports::breakdown_read(
        &state,
        ws,
        range.filter,
        currency,
        move |s, ws, filter| reports::by_tag(s, ws, filter, &k),
        move |s, ws, filter, rates| reports::by_tag_in(s, ws, filter, &k_in, rates),
    )
    .await?;
    tag_rankings::refresh(&state, ws, &key, &rows);
    let list = TagList::new(key, &rows);
    Ok(HttpResponse::Ok().json(match converted {
        Some((by_value, rates)) => list.converted(&by_value, &rates),
        None => list,
    }))
}

/// Prices an event without storing it.
#[utoipa::path(tag = "costs", request_body = TrackEvent, responses((status = 200, body = Estimate), (status = 422)), security(("bearer" = [])))]
#[post("/costs/estimate")]
async fn estimate(
    state: web::Data<AppState>,
    who: Ingester,
    body: JsonBody<TrackEvent>,
) -> Result<HttpResponse, ApiError> {
    let priced = ingest::estimate(&state, who.tenant(), body.0.into()).await?;
    let b = priced.cost.breakdown;
    Ok(HttpResponse::Ok().json(Estimate {
        cost_usd: priced.cost.total,
        resolved_model: priced.event.resolved_model,
        cost_source: priced.event.cost_source,
        breakdown: BreakdownOut {
            input_usd: b.input,
            cached_input_usd: b.cached_input,
            cache_write_usd: b.cache_write,
            output_usd: b.output,
            cache_write_1h_usd: b.cache_write_1h,
            input_audio_usd: b.input_audio,
            output_audio_usd: b.output_audio,
            images_usd: b.images,
            transcription_usd: b.transcription,
            speech_usd: b.speech,
            web_search_usd: b.web_search,
            code_sessions_usd: b.code_sessions,
        },
    }))
}

/// A store count (never negative) as the API shows it.
/// The current period's spend and its forecast from the workspace's daily history.
#[utoipa::path(tag = "costs", params(ForecastQuery),
    responses((status = 200, body = ForecastOut), (status = 422)), security(("bearer" = [])))]
#[get("/costs/forecast")]
async fn forecast(
    state: web::Data<AppState>,
    who: Reader,
    q: Query<ForecastQuery>,
) -> Result<HttpResponse, ApiError> {
    let period = Period::parse(q.0.period.as_deref().unwrap_or("monthly"))?;
    if period == Period::Total {
        return Err(ApiError::validation(
            "period",
            "a total has no end to forecast: daily, weekly or monthly",
        ));
    }
    let zone = Zone::parse(q.0.tz.as_deref().unwrap_or("UTC"))?;
    let currency = currency_of(CurrencyQuery {
        currency: q.0.currency.clone(),
    })?;
    let now = Utc::now();
    let (found, converted) = blocking_read(&state, move |s| {
        let everything = EventFilter::default();
        let found = reports::forecast(s, who.workspace(), &everything, (period, zone), None, now)?;
        let (Some(currency), Some(f), Some(start)) =
            (currency.clone(), &found.forecast, found.window.start)
        else {
            return Ok::<_, AppError>((found, None));
        };
        let today = now.with_timezone(&zone.tz()).date_naive();
        let first = start.with_timezone(&zone.tz()).date_naive();
        let mut rates = Rates::load(s, who.workspace(), currency, (first, today))?;
        let spent = llmlab_app::fx::spent_in(s, who.workspace(), &mut rates, (start, now), zone)?;
        let mut at =
            |usd: Usd| llmlab_app::fx::forecast_in(&mut rates, spent, (found.spent, usd), today);
        let figures = [
            Some(at(f.expected)?),
            f.low.map(&mut at).transpose()?,
            f.high.map(&mut at).transpose()?,
        ];
        Ok((found, Some((spent, figures, rates))))
    })
    .await?;
    let (Some(f), Some(start), Some(end)) = (found.forecast, found.window.start, found.window.end)
    else {
        return Err(ApiError::internal("a bounded period without a forecast"));
    };
    let mut out = ForecastOut {
        period_start: start,
        period_end: end,
        spent_usd: found.spent,
        forecast_usd: f.expected,
        forecast_low_usd: f.low,
        forecast_high_usd: f.high,
        forecast_method: f.method,
        currency: None,
        spent: None,
        forecast: None,
        forecast_low: None,
        forecast_high: None,
        fx_rates_used: None,
    };
    if let Some((spent, [expected, low, high], rates)) = converted {
        (out.currency, out.fx_rates_used) = FxRateUsed::named(Some(&rates));
        out.spent = Some(spent);
        out.forecast = expected;
        out.forecast_low = low;
        out.forecast_high = high;
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Spend as FinOps FOCUS 1.2 CSV: one row per UTC day × provider × model × token
/// class, whose `BilledCost` adds up to the summary's total for the same range.
#[utoipa::path(tag = "costs", params(CostExportQuery, RangeQuery),
    responses((status = 200, description = "FOCUS CSV with a header row", content_type = "text/csv", body = String),
    (status = 422)), security(("bearer" = [])))]
#[get("/costs/export")]
async fn export(
    state: web::Data<AppState>,
    who: Reader,
    format: Query<CostExportQuery>,
    range: Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    if format.0.format.as_deref() != Some("focus") {
        return Err(ApiError::validation("format", "must be focus"));
    }
    let range = range.0.resolve(Utc::now(), Some(30))?;
    let currency = currency_of(CurrencyQuery {
        currency: format.0.currency.clone(),
    })?;
    focus_csv(state, who.workspace(), range.filter, currency).await
}

/// The FOCUS rows of `workspace`'s events in `filter` as a CSV download (the API's
/// export and the dashboard's download).
pub(crate) async fn focus_csv(
    state: web::Data<AppState>,
    workspace: WorkspaceId,
    filter: EventFilter,
    currency: Option<Currency>,
) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.clone();
    let (csv, retained_since) = blocking_read(&state, move |s| {
        let rates = match currency.clone() {
            Some(c) => Some(Rates::for_range(s, workspace, c, &filter)?),
            None => None,
        };
        let csv = llmlab_app::focus::export(s, &catalog, workspace, &filter, rates.as_ref())?;
        Ok::<_, AppError>((csv, llmlab_app::retention::retained_since(s)?))
    })
    .await?;
    Ok(super::csv_download("llmlab-focus.csv", retained_since).body(csv))
}
