//! From a request body to a priced event ready to store: validation, model resolution,
//! pricing (client cost → the workspace's custom price → the catalog).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use llmlab_engine::providers::{Catalog, PerMTok, Rates, UnitPrice, UnitRates};
use llmlab_engine::{Cost, Usage, Usd};
use llmlab_store::{ApiKeyId, CustomPriceRow, NewEvent, StoreError, WorkspaceId};

use llmlab_store::EventRow;

use crate::ledger::{
    Call, PriceRef, PricedCall, UnknownModels, Warning, WorkspacePrices, price_call,
};
use crate::{App, AppError, blocking};

mod event;

pub use event::EventIn;

/// Tags per event, and the length of keys, values and ids: generous for real use,
/// small enough that a hostile client cannot bloat the ledger.
const MAX_TAGS: usize = 32;
const MAX_TAG_LEN: usize = 256;
const MAX_ID_LEN: usize = 256;

/// An event validated and priced.
pub struct Priced {
    /// Row to insert.
    pub event: NewEvent,
    /// Cost breakdown (for estimates).
    pub cost: Cost,
    /// Set when the model has no price yet.
    pub warning: Option<Warning>,
}

/// Largest cost of one event, given by the client or computed (a custom price can be
/// anything): $1,000,000. With [`MAX_TOKENS`] it bounds what one event adds to any sum.
///
/// [`MAX_TOKENS`]: llmlab_engine::MAX_TOKENS
pub const MAX_EVENT_COST: Usd = Usd::from_nanos(1_000_000 * llmlab_engine::NANOS_PER_USD);

