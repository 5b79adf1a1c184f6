//! One LLM call, as `POST /api/events/track` and each item of `POST /api/events/batch`
//! take it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use llmlab_engine::Usd;
use serde::Serialize;
use serde_json::value::RawValue;

/// One LLM call to record.
///
/// Built from the provider and model as the provider's API names them and the call's
/// token counts, then refined with the builder methods. [`Client::track`] stamps it with
/// the time it is tracked and an idempotency key unless it carries its own, so a retried
/// batch never counts a call twice.
///
/// ```
/// use llmlab_client::Event;
///
/// let event = Event::new("openai", "gpt-4o-2024-08-06", 1200, 350)
///     .cached_input_tokens(1000)
///     .tag("feature", "search")
///     .event_id("req_abc123");
/// assert_eq!(event.id(), Some("req_abc123"));
/// ```
///
/// [`Client::track`]: crate::Client::track
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    provider: String,
    model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cached_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_write_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_write_1h_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_audio_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_audio_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<String>,
    /// The exact decimal as a JSON number (`Usd`'s own serde form is a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reservation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_format: Option<String>,
}

impl Event {
    /// A call of `model` at `provider` that read `input_tokens` (every prompt token,
    /// cached ones included) and wrote `output_tokens` (reasoning included).
    pub fn new(
        provider: impl Into<String>,
        model: impl Into<String>,
        input_tokens: u64,
        output_tokens: u64,
    ) -> Event {
        Event {
            input_tokens: Some(input_tokens),
            output_tokens: Some(output_tokens),
            ..Event::bare(provider.into(), model.into())
        }
    }

    /// A call described by the provider's own usage object, as its response carries it
    /// (OpenAI chat or responses, Anthropic, Gemini); the server reads the token counts
    /// from it by the same rules as the engine's `usage_object::read`.
    ///
    /// ```
    /// use llmlab_client::Event;
    ///
    /// let usage = serde_json::json!({"input_tokens": 2048, "output_tokens": 300,
    ///     "cache_read_input_tokens": 1024, "cache_creation_input_tokens": 0});
    /// let event = Event::from_usage("anthropic", "claude-sonnet-4-5", usage);
    /// assert_eq!(event.model(), "claude-sonnet-4-5");
    /// ```
    pub fn from_usage(
        provider: impl Into<String>,
        model: impl Into<String>,
        usage: serde_json::Value,
    ) -> Event {
        Event {
            usage: Some(usage),
            ..Event::bare(provider.into(), model.into())
        }
    }

    fn bare(provider: String, model: String) -> Event {
        Event {
            provider,
            model,
            input_tokens: None,
            output_tokens: None,
            cached_input_tokens: None,
            cache_write_tokens: None,
            cache_write_1h_tokens: None,
            input_audio_tokens: None,
            reasoning_tokens: None,
            output_audio_tokens: None,
            service_tier: None,
            cost_usd: None,
            timestamp: None,
            latency_ms: None,
            tags: BTreeMap::new(),
            event_id: None,
            reservation_id: None,
            usage: None,
            usage_format: None,
        }
    }

    /// Cache-read tokens (part of the input tokens).
    pub fn cached_input_tokens(mut self, n: u64) -> Event {
        self.cached_input_tokens = Some(n);
        self
    }

    /// 5-minute cache-write tokens (part of the input tokens).
    pub fn cache_write_tokens(mut self, n: u64) -> Event {
        self.cache_write_tokens = Some(n);
        self
    }

    /// 1-hour cache-write tokens (part of the input tokens).
    pub fn cache_write_1h_tokens(mut self, n: u64) -> Event {
        self.cache_write_1h_tokens = Some(n);
        self
    }

    /// Uncached audio prompt tokens (part of the input tokens).
    pub fn input_audio_tokens(mut self, n: u64) -> Event {
        self.input_audio_tokens = Some(n);
        self
    }

