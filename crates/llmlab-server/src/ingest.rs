//! From a request body to a priced event ready to store: validation, model resolution,
//! pricing (client cost → the user's custom price → the catalog).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_engine::providers::{Catalog, PerMTok, Rates};
use llmlab_engine::{Cost, Usage, UsageFields, Usd, cost_at_rates, price};
use llmlab_store::{CustomPriceRow, NewEvent};

use crate::dto::TrackEvent;
use crate::error::ApiError;

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

fn check_len(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    crate::text::check(field, value)?;
    if value.len() > max {
        return Err(ApiError::validation(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    Ok(())
}

/// Parses `timestamp` (RFC 3339, any offset) into UTC truncated to microseconds.
fn parse_timestamp(ts: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let t = match ts {
        None => now,
        Some(s) => crate::query::in_supported_years(
            "timestamp",
            DateTime::parse_from_rfc3339(s.trim())
                .map_err(|_| {
                    ApiError::validation(
                        "timestamp",
                        "must be an RFC 3339 timestamp such as 2026-11-20T10:00:00Z",
                    )
                })?
                .with_timezone(&Utc),
        )?,
    };
    let micros = t.timestamp_micros();
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| ApiError::validation("timestamp", "out of range"))
}

/// Validates and prices one event for `now`.
pub fn prepare(
    catalog: &Catalog,
    custom: &(impl CustomPrices + ?Sized),
    body: TrackEvent,
    now: DateTime<Utc>,
) -> Result<Priced, ApiError> {
    let provider = body.provider.trim().to_ascii_lowercase();
    if provider.is_empty() {
        return Err(ApiError::validation("provider", "must not be empty"));
    }
    let model_sent = body.model.trim().to_string();
    crate::text::check("provider", &provider)?;
    crate::text::check("model", &model_sent)?;
    if model_sent.is_empty() {
        return Err(ApiError::validation("model", "must not be empty"));
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
        return Err(ApiError::validation(
            "latency_ms",
            "must be between 0 and 86400000",
        ));
    }
    let tags = body.tags.unwrap_or_default();
    validate_tags(&tags)?;
    if let Some(id) = &body.event_id {
        if id.is_empty() {
            return Err(ApiError::validation("event_id", "must not be empty"));
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
                return Err(ApiError::validation(
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
        return Err(ApiError::validation(
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

fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::validation(
            "tags",
            format!("at most {MAX_TAGS} tags per event"),
        ));
    }
    for (k, v) in tags {
        crate::text::check("tags", k)?;
        if k.is_empty() || k.len() > MAX_TAG_LEN || k.contains(':') {
            return Err(ApiError::validation(
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