fn check_len(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    crate::input::check_text(field, value)?;
    if value.len() > max {
        return Err(AppError::invalid(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    Ok(())
}

/// Parses `timestamp` (RFC 3339, any offset) into UTC truncated to microseconds.
fn parse_timestamp(ts: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    let t = match ts {
        None => now,
        Some(s) => crate::input::in_supported_years(
            "timestamp",
            DateTime::parse_from_rfc3339(s.trim())
                .map_err(|_| {
                    AppError::invalid(
                        "timestamp",
                        "must be an RFC 3339 timestamp such as 2026-11-20T10:00:00Z",
                    )
                })?
                .with_timezone(&Utc),
        )?,
    };
    let micros = t.timestamp_micros();
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| AppError::invalid("timestamp", "out of range"))
}

/// Validates and prices one event for `now` (see [`price_call`]).
pub fn prepare(
    catalog: &Catalog,
    custom: &WorkspacePrices,
    unknown: UnknownModels,
    body: EventIn,
    now: DateTime<Utc>,
) -> Result<Priced, AppError> {
    let provider = body.provider.trim().to_ascii_lowercase();
    if provider.is_empty() {
        return Err(AppError::invalid("provider", "must not be empty"));
    }
    let model_sent = body.model.trim().to_string();
    crate::input::check_text("provider", &provider)?;
    crate::input::check_text("model", &model_sent)?;
    if model_sent.is_empty() {
        return Err(AppError::invalid("model", "must not be empty"));
    }
    check_len("provider", &provider, 64)?;
    check_len("model", &model_sent, MAX_ID_LEN)?;
    let usage = Usage::parse(crate::usage_formats::fields(&body)?)?;
    let ts = parse_timestamp(body.timestamp.as_deref(), now)?;
    if let Some(l) = body.latency_ms
        && !(0..=86_400_000).contains(&l)
    {
        return Err(AppError::invalid(
            "latency_ms",
            "must be between 0 and 86400000",
        ));
    }
    let tags = body.tags.unwrap_or_default();
    validate_tags(&tags)?;
    if let Some(id) = &body.event_id {
        if id.is_empty() {
            return Err(AppError::invalid("event_id", "must not be empty"));
        }
        check_len("event_id", id, MAX_ID_LEN)?;
    }
    if let Some(id) = &body.reservation_id {
        check_len("reservation_id", id, MAX_ID_LEN)?;
    }
    let model_key = model_sent.to_ascii_lowercase();

    // Resolve against the catalog first: the resolved name is what custom prices,
    // reports and recommendations key on.
    let resolved_name = match catalog.resolve(&provider, &model_sent) {
        Ok(r) => r.entry.name.clone(),
        Err(_) => model_key.clone(),
    };
    // A provider must be known to the catalog or to the workspace's custom prices; a
    // model neither knows is kept unpriced (or refused, as configured).
    if catalog.provider(&provider).is_none() && !custom.has_provider(&provider) {
        return Err(llmlab_engine::providers::CatalogError::UnknownProvider {
            provider: provider.clone(),
            known: catalog.providers().iter().map(|p| p.id.clone()).collect(),
        }
        .into());
    }
    let priced = match body.cost_usd {
        Some(client) => {
            if client.is_negative() || client > MAX_EVENT_COST {
                return Err(AppError::invalid(
                    "cost_usd",
                    format!("must be between 0 and {MAX_EVENT_COST}"),
                ));
            }
            PricedCall {
                cost: Cost {
                    total: client,
                    breakdown: Default::default(),
                    long_context: false,
                    batch_discount_pct: 0,
                },
                price_ref: PriceRef::Client,
                warning: None,
            }
        }
        None => {
            let call = Call {
                provider: &provider,
                model: &model_sent,
                resolved: &resolved_name,
                usage: &usage,
                at: ts,
            };
            price_call(catalog, custom, &call, unknown)?
        }
    };
    let cost = priced.cost;
    if cost.total > MAX_EVENT_COST {
        return Err(AppError::invalid(
            "cost_usd",
            format!(
                "this event would cost ${}, more than the maximum of ${MAX_EVENT_COST} per event",
                cost.total
            ),
        ));
    }
    let event = NewEvent {
        event_id: body.event_id,
        provider,
        model: model_sent,
        resolved_model: resolved_name,
        tokens: crate::tokens::to_store(&usage.tokens()),
        units: crate::tokens::units_to_store(&usage.units()),
        image: crate::tokens::image_to_store(usage.image()),
        service_tier: usage.service_tier().as_str().to_string(),
        batch: usage.batch(),
        cost_nanos: cost.total.nanos(),
        cost_source: priced.price_ref.source().to_string(),
        price_effective_from: priced.price_ref.effective_from(),
        price_revision: priced.price_ref.revision(),
        contract_id: priced.price_ref.contract().map(|c| c.id),
        contract_discount_bp: priced.price_ref.contract().map(|c| c.stored().1),
        ts: ts.timestamp_micros(),
        latency_ms: body.latency_ms,
        tags: tags.into_iter().collect(),
        // The sender is the request's, not the body's (`track`, `store_events`).
        api_key_id: None,
        reservation_id: body.reservation_id.filter(|id| !id.is_empty()),
    };
    Ok(Priced {
        event,
        cost,
        warning: priced.warning,
    })
}

/// Checks event tags (or a key's default tags): how many, and what each key and value may hold.
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), AppError> {
    if tags.len() > MAX_TAGS {
        return Err(AppError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags per event"),
        ));
    }
    for (k, v) in tags {
        crate::input::check_text("tags", k)?;
        if k.is_empty() || k.len() > MAX_TAG_LEN || k.contains(':') {
            return Err(AppError::invalid(
                format!("tags.{k}"),
                format!("tag keys must be 1..={MAX_TAG_LEN} bytes without ':'"),
            ));
        }
        check_len(&format!("tags.{k}"), v, MAX_TAG_LEN)?;
    }
    Ok(())
}

/// The rates of a stored custom price.
pub fn custom_rates(c: &CustomPriceRow) -> Rates {
    let rate = |m: i64| PerMTok::from_micros(m.max(0) as u64).unwrap_or(PerMTok::ZERO);
    let mut rates = Rates::text(rate(c.price.input_micros), rate(c.price.output_micros));
    rates.cached_input = c.price.cached_input_micros.map(rate);
    rates.cache_write = c.price.cache_write_micros.map(rate);
    rates.cache_write_1h = c.price.cache_write_1h_micros.map(rate);
    rates.input_audio = c.price.input_audio_micros.map(rate);
    rates.output_audio = c.price.output_audio_micros.map(rate);
    let unit = |p: Option<i64>| p.and_then(|p| UnitPrice::from_picos(p.max(0) as u64));
    let mut units = UnitRates::default();
    units.audio_input_minute = unit(c.price.audio_input_minute_picos);
    units.output_character = unit(c.price.output_character_picos);
    units.web_search_call = unit(c.price.web_search_call_picos);
    units.code_session = unit(c.price.code_session_picos);
    rates.with_units(units)
}