    /// Reasoning tokens (part of the output tokens).
    pub fn reasoning_tokens(mut self, n: u64) -> Event {
        self.reasoning_tokens = Some(n);
        self
    }

    /// Audio output tokens (part of the output tokens).
    pub fn output_audio_tokens(mut self, n: u64) -> Event {
        self.output_audio_tokens = Some(n);
        self
    }

    /// The provider's service tier: `standard`, `batch`, `flex` or `priority`.
    pub fn service_tier(mut self, tier: impl Into<String>) -> Event {
        self.service_tier = Some(tier.into());
        self
    }

    /// A known cost, recorded instead of the catalog's price.
    pub fn cost(mut self, cost: Usd) -> Event {
        self.cost_usd = RawValue::from_string(cost.to_string()).ok();
        self
    }

    /// When the call was made (default: when it is tracked).
    pub fn at(mut self, timestamp: DateTime<Utc>) -> Event {
        self.timestamp = Some(timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        self
    }

    /// How long the call took.
    pub fn latency(mut self, latency: Duration) -> Event {
        self.latency_ms = Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// A tag, by which reports group and budgets scope (`team`, `feature`, `customer`).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Event {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// The idempotency key: a second event with the same key in the workspace is
    /// answered as a duplicate and stored once (default: a random key made at tracking).
    pub fn event_id(mut self, id: impl Into<String>) -> Event {
        self.event_id = Some(id.into());
        self
    }

    /// The reservation on hard budgets the call was made under
    /// ([`Client::reserve`](crate::Client::reserve)): the server settles it when it
    /// stores the event, counting its cost and releasing the rest.
    pub fn reservation_id(mut self, id: impl Into<String>) -> Event {
        self.reservation_id = Some(id.into());
        self
    }

    /// The usage object's format when its shape does not tell (`openai_chat`,
    /// `openai_responses`, `anthropic`, `gemini`).
    pub fn usage_format(mut self, format: impl Into<String>) -> Event {
        self.usage_format = Some(format.into());
        self
    }

    /// The idempotency key, once it has one.
    pub fn id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }

    /// The model as given.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The provider as given.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// What tracking adds to an event that lacks it: the time it was tracked and a key
    /// unique to it, so every retry of its batch names the same call.
    pub(crate) fn stamped(mut self, now: DateTime<Utc>) -> Event {
        if self.timestamp.is_none() {
            self = self.at(now);
        }
        if self.event_id.is_none() {
            self.event_id = Some(format!("llc_{:032x}", rand::random::<u128>()));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_track_body() {
        let at = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let cost = Usd::parse("0.00525").unwrap_or_default();
        let event = Event::new("openai", "gpt-4o", 1200, 350)
            .cached_input_tokens(1000)
            .cost(cost)
            .at(at)
            .latency(Duration::from_millis(840))
            .tag("team", "growth")
            .event_id("req_1");
        let json = serde_json::to_string(&event).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"provider":"openai","model":"gpt-4o","input_tokens":1200,"output_tokens":350,"cached_input_tokens":1000,"cost_usd":0.00525,"timestamp":"2026-11-20T10:00:00Z","latency_ms":840,"tags":{"team":"growth"},"event_id":"req_1"}"#
        );
    }

    #[test]
    fn tracking_stamps_what_is_missing_and_keeps_what_is_given() {
        let now = Utc::now();
        let a = Event::new("openai", "gpt-4o", 1, 1).stamped(now);
        let b = Event::new("openai", "gpt-4o", 1, 1).stamped(now);
        assert!(
            a.id()
                .is_some_and(|id| id.starts_with("llc_") && id.len() == 36)
        );
        assert_ne!(a.id(), b.id());
        let kept = Event::new("openai", "gpt-4o", 1, 1)
            .event_id("mine")
            .stamped(now);
        assert_eq!(kept.id(), Some("mine"));
        assert_eq!(
            a.timestamp.as_deref(),
            Some(now.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_str())
        );
    }
}
