//! From a request body to a priced event ready to store: validation, model resolution,
//! pricing (client cost → the user's custom price → the catalog).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_engine::providers::{Catalog, PerMTok, Rates};
use llmlab_engine::{Cost, Usage, UsageFields, Usd, cost_at_rates, price};
use llmlab_store::{CustomPriceRow, NewEvent, WorkspaceId};

use llmlab_store::EventRow;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{App, AppError, blocking};
use crate::dto::TrackEvent;

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
}

/// Where the custom prices of the event's user come from.
pub trait CustomPrices {
    /// The user's custom price for `(provider, model)` (both lower-case), if any.
    fn lookup(&self, provider: &str, model: &str) -> Option<&CustomPriceRow>;
}

impl CustomPrices for [CustomPriceRow] {
    fn lookup(&self, provider: &str, model: &str) -> Option<&CustomPriceRow> {
        self.iter()
            .find(|c| c.provider == provider && c.model == model)
    }
}

/// Largest cost of one event, given by the client or computed (a custom price can be
/// anything): $1,000,000. With [`MAX_TOKENS`] it bounds what one event adds to any sum.
///
/// [`MAX_TOKENS`]: llmlab_engine::MAX_TOKENS
pub const MAX_EVENT_COST: Usd = Usd::from_nanos(1_000_000 * llmlab_engine::NANOS_PER_USD);

fn check_len(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    crate::app::input::check_text(field, value)?;
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
        Some(s) => crate::app::input::in_supported_years(
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

/// Validates and prices one event for `now`.
pub fn prepare(
    catalog: &Catalog,
    custom: &(impl CustomPrices + ?Sized),
    body: TrackEvent,
    now: DateTime<Utc>,
) -> Result<Priced, AppError> {
    let provider = body.provider.trim().to_ascii_lowercase();
    if provider.is_empty() {
        return Err(AppError::invalid("provider", "must not be empty"));
    }
    let model_sent = body.model.trim().to_string();
    crate::app::input::check_text("provider", &provider)?;
    crate::app::input::check_text("model", &model_sent)?;
    if model_sent.is_empty() {
        return Err(AppError::invalid("model", "must not be empty"));
    }
    check_len("provider", &provider, 64)?;
    check_len("model", &model_sent, MAX_ID_LEN)?;
    let usage = Usage::parse(UsageFields {
        input_tokens: body.input_tokens,
        output_tokens: body.output_tokens,
        cached_input_tokens: body.cached_input_tokens.unwrap_or(0),
        cache_write_tokens: body.cache_write_tokens.unwrap_or(0),
        reasoning_tokens: body.reasoning_tokens.unwrap_or(0),
        batch: body.batch.unwrap_or(false),
    })?;
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
    let model_key = model_sent.to_ascii_lowercase();

    // Resolve against the catalog first: the resolved name is what custom prices,
    // reports and recommendations key on.
    let resolved = catalog.resolve(&provider, &model_sent);
    let resolved_name = match &resolved {
        Ok(r) => r.entry.name.clone(),
        Err(_) => model_key.clone(),
    };
    let custom_price = custom
        .lookup(&provider, &model_key)
        .or_else(|| custom.lookup(&provider, &resolved_name));

    // A provider must be known to the catalog or to the user's custom prices; an
    // unknown model is fine when the client or a custom price gives the cost.
    if catalog.provider(&provider).is_none() && custom_price.is_none() {
        return Err(llmlab_engine::providers::CatalogError::UnknownProvider {
            provider: provider.clone(),
            known: catalog.providers().iter().map(|p| p.id.clone()).collect(),
        }
        .into());
    }
    let (cost, source, effective_from): (Cost, &str, Option<NaiveDate>) =
        if let Some(client) = body.cost_usd {
            if client.is_negative() || client > MAX_EVENT_COST {
                return Err(AppError::invalid(
                    "cost_usd",
                    format!("must be between 0 and {MAX_EVENT_COST}"),
                ));
            }
            let zero = Cost {
                total: client,
                breakdown: Default::default(),
                long_context: false,
                batch_discount_pct: 0,
            };
            (zero, "client", None)
        } else if let Some(c) = custom_price {
            (
                cost_at_rates(
                    &custom_rates(c),
                    c.batch_discount_pct.map(|d| d.clamp(0, 100) as u8),
                    &usage,
                )?,
                "custom_pricing",
                None,
            )
        } else {
            let call = price(catalog, &provider, &model_sent, &usage, ts)?;
            (call.cost, "catalog", Some(call.effective_from()))
        };
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
        input_tokens: usage.input_tokens() as i64,
        output_tokens: usage.output_tokens() as i64,
        cached_input_tokens: usage.cached_input_tokens() as i64,
        cache_write_tokens: usage.cache_write_tokens() as i64,
        reasoning_tokens: usage.reasoning_tokens() as i64,
        batch: usage.batch(),
        cost_nanos: cost.total.nanos(),
        cost_source: source.to_string(),
        price_effective_from: effective_from,
        ts: ts.timestamp_micros(),
        latency_ms: body.latency_ms,
        tags: tags.into_iter().collect(),
    };
    Ok(Priced { event, cost })
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
        crate::app::input::check_text("tags", k)?;
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
    Rates {
        input: rate(c.input_micros),
        output: rate(c.output_micros),
        cached_input: c.cached_input_micros.map(rate),
        cache_write: c.cache_write_micros.map(rate),
    }
}

/// What storing one event did.
pub struct Tracked {
    /// The stored event (the original one for a repeated `event_id`).
    pub row: EventRow,
    /// Whether its `event_id` was already stored (nothing was written).
    pub duplicate: bool,
}

/// What became of one item of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
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
}

