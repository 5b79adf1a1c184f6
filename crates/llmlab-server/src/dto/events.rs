//! Events: ingestion, listing, and the filters reports share.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_app::ingest::{EventIn, ItemStatus};
use llmlab_app::ledger::{PriceRef, Warning};
use llmlab_engine::Usd;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

// The wire form of `llmlab_app::ingest::EventIn`, field for field: it adds the serde
// and OpenAPI derives and the contract's documentation, which the app (no HTTP) has not.
/// One LLM call.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TrackEvent {
    /// Provider id from the catalog (`openai`, `anthropic`, `google`, …).
    pub provider: String,
    /// Model as the provider's API names it; resolved through aliases and snapshots.
    pub model: String,
    /// Every prompt token, cached ones included (required unless `usage` is given).
    pub input_tokens: Option<i64>,
    /// Every output token, reasoning included (required unless `usage` is given).
    pub output_tokens: Option<i64>,
    /// Cache-read tokens (part of `input_tokens`).
    pub cached_input_tokens: Option<i64>,
    /// 5-minute cache-write tokens (part of `input_tokens`).
    pub cache_write_tokens: Option<i64>,
    /// 1-hour cache-write tokens (part of `input_tokens`, disjoint from
    /// `cache_write_tokens`; Anthropic bills them at 2× input). Refused (422) for a price
    /// without a 1-hour write rate.
    pub cache_write_1h_tokens: Option<i64>,
    /// Uncached audio prompt tokens (part of `input_tokens`, disjoint from the cache
    /// buckets), billed at the model's audio input rate; refused (422) for a model
    /// without one.
    pub input_audio_tokens: Option<i64>,
    /// Reasoning tokens (part of `output_tokens`).
    pub reasoning_tokens: Option<i64>,
    /// Audio output tokens (part of `output_tokens`, disjoint from `reasoning_tokens`),
    /// billed at the model's audio output rate; refused (422) for a model without one.
    pub output_audio_tokens: Option<i64>,
    /// Sent through the provider's batch API (the same as `service_tier: "batch"`).
    pub batch: Option<bool>,
    /// `standard` (default; `default` and `auto` mean the same), `batch`, `flex` or
    /// `priority`. Flex and priority are priced at the catalog's tier rates; a tier the
    /// model's price does not offer is refused with 422 `unsupported_service_tier`, whose
    /// `details.offered` lists the tiers it does.
    #[schema(pattern = "^(standard|default|auto|batch|flex|priority)$")]
    pub service_tier: Option<String>,
    /// A known cost that overrides the catalog.
    #[schema(value_type = Option<f64>)]
    #[serde(default, with = "llmlab_engine::as_json_number::option")]
    pub cost_usd: Option<Usd>,
    /// RFC 3339; default now.
    pub timestamp: Option<String>,
    /// Call latency.
    pub latency_ms: Option<i64>,
    /// String tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Idempotency key, unique per workspace.
    pub event_id: Option<String>,
    /// The reservation (`POST /api/budgets/reserve`) this call was made under: storing
    /// the event settles it, counting the event's cost and releasing the rest.
    pub reservation_id: Option<String>,
    /// The provider's usage object as its response carries it, instead of the token
    /// fields (see docs/pricing.md, "Usage objects").
    #[schema(value_type = Option<Object>)]
    pub usage: Option<serde_json::Value>,
    /// `openai_chat`, `openai_responses`, `anthropic`, `gemini` or
    /// `openai_transcription`; default: told by the object's shape.
    pub usage_format: Option<String>,
    /// Images generated, priced per image by `image_size` and `image_quality` (then
    /// `input_tokens` and `output_tokens` may be left out).
    pub images: Option<i64>,
    /// The images' size (required with `images`).
    #[schema(pattern = "^(256x256|512x512|1024x1024|1024x1792|1792x1024|1024x1536|1536x1024)$")]
    pub image_size: Option<String>,
    /// Their quality; default `standard`.
    #[schema(pattern = "^(standard|hd|low|medium|high)$")]
    pub image_quality: Option<String>,
    /// Seconds of audio transcribed or translated, at the model's per-minute price.
    pub audio_input_seconds: Option<i64>,
    /// Characters of text turned into speech, at the model's per-character price.
    pub output_characters: Option<i64>,
    /// Web search calls (xAI's live search: sources used), at the model's per-call fee.
    pub web_search_calls: Option<i64>,
    /// Code-interpreter or container sessions, at the model's per-session fee.
    pub code_sessions: Option<i64>,
}

