//! Event ingestion, listing and CSV export.

use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use llmlab_app::{EventCursor, EventFilter, EventRow, WorkspaceId};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Ingester, Reader};
use crate::body::JsonBody;
use crate::dto::{
    BatchItem, BatchRequest, BatchResponse, EventOut, EventPage, ExportQuery, PageQuery,
    RangeQuery, TrackEvent,
};
use crate::error::ApiError;
use crate::query::{self, Query};
use llmlab_app::AppState;
use llmlab_app::ingest::{self, ItemStatus};
use llmlab_app::input::csv_field;
use llmlab_app::ledger::PriceRef;
use llmlab_app::{AppError, blocking_read, retention};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(track)
        .service(batch)
        .service(list)
        .service(export);
}

/// A stored row as the API shows it.
pub fn event_out(r: EventRow) -> EventOut {
    let tags = r.tags();
    let price_ref = PriceRef::of(&r);
    let image = llmlab_app::tokens::image_from_store(r.image.as_deref());
    EventOut {
        id: r.id,
        provider: r.provider,
        model: r.model,
        resolved_model: r.resolved_model,
        input_tokens: r.tokens.input_tokens,
        output_tokens: r.tokens.output_tokens,
        cached_input_tokens: r.tokens.cached_input_tokens,
        cache_write_tokens: r.tokens.cache_write_tokens,
        cache_write_1h_tokens: r.tokens.cache_write_1h_tokens,
        input_audio_tokens: r.tokens.input_audio_tokens,
        reasoning_tokens: r.tokens.reasoning_tokens,
        output_audio_tokens: r.tokens.output_audio_tokens,
        batch: r.batch,
        service_tier: r.service_tier,
        cost_usd: llmlab_engine::Usd::from_nanos(r.cost_nanos),
        price_ref: price_ref.into(),
        cost_source: r.cost_source,
        price_effective_from: r.price_effective_from,
        timestamp: chrono::DateTime::from_timestamp_micros(r.ts).unwrap_or_default(),
        latency_ms: r.latency_ms,
        tags,
        event_id: r.event_id,
        warnings: Vec::new(),
        images: r.units.images,
        image_size: image.map(|(size, _)| size.to_string()),
        image_quality: image.map(|(_, quality)| quality.to_string()),
        audio_input_seconds: r.units.audio_input_seconds,
        output_characters: r.units.output_characters,
        web_search_calls: r.units.web_search_calls,
        code_sessions: r.units.code_sessions,
    }
}

/// Records one LLM call.
#[utoipa::path(tag = "events", request_body = TrackEvent, responses(
    (status = 201, description = "Stored", body = EventOut),
    (status = 200, description = "event_id already stored: the original event, nothing stored", body = EventOut),
    (status = 422, description = "Invalid event, unknown provider or model"),
    (status = 429, description = "Over the ingestion quota (LLMLAB_INGEST_EVENTS_PER_MINUTE)")), security(("bearer" = [])))]
#[post("/events/track")]
async fn track(
    state: web::Data<AppState>,
    who: Ingester,
    body: JsonBody<TrackEvent>,
) -> Result<HttpResponse, ApiError> {
    let tracked = ingest::track(&state, who.tenant(), body.0.into()).await?;
    let out = EventOut {
        warnings: tracked.warnings.into_iter().map(Into::into).collect(),
        ..event_out(tracked.row)
    };
    Ok(if tracked.duplicate {
        HttpResponse::Ok().json(out)
    } else {
        HttpResponse::Created().json(out)
    })
}

/// Records up to 1000 calls; valid items are stored even when others are rejected.
#[utoipa::path(tag = "events", request_body = BatchRequest, responses((status = 200, body = BatchResponse), (status = 422),
    (status = 429, description = "Over the ingestion quota (LLMLAB_INGEST_EVENTS_PER_MINUTE)")), security(("bearer" = [])))]