impl Tenant {
    /// Adds the key's tags to `event`; the event's own value wins on the same key.
    fn stamp(&self, event: &mut TrackEvent) {
        if self.key_tags.is_empty() {
            return;
        }
        let tags = event.tags.get_or_insert_with(BTreeMap::new);
        for (key, value) in &self.key_tags {
            tags.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
}

/// Counts one outcome of ingestion in the metrics.
fn count(app: &App, outcome: &str, n: usize) {
    app.metrics.events(outcome, n as u64);
}

/// Stores one event for `who`: quota, validation and pricing, the group-commit writer
/// (answered once durable), then budget evaluation off the request path.
pub async fn track(app: &App, who: Tenant, mut body: TrackEvent) -> Result<Tracked, AppError> {
    if let Some(quota) = &app.ingest_quota {
        quota.take(who.workspace, 1)?;
    }
    who.stamp(&mut body);
    let (shared, workspace, version) = (app.clone(), who.workspace, who.prices_version);
    let stored = blocking(app, move |s| -> Result<_, AppError> {
        let custom = shared.prices.get(s, workspace, version)?;
        let priced = prepare(&shared.catalog, &*custom, body, Utc::now())?;
        // Concurrent requests share a commit (see `GroupCommit`); answered once durable.
        Ok(shared.writer.insert_event(workspace, priced.event)?)
    })
    .await;
    let (row, outcome) = stored.inspect_err(|e| {
        if e.is_invalid_input() {
            count(app, "rejected", 1);
        }
    })?;
    let duplicate = outcome.is_duplicate();
    if duplicate {
        count(app, "duplicate", 1);
    } else {
        count(app, "inserted", 1);
        crate::app::budgets::after_ingest(app, workspace);
    }
    Ok(Tracked { row, duplicate })
}

/// Stores the valid items of a batch (each item raw JSON, parsed here so one bad item
/// does not fail the others) in one transaction; answers one outcome per item.
pub async fn batch(
    app: &App,
    who: Tenant,
    items: Vec<Box<serde_json::value::RawValue>>,
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
        let now = Utc::now();
        let mut outcomes: Vec<ItemOutcome> = Vec::with_capacity(items.len());
        let mut valid = Vec::with_capacity(items.len());
        for raw in &items {
            let prepared = crate::app::input::parse_json::<TrackEvent>(raw.get().as_bytes())
                .and_then(|mut event| {
                    who.stamp(&mut event);
                    prepare(&shared.catalog, &*custom, event, now)
                });
            outcomes.push(match prepared {
                Ok(p) => {
                    valid.push(p.event);
                    ItemOutcome {
                        status: ItemStatus::Accepted,
                        id: None,
                        error: None,
                    }
                }
                Err(e) => ItemOutcome {
                    status: ItemStatus::Rejected,
                    id: None,
                    error: Some(e),
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
    .await?;
    let n = |status| outcomes.iter().filter(|o| o.status == status).count();
    let accepted = n(ItemStatus::Accepted);
    count(app, "inserted", accepted);
    count(app, "duplicate", n(ItemStatus::Duplicate));
    count(app, "rejected", n(ItemStatus::Rejected));
    if accepted > 0 {
        crate::app::budgets::after_ingest(app, workspace);
    }
    Ok(outcomes)
}

/// Prices an event for `who` without storing it.
pub async fn estimate(app: &App, who: Tenant, body: TrackEvent) -> Result<Priced, AppError> {
    let (shared, workspace, version) = (app.clone(), who.workspace, who.prices_version);
    blocking(app, move |s| {
        let custom = shared.prices.get(s, workspace, version)?;
        prepare(&shared.catalog, &*custom, body, Utc::now())
    })
    .await
}

/// Most events in one batch request.
pub const MAX_BATCH: usize = 1000;