impl From<TrackEvent> for EventIn {
    fn from(e: TrackEvent) -> EventIn {
        EventIn {
            provider: e.provider,
            model: e.model,
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            cached_input_tokens: e.cached_input_tokens,
            cache_write_tokens: e.cache_write_tokens,
            cache_write_1h_tokens: e.cache_write_1h_tokens,
            input_audio_tokens: e.input_audio_tokens,
            reasoning_tokens: e.reasoning_tokens,
            output_audio_tokens: e.output_audio_tokens,
            batch: e.batch,
            service_tier: e.service_tier,
            cost_usd: e.cost_usd,
            timestamp: e.timestamp,
            latency_ms: e.latency_ms,
            tags: e.tags,
            event_id: e.event_id,
            reservation_id: e.reservation_id,
            usage: e.usage,
            usage_format: e.usage_format,
            images: e.images,
            image_size: e.image_size,
            image_quality: e.image_quality,
            audio_input_seconds: e.audio_input_seconds,
            output_characters: e.output_characters,
            web_search_calls: e.web_search_calls,
            code_sessions: e.code_sessions,
        }
    }
}

// The wire form of `llmlab_app::ledger::PriceRef`, variant for variant: it adds the
// serde tag and the OpenAPI schema, which the app (no HTTP) has not.
/// Which price produced a cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum PriceRefOut {
    /// The catalog's version of `model` in effect from `effective_from`, less the
    /// workspace's `contract` when one covered the call.
    Catalog {
        /// The catalog model.
        model: String,
        /// The first day of the price version.
        effective_from: NaiveDate,
        /// The contract whose discount was taken off the list price; absent: list.
        #[serde(skip_serializing_if = "Option::is_none")]
        contract: Option<ContractRefOut>,
    },
    /// A custom price revision of the workspace (`null` for events priced before
    /// revisions were kept).
    CustomPricing {
        /// The revision (see `GET /api/pricing/custom`).
        revision: Option<i64>,
    },
    /// The cost the client sent.
    Client,
    /// No price yet: cost 0 until a price exists and the event is re-priced.
    Unpriced,
}

/// The contract that discounted a catalog price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContractRefOut {
    /// The contract (see `GET /api/contracts`).
    pub id: i64,
    /// Its discount off list prices, in percent.
    #[schema(value_type = f64)]
    pub discount_pct: llmlab_engine::Discount,
}

impl From<PriceRef> for PriceRefOut {
    fn from(r: PriceRef) -> PriceRefOut {
        match r {
            PriceRef::Catalog {
                model,
                effective_from,
                contract,
            } => PriceRefOut::Catalog {
                model,
                effective_from,
                contract: contract.map(|c| ContractRefOut {
                    id: c.id,
                    discount_pct: c.discount,
                }),
            },
            PriceRef::CustomPricing { revision } => PriceRefOut::CustomPricing { revision },
            PriceRef::Client => PriceRefOut::Client,
            PriceRef::Unpriced => PriceRefOut::Unpriced,
        }
    }
}

/// Something the caller should know about an event that was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WarningOut {
    /// `unknown_model`.
    pub code: &'static str,
    /// For a person.
    pub message: String,
    /// The closest known model names, nearest first.
    pub suggestions: Vec<String>,
}

impl From<Warning> for WarningOut {
    fn from(w: Warning) -> WarningOut {
        WarningOut {
            code: w.code,
            message: w.message,
            suggestions: w.suggestions,
        }
    }
}

/// What became of one item of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatusOut {
    /// Stored.
    Accepted,
    /// Its `event_id` was already stored; nothing written.
    Duplicate,
    /// Invalid; see its error.
    Rejected,
}

impl From<ItemStatus> for ItemStatusOut {
    fn from(s: ItemStatus) -> ItemStatusOut {
        match s {
            ItemStatus::Accepted => ItemStatusOut::Accepted,
            ItemStatus::Duplicate => ItemStatusOut::Duplicate,
            ItemStatus::Rejected => ItemStatusOut::Rejected,
        }
    }
}