#[post("/events/batch")]
async fn batch(
    state: web::Data<AppState>,
    who: Ingester,
    body: JsonBody<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    // Each item is parsed on its own, so one bad item does not fail the others.
    let outcomes = ingest::store_events(&state, who.tenant(), body.0.events, |raw| {
        llmlab_app::input::parse_json::<TrackEvent>(raw.get().as_bytes()).map(Into::into)
    })
    .await?;
    let count = |status| outcomes.iter().filter(|o| o.status == status).count();
    let (accepted, duplicates, rejected) = (
        count(ItemStatus::Accepted),
        count(ItemStatus::Duplicate),
        count(ItemStatus::Rejected),
    );
    let results = outcomes
        .into_iter()
        .enumerate()
        .map(|(index, o)| BatchItem {
            index,
            status: o.status.into(),
            id: o.id,
            error: o.error.map(|e| error_json(&ApiError::from(e))),
            warnings: o.warning.into_iter().map(Into::into).collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(BatchResponse {
        accepted,
        duplicates,
        rejected,
        results,
    }))
}

fn error_json(e: &ApiError) -> serde_json::Value {
    let mut v = serde_json::json!({ "code": e.code, "message": e.message });
    if let (Some(d), Some(m)) = (&e.details, v.as_object_mut()) {
        m.insert("details".into(), d.clone());
    }
    v
}

/// Lists events, newest first, with keyset pagination.
#[utoipa::path(tag = "events", params(RangeQuery, PageQuery),
    responses((status = 200, body = EventPage), (status = 422)), security(("bearer" = [])))]
#[get("/events")]
async fn list(
    state: web::Data<AppState>,
    who: Reader,
    range: Query<RangeQuery>,
    page: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let range = range.0.resolve(Utc::now(), None)?;
    let limit = query::int("limit", page.0.limit.as_deref(), 50, 1, 1000)? as u32;
    let cursor = page
        .0
        .cursor
        .as_deref()
        .map(|c| {
            EventCursor::decode(c)
                .ok_or_else(|| ApiError::validation("cursor", "not a cursor returned by this API"))
        })
        .transpose()?;
    let (page, retained_since) = blocking_read(&state, move |s| {
        retention::event_page(s, who.workspace(), &range.filter, cursor, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(EventPage {
        events: page.events.into_iter().map(event_out).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
        retained_since,
    }))
}

const CSV_HEADER: &str = "id,timestamp,provider,model,resolved_model,input_tokens,output_tokens,cached_input_tokens,cache_write_tokens,reasoning_tokens,batch,cost_usd,cost_source,latency_ms,event_id,tags,cache_write_1h_tokens,input_audio_tokens,output_audio_tokens,service_tier,images,image,audio_input_seconds,output_characters,web_search_calls,code_sessions\n";

fn csv_row(r: &EventRow) -> String {
    let ts = chrono::DateTime::from_timestamp_micros(r.ts)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        r.id,
        ts,
        csv_field(&r.provider),
        csv_field(&r.model),
        csv_field(&r.resolved_model),
        r.tokens.input_tokens,
        r.tokens.output_tokens,
        r.tokens.cached_input_tokens,
        r.tokens.cache_write_tokens,
        r.tokens.reasoning_tokens,
        r.batch,
        llmlab_engine::Usd::from_nanos(r.cost_nanos),
        csv_field(&r.cost_source),
        r.latency_ms.map(|l| l.to_string()).unwrap_or_default(),
        csv_field(r.event_id.as_deref().unwrap_or("")),
        csv_field(&r.tags_json),
        r.tokens.cache_write_1h_tokens,
        r.tokens.input_audio_tokens,
        r.tokens.output_audio_tokens,
        csv_field(&r.service_tier),
        r.units.images,
        csv_field(r.image.as_deref().unwrap_or("")),
        r.units.audio_input_seconds,
        r.units.output_characters,
        r.units.web_search_calls,
        r.units.code_sessions,
    )
}

/// Streams the filtered events as CSV, page by page, without holding them in memory.
#[utoipa::path(tag = "events", params(ExportQuery, RangeQuery),
    responses((status = 200, description = "CSV with a header row", content_type = "text/csv", body = String), (status = 422)), security(("bearer" = [])))]
#[get("/events/export")]
async fn export(
    state: web::Data<AppState>,
    who: Reader,
    format: Query<ExportQuery>,
    range: Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    if format.0.format.as_deref().is_some_and(|f| f != "csv") {
        return Err(ApiError::validation("format", "only csv is supported"));
    }
    let range = range.0.resolve(Utc::now(), None)?;
    let currency = match format.0.currency.as_deref() {
        Some(c) => Some(llmlab_app::fx::Currency::parse("currency", c)?),
        None => None,
    };
    events_csv(state, who.workspace(), range.filter, currency).await
}