/// What storing one event did.
pub struct Tracked {
    /// The stored event (the original one for a repeated `event_id`).
    pub row: EventRow,
    /// Whether its `event_id` was already stored (nothing was written).
    pub duplicate: bool,
    /// What the caller should know (a model stored unpriced).
    pub warnings: Vec<Warning>,
}

/// What became of one item of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    /// Stored.
    Accepted,
    /// Its `event_id` was already stored; nothing written.
    Duplicate,
    /// Invalid; see its error.
    Rejected,
}

/// One item's outcome, in the batch's order.
pub struct ItemOutcome {
    /// What became of it.
    pub status: ItemStatus,
    /// The stored event's id (accepted or duplicate).
    pub id: Option<i64>,
    /// Why it was rejected.
    pub error: Option<AppError>,
    /// Set when it was stored unpriced.
    pub warning: Option<Warning>,
}

/// Where a use case acts: the workspace, its custom-prices version (see `PriceCache`),
/// and the default tags of the API key that sent the request.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// Its custom-prices version when the request was authenticated.
    pub prices_version: i64,
    /// The sending key's tags; empty for a session.
    pub key_tags: BTreeMap<String, String>,
    /// The sending key, recorded with each event; `None` for a session.
    pub key: Option<ApiKeyId>,
}