/// A stored event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Event id.
    pub id: i64,
    /// Provider id.
    pub provider: String,
    /// Model as sent.
    pub model: String,
    /// Catalog name the model resolved to.
    pub resolved_model: String,
    /// Every prompt token.
    pub input_tokens: i64,
    /// Every output token.
    pub output_tokens: i64,
    /// Cache-read tokens.
    pub cached_input_tokens: i64,
    /// 5-minute cache-write tokens.
    pub cache_write_tokens: i64,
    /// 1-hour cache-write tokens.
    pub cache_write_1h_tokens: i64,
    /// Uncached audio prompt tokens.
    pub input_audio_tokens: i64,
    /// Reasoning tokens.
    pub reasoning_tokens: i64,
    /// Audio output tokens.
    pub output_audio_tokens: i64,
    /// Batch API call.
    pub batch: bool,
    /// `standard`, `batch`, `flex` or `priority`: the tier the call was priced at (and
    /// is re-priced at).
    pub service_tier: String,
    /// The cost, exact to the nano-dollar.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// `catalog`, `custom_pricing`, `client` or `unpriced`.
    pub cost_source: String,
    /// First day of the price version used.
    pub price_effective_from: Option<NaiveDate>,
    /// Exactly which price produced `cost_usd`.
    pub price_ref: PriceRefOut,
    /// When the call happened.
    pub timestamp: DateTime<Utc>,
    /// Call latency.
    pub latency_ms: Option<i64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Idempotency key.
    pub event_id: Option<String>,
    /// What the caller should know (`unknown_model`: stored unpriced); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<WarningOut>,
    /// Images generated.
    pub images: i64,
    /// Their size; absent without images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<String>,
    /// Their quality; absent without images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_quality: Option<String>,
    /// Seconds of audio transcribed.
    pub audio_input_seconds: i64,
    /// Characters turned into speech.
    pub output_characters: i64,
    /// Web search calls.
    pub web_search_calls: i64,
    /// Code sessions.
    pub code_sessions: i64,
}

/// `{events: [...]}`, up to 1000.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchRequest {
    /// The events; each is validated on its own.
    #[schema(value_type = Vec<TrackEvent>)]
    pub events: Vec<Box<serde_json::value::RawValue>>,
}

/// Outcome of one batch item.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// Position in the request.
    pub index: usize,
    /// `accepted`, `duplicate` or `rejected`.
    pub status: ItemStatusOut,
    /// Stored event id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Why it was rejected (`{code, message, details}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
    /// What the caller should know about an accepted item (`unknown_model`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<WarningOut>,
}

/// Batch outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// Items stored.
    pub accepted: usize,
    /// Items whose `event_id` was already stored.
    pub duplicates: usize,
    /// Items rejected.
    pub rejected: usize,
    /// Per item, in request order.
    pub results: Vec<BatchItem>,
}

/// The range and filters every report, listing and export takes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// RFC 3339 or `YYYY-MM-DD` (inclusive).
    pub start: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD` (a date includes that whole day).
    pub end: Option<String>,
    /// Provider id.
    pub provider: Option<String>,
    /// Model (resolved name or as sent).
    pub model: Option<String>,
    /// `key:value`, repeatable: events carrying every one.
    #[serde(default)]
    pub tag: Vec<String>,
}

/// A page of the event listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size (default 50, at most 1000).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Keyset cursor from `next_cursor`.
    pub cursor: Option<String>,
}

/// The export's format.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (the default and only format).
    #[param(pattern = "^(csv)?$")]
    pub format: Option<String>,
    /// ISO 4217 code: two columns more, `cost` (each event at the workspace's rate in
    /// effect on its UTC day) and `currency`. Needs `start`, with a rate on or before it.
    pub currency: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Newest first.
    pub events: Vec<EventOut>,
    /// Cursor of the next page; null at the end.
    pub next_cursor: Option<String>,
    /// Events before this instant were deleted by retention (`LLMLAB_RETENTION_DAYS`):
    /// reports keep their totals, this list and the export cannot show them. Null when
    /// nothing was ever deleted.
    pub retained_since: Option<chrono::DateTime<chrono::Utc>>,
}