/// The rates an export in another currency converts with, loaded for its range: it needs
/// a `start`, and a rate on or before it, so no event of the range lacks one (a rate
/// missing half-way would cut the download short).
async fn export_rates(
    state: &web::Data<AppState>,
    workspace: WorkspaceId,
    filter: &EventFilter,
    currency: Option<llmlab_app::fx::Currency>,
) -> Result<Option<std::sync::Arc<llmlab_app::fx::Rates>>, ApiError> {
    let Some(currency) = currency else {
        return Ok(None);
    };
    let Some(first) = filter
        .start_micros
        .and_then(chrono::DateTime::from_timestamp_micros)
        .map(|t| t.date_naive())
    else {
        return Err(ApiError::validation(
            "start",
            "an export in another currency needs a start, with a rate on or before it",
        ));
    };
    let f = filter.clone();
    let rates = blocking_read(state, move |s| {
        let rates = llmlab_app::fx::Rates::for_range(s, workspace, currency.clone(), &f)?;
        rates.convert_quietly(llmlab_engine::Usd::ZERO, first)?;
        Ok::<_, AppError>(rates)
    })
    .await?;
    Ok(Some(std::sync::Arc::new(rates)))
}

/// The events of `workspace` in `filter` as a CSV download, streamed page by page (the
/// API's export and the dashboard's download).
pub(crate) async fn events_csv(
    state: web::Data<AppState>,
    workspace: WorkspaceId,
    filter: EventFilter,
    currency: Option<llmlab_app::fx::Currency>,
) -> Result<HttpResponse, ApiError> {
    let rates = export_rates(&state, workspace, &filter, currency).await?;
    let filter = std::sync::Arc::new(filter);
    // First page before the headers go out, so a database error is still a JSON error.
    let f = filter.clone();
    let (first, retained_since) = blocking_read(&state, move |s| {
        retention::event_page(s, workspace, &f, None, 1000)
    })
    .await?;
    let header = match &rates {
        None => CSV_HEADER.to_string(),
        Some(_) => format!("{},cost,currency\n", CSV_HEADER.trim_end()),
    };
    let start =
        futures_util::stream::once(async { Ok::<_, actix_web::Error>(Bytes::from(header)) });
    // A later page failing ends the stream with an error, which aborts the response (no
    // final chunk), so a client never mistakes a cut-off export for a complete one.
    let pages = futures_util::stream::unfold(Some(Ok::<_, AppError>(first)), move |next| {
        let state = state.clone();
        let filter = filter.clone();
        let rates = rates.clone();
        async move {
            let page: llmlab_app::EventPage = match next? {
                Ok(page) => page,
                Err(e) => {
                    log::error!("CSV export aborted: {e}");
                    return Some((Err(actix_web::Error::from(ApiError::from(e))), None));
                }
            };
            let mut chunk = String::with_capacity(page.events.len() * 160);
            for r in &page.events {
                let row = csv_row(r);
                let Some(rates) = &rates else {
                    chunk.push_str(&row);
                    continue;
                };
                let day = chrono::DateTime::from_timestamp_micros(r.ts)
                    .unwrap_or_default()
                    .date_naive();
                let cost = llmlab_engine::Usd::from_nanos(r.cost_nanos);
                match rates.convert_quietly(cost, day) {
                    Ok(a) => chunk.push_str(&format!(
                        "{},{},{}\n",
                        row.trim_end(),
                        a.decimal(),
                        rates.currency.as_str()
                    )),
                    Err(e) => return Some((Err(actix_web::Error::from(ApiError::from(e))), None)),
                }
            }
            let following = match page.next_cursor {
                Some(c) => Some(
                    blocking_read(&state, move |s| {
                        retention::next_page(s, workspace, &filter, c, 1000)
                    })
                    .await,
                ),
                None => None,
            };
            Some((Ok(Bytes::from(chunk)), following))
        }
    });
    use futures_util::StreamExt;
    Ok(super::csv_download("llmlab-events.csv", retained_since).streaming(start.chain(pages)))
}

#[cfg(test)]
mod tests {
    use llmlab_app::input::csv_field;

    #[test]
    fn csv_cells_never_start_a_formula() {
        for (raw, cell) in [
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@A1", "'@A1"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("a,b", "\"a,b\""),
            ("plain", "plain"),
        ] {
            assert_eq!(csv_field(raw), cell, "{raw:?}");
        }
    }
}