impl Tenant {
    /// Adds the key's tags to `event`; the event's own value wins on the same key.
    pub(crate) fn stamp(&self, event: &mut EventIn) {
        if self.key_tags.is_empty() {
            return;
        }
        let tags = event.tags.get_or_insert_with(BTreeMap::new);
        for (key, value) in &self.key_tags {
            tags.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
}

/// With retention on, an event older than the window is refused: retention would
/// delete it at its next run, and a re-sent copy could no longer be recognised as one.
fn retained(days: Option<u32>, ts_micros: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    let Some(days) = days else {
        return Ok(());
    };
    let cutoff = crate::retention::cutoff(now, days);
    if ts_micros < cutoff.timestamp_micros() {
        return Err(AppError::invalid(
            "timestamp",
            format!(
                "older than the server keeps events ({days} days, LLMLAB_RETENTION_DAYS): \
                 before {cutoff}"
            ),
        ));
    }
    Ok(())
}

/// Counts one outcome of ingestion in the metrics.
fn count(app: &App, outcome: &str, n: usize) {
    app.metrics.events(outcome, n as u64);
}

/// Stores one event for `who`: quota, validation and pricing, the group-commit writer
/// (answered once durable), then budget evaluation off the request path.
pub async fn track(app: &App, who: Tenant, mut body: EventIn) -> Result<Tracked, AppError> {
    if let Some(quota) = &app.ingest_quota {
        quota.take(who.workspace, 1)?;
    }
    who.stamp(&mut body);
    let (shared, workspace, version) = (app.clone(), who.workspace, who.prices_version);
    let stored = blocking(app, move |s| -> Result<_, AppError> {
        let custom = shared.prices.get(s, workspace, version)?;
        let unknown = shared.settings.unknown_models;
        let now = Utc::now();
        let mut priced = prepare(&shared.catalog, &custom, unknown, body, now)?;
        priced.event.api_key_id = who.key;
        retained(shared.settings.retention_days, priced.event.ts, now)?;
        // Concurrent requests share a commit (see `GroupCommit`); answered once durable.
        let stored = shared.writer.insert_event(workspace, priced.event)?;
        Ok((stored, priced.warning))
    })
    .await;
    let ((row, outcome), warning) = stored
        .inspect_err(|e| {
            if e.is_invalid_input() {
                count(app, "rejected", 1);
            }
        })
        .map_err(|e| dead_workspace(app, workspace, e))?;
    let duplicate = outcome.is_duplicate();
    if duplicate {
        count(app, "duplicate", 1);
    } else {
        count(app, "inserted", 1);
        crate::budgets::after_ingest(app, workspace);
    }
    Ok(Tracked {
        row,
        duplicate,
        warnings: warning.into_iter().collect(),
    })
}

/// Stores a batch of items of any form that `read` turns into events (the API's raw
/// JSON items, parsed one by one so one bad item does not fail the others; OTLP spans)
/// in one transaction; answers one outcome per item.
pub async fn store_events<T: Send + 'static>(
    app: &App,
    who: Tenant,
    items: Vec<T>,
    read: fn(T) -> Result<EventIn, AppError>,
) -> Result<Vec<ItemOutcome>, AppError> {
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(AppError::invalid(
            "events",
            format!("must hold 1 to {MAX_BATCH} events"),
        ));
    }
    if let Some(quota) = &app.ingest_quota {
        quota.take(who.workspace, items.len())?;
    }
    let (shared, workspace, version) = (app.clone(), who.workspace, who.prices_version);
    let outcomes = blocking(app, move |s| -> Result<_, AppError> {
        let custom = shared.prices.get(s, workspace, version)?;
        let unknown = shared.settings.unknown_models;
        let now = Utc::now();
        let mut outcomes: Vec<ItemOutcome> = Vec::with_capacity(items.len());
        let mut valid = Vec::with_capacity(items.len());
        for item in items {
            let prepared = read(item).and_then(|mut event| {
                who.stamp(&mut event);
                let mut p = prepare(&shared.catalog, &custom, unknown, event, now)?;
                p.event.api_key_id = who.key;
                retained(shared.settings.retention_days, p.event.ts, now)?;
                Ok(p)
            });
            outcomes.push(match prepared {
                Ok(p) => {
                    valid.push(p.event);
                    ItemOutcome {
                        status: ItemStatus::Accepted,
                        id: None,
                        error: None,
                        warning: p.warning,
                    }
                }
                Err(e) => ItemOutcome {
                    status: ItemStatus::Rejected,
                    id: None,
                    error: Some(e),
                    warning: None,
                },
            });
        }
        let mut stored = s.insert_batch(workspace, &valid)?.into_iter();
        for item in outcomes
            .iter_mut()
            .filter(|i| i.status == ItemStatus::Accepted)
        {
            if let Some(outcome) = stored.next() {
                item.id = Some(outcome.id());
                if outcome.is_duplicate() {
                    item.status = ItemStatus::Duplicate;
                }
            }
        }
        Ok(outcomes)
    })
    .await
    .map_err(|e| dead_workspace(app, workspace, e))?;
    let n = |status| outcomes.iter().filter(|o| o.status == status).count();
    let accepted = n(ItemStatus::Accepted);
    count(app, "inserted", accepted);
    count(app, "duplicate", n(ItemStatus::Duplicate));
    count(app, "rejected", n(ItemStatus::Rejected));
    if accepted > 0 {
        crate::budgets::after_ingest(app, workspace);
    }
    Ok(outcomes)
}

/// A write refused because `workspace` no longer exists, as the dead credential it
/// means: another instance deleted the workspace while this one still trusted a key of
/// it (`crate::credentials`), which it now forgets. Workspace ids are never reused, so
/// the write can land nowhere else.
fn dead_workspace(app: &App, workspace: WorkspaceId, e: AppError) -> AppError {
    match e {
        AppError::Store(StoreError::Gone(_)) => {
            app.keys.forget_workspace(workspace);
            AppError::WorkspaceGone
        }
        other => other,
    }
}

/// Prices an event for `who` without storing it.
pub async fn estimate(app: &App, who: Tenant, body: EventIn) -> Result<Priced, AppError> {
    let (shared, workspace, version) = (app.clone(), who.workspace, who.prices_version);
    blocking(app, move |s| {
        let custom = shared.prices.get(s, workspace, version)?;
        // An estimate answers with a price or not at all.
        prepare(
            &shared.catalog,
            &custom,
            UnknownModels::Reject,
            body,
            Utc::now(),
        )
    })
    .await
}

/// Most events in one batch request.
pub const MAX_BATCH: usize = 1000;
