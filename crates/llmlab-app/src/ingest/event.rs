//! An event as a caller describes it: the one command every face fills in.

use std::collections::BTreeMap;

use llmlab_engine::Usd;

// The server's `TrackEvent` repeats these fields as the API's wire form (serde, OpenAPI);
// this crate speaks no HTTP, so the two stay apart.
/// One LLM call as a caller describes it, before it is checked: the fields of
/// `POST /api/events/track`, an OTLP span, a provider's usage object read into buckets.
#[derive(Debug, Clone, Default)]
pub struct EventIn {
    /// Provider id from the catalog.
    pub provider: String,
    /// Model as the provider's API names it.
    pub model: String,
    /// Every prompt token, cached ones included (unless `usage` is given).
    pub input_tokens: Option<i64>,
    /// Every output token, reasoning included (unless `usage` is given).
    pub output_tokens: Option<i64>,
    /// Cache-read tokens (part of `input_tokens`).
    pub cached_input_tokens: Option<i64>,
    /// 5-minute cache-write tokens (part of `input_tokens`).
    pub cache_write_tokens: Option<i64>,
    /// 1-hour cache-write tokens (part of `input_tokens`).
    pub cache_write_1h_tokens: Option<i64>,
    /// Uncached audio prompt tokens (part of `input_tokens`).
    pub input_audio_tokens: Option<i64>,
    /// Reasoning tokens (part of `output_tokens`).
    pub reasoning_tokens: Option<i64>,
    /// Audio output tokens (part of `output_tokens`).
    pub output_audio_tokens: Option<i64>,
    /// Sent through the provider's batch API.
    pub batch: Option<bool>,
    /// `standard`, `batch`, `flex` or `priority` (`default` and `auto` mean standard).
    pub service_tier: Option<String>,
    /// A known cost that overrides the catalog.
    pub cost_usd: Option<Usd>,
    /// RFC 3339; default now.
    pub timestamp: Option<String>,
    /// Call latency.
    pub latency_ms: Option<i64>,
    /// String tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Idempotency key, unique per workspace.
    pub event_id: Option<String>,
    /// The reservation on hard budgets this call was made under
    /// ([`crate::budgets::reserve`]): storing the event settles it.
    pub reservation_id: Option<String>,
    /// The provider's usage object, instead of the token fields.
    pub usage: Option<serde_json::Value>,
    /// Its format (`openai_chat`, `openai_responses`, `anthropic`, `gemini`,
    /// `openai_transcription`); default: told by the object's shape.
    pub usage_format: Option<String>,
    /// Images generated (with `image_size`).
    pub images: Option<i64>,
    /// Their size (`1024x1024`, `1792x1024`, …).
    pub image_size: Option<String>,
    /// Their quality (`standard` when absent, `hd`, `low`, `medium`, `high`).
    pub image_quality: Option<String>,
    /// Seconds of audio transcribed or translated.
    pub audio_input_seconds: Option<i64>,
    /// Characters of text turned into speech.
    pub output_characters: Option<i64>,
    /// Web search calls (for xAI's live search: sources used).
    pub web_search_calls: Option<i64>,
    /// Code-interpreter or container sessions.
    pub code_sessions: Option<i64>,
}
