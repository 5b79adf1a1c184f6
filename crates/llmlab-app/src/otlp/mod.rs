//! OpenTelemetry GenAI spans in (`POST /v1/traces`): a span that carries GenAI token usage
//! becomes one event, priced and stored like `POST /api/events/batch` stores it, so an
//! application already instrumented (the OTel GenAI instrumentations, OpenLLMetry,
//! OpenLIT, Logfire, OpenInference) only points its exporter at LLMLab.
//!
//! What a span becomes:
//!
//! | event | read from, first found |
//! | --- | --- |
//! | provider | `gen_ai.provider.name`, `gen_ai.system`, `llm.provider`, `llm.system` (see [`provider_id`]) |
//! | model | `gen_ai.response.model`, `gen_ai.request.model`, `llm.model_name` |
//! | input | `gen_ai.usage.input_tokens`, `gen_ai.usage.prompt_tokens`, `llm.token_count.prompt` |
//! | output | `gen_ai.usage.output_tokens`, `gen_ai.usage.completion_tokens`, `llm.token_count.completion` |
//! | cache reads | `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_read_input_tokens`, `llm.token_count.prompt_details.cache_read` |
//! | cache writes | `gen_ai.usage.cache_creation.input_tokens`, `gen_ai.usage.cache_creation_input_tokens`, `llm.token_count.prompt_details.cache_write` |
//! | reasoning | `gen_ai.usage.reasoning.output_tokens`, `gen_ai.usage.reasoning_tokens`, `llm.token_count.completion_details.reasoning` |
//! | client cost | `gen_ai.usage.cost`, `llm.cost.total` |
//! | service tier | `gen_ai.openai.response.service_tier`, `gen_ai.openai.request.service_tier` |
//! | timestamp, latency | the span's end; end − start |
//! | `event_id` | trace id + span id (hex), so a re-sent export stores nothing twice |
//! | `reservation_id` | `llmlab.reservation_id` of the span: the hard-budget reservation it settles |
//! | tags | `service` = the resource's `service.name`; `llmlab.tag.<key>` of the resource, then of the span |
//!
//! The semantic conventions count cached tokens inside `input_tokens` (and reasoning
//! inside `output_tokens`), as LLMLab does. Some instrumentations pass a provider's own
//! count through instead (Anthropic's `input_tokens` leaves cache reads and writes out):
//! when the parts exceed the whole, the whole cannot have included them, so they are
//! added to it. A span without input or output tokens is not a model call to price: it
//! is skipped and counted, never rejected. A token count that is present but not a
//! non-negative integer (`1.5`, `" 1e3"`, `"0x10"`, NaN, a list) rejects its span, named
//! in `partialSuccess`: it is never read as 0, and never makes the span vanish.

pub mod wire;

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat};
use llmlab_engine::Usd;

use crate::ingest::EventIn;
use crate::ingest::{self, ItemStatus, MAX_BATCH, Tenant};
use crate::{App, AppError};
use wire::{ExportRequest, KeyValue, Span, Value};

/// What one export did, span by span.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Exported {
    /// Spans stored as new events.
    pub accepted: usize,
    /// Spans whose event was already stored (a re-sent export).
    pub duplicates: usize,
    /// GenAI spans refused (an unknown provider, invalid counts); see `error`.
    pub rejected: usize,
    /// Spans without GenAI usage, not events.
    pub skipped: usize,
    /// Why the first rejected span was refused, and how many were.
    pub error: Option<String>,
}

/// The events an export's GenAI spans stand for, each with its span's key, and how many
/// spans were not GenAI calls: the CPU-bound half of an export, run off the HTTP workers.
#[derive(Default)]
pub struct Mapped {
    /// `(trace id + span id, the event or why the span is refused)`, in export order.
    pub events: Vec<(String, Result<EventIn, AppError>)>,
    /// Spans without GenAI usage.
    pub skipped: usize,
}

/// Reads every span of `request` (see the module documentation).
pub fn map(request: &ExportRequest) -> Mapped {
    let mut mapped = Mapped::default();
    let no_tags = BTreeMap::new();
    for resource_spans in &request.resource_spans {
        let resource = resource_spans
            .resource
            .as_ref()
            .map_or(&[][..], |r| &r.attributes[..]);
        // Read once per resource, not once per span; refused as a whole when invalid.
        let shared = resource_tags(resource);
        for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
            let Some(event) = event_of(shared.as_ref().unwrap_or(&no_tags), span) else {
                mapped.skipped += 1;
                continue;
            };
            let event = match &shared {
                Ok(_) => event,
                Err(why) => Err(AppError::invalid("tags", why.clone())),
            };
            mapped.events.push((span_key(span), event));
        }
    }
    mapped
}

/// Stores the events of an export's GenAI spans in `who`'s workspace, at most
/// [`MAX_BATCH`] per write, so what a request holds at once stays bounded however many
/// spans its body packs.
pub async fn export(app: &App, who: Tenant, mapped: Mapped) -> Result<Exported, AppError> {
    let mut done = Exported {
        skipped: mapped.skipped,
        ..Exported::default()
    };
    let mut first_error = None;
    let mut events = mapped.events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<_> = events.by_ref().take(MAX_BATCH).collect();
        store(app, &who, chunk, &mut done, &mut first_error).await?;
    }
    done.error = first_error.map(|first| {
        format!(
            "{} GenAI span(s) rejected; the first: {first}",
            done.rejected
        )
    });
    app.metrics.otlp_skipped(done.skipped as u64);
    Ok(done)
}

/// Stores one chunk of span events and adds up what became of them.
async fn store(
    app: &App,
    who: &Tenant,
    chunk: Vec<(String, Result<EventIn, AppError>)>,
    done: &mut Exported,
    first_error: &mut Option<String>,
) -> Result<(), AppError> {
    let (keys, events): (Vec<String>, Vec<_>) = chunk.into_iter().unzip();
    let outcomes = ingest::store_events(app, who.clone(), events, std::convert::identity).await?;
    for (outcome, key) in outcomes.into_iter().zip(keys) {
        match outcome.status {
            ItemStatus::Accepted => done.accepted += 1,
            ItemStatus::Duplicate => done.duplicates += 1,
            ItemStatus::Rejected => {
                done.rejected += 1;
                if first_error.is_none() {
                    let why = outcome.error.map(|e| e.to_string()).unwrap_or_default();
                    *first_error = Some(format!("span {key}: {why}"));
                }
            }
        }
    }
    Ok(())
}

/// The tags every span of a resource carries: `service` = its `service.name`, and its
/// `llmlab.tag.<key>` attributes; why they cannot be stored, when they cannot.
pub fn resource_tags(resource: &[KeyValue]) -> Result<BTreeMap<String, String>, String> {
    let mut tags = BTreeMap::new();
    if let Some(service) = attr(resource, "service.name")
        .and_then(KeyValue::scalar)
        .and_then(text)
    {
        tags.insert("service".to_string(), service.to_string());
    }
    add_tags(&mut tags, resource);
    ingest::validate_tags(&tags).map_err(|e| format!("the resource's {e}"))?;
    Ok(tags)
}

/// The span's trace id and span id in hex, its `event_id`.
fn span_key(span: &Span) -> String {
    format!(
        "{}{}",
        hex::encode(&span.trace_id),
        hex::encode(&span.span_id)
    )
}

/// The event a span stands for, with the tags of its resource (see [`resource_tags`]);
/// why it cannot be one, when a token count is not a count; `None` when it carries no
/// GenAI token usage.
pub fn event_of(
    resource_tags: &BTreeMap<String, String>,
    span: &Span,
) -> Option<Result<EventIn, AppError>> {
    let attrs = &span.attributes[..];
    let get = |keys: &[&str]| keys.iter().find_map(|k| attr(attrs, k)?.scalar());
    let mut refused = None;
    let input = token_count(
        attrs,
        &mut refused,
        &[
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.token_count.prompt",
        ],
    );
    let output = token_count(
        attrs,
        &mut refused,
        &[
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
        ],
    );
    // No GenAI convention names the units billed beside tokens: LLMLab reads its own.
    let units = [
        "llmlab.usage.images",
        "llmlab.usage.audio_input_seconds",
        "llmlab.usage.output_characters",
        "llmlab.usage.web_search_calls",
        "llmlab.usage.code_sessions",
    ]
    .map(|key| token_count(attrs, &mut refused, &[key]));
    let no_units = units.iter().all(Option::is_none);
    if input.is_none() && output.is_none() && no_units && refused.is_none() {
        return None;
    }
    let cached = token_count(
        attrs,
        &mut refused,
        &[
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_read_input_tokens",
            "llm.token_count.prompt_details.cache_read",
        ],
    );
    let written = token_count(
        attrs,
        &mut refused,
        &[
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens",
            "llm.token_count.prompt_details.cache_write",
        ],
    );
    let reasoning = token_count(
        attrs,
        &mut refused,
        &[
            "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.usage.reasoning_tokens",
            "llm.token_count.completion_details.reasoning",
        ],
    );
    if let Some(why) = refused {
        return Some(Err(why));
    }
    let model = get(&[
        "gen_ai.response.model",
        "gen_ai.request.model",
        "llm.model_name",
    ])
    .and_then(text)
    .unwrap_or_default();
    let provider = get(&[
        "gen_ai.provider.name",
        "gen_ai.system",
        "llm.provider",
        "llm.system",
    ])
    .and_then(text)
    .map(|p| provider_id(p, model))
    .unwrap_or_default();
    let (start, end) = (span.start_time_unix_nano, span.end_time_unix_nano);
    Some(Ok(EventIn {
        provider,
        model: model.to_string(),
        input_tokens: Some(inclusive(input.unwrap_or(0), &[cached, written])),
        output_tokens: Some(inclusive(output.unwrap_or(0), &[reasoning])),
        cached_input_tokens: cached,
        cache_write_tokens: written,
        reasoning_tokens: reasoning,
        service_tier: get(&[
            "gen_ai.openai.response.service_tier",
            "gen_ai.openai.request.service_tier",
        ])
        .and_then(text)
        .filter(|t| !matches!(*t, "default" | "auto"))
        .map(str::to_string),
        cost_usd: get(&["gen_ai.usage.cost", "llm.cost.total"]).and_then(dollars),
        timestamp: timestamp(end),
        latency_ms: (start > 0 && end >= start)
            .then(|| i64::try_from((end - start) / 1_000_000).ok())
            .flatten(),
        tags: Some(tags(resource_tags, attrs)).filter(|t| !t.is_empty()),
        event_id: (!span.trace_id.is_empty() && !span.span_id.is_empty()).then(|| span_key(span)),
        reservation_id: get(&["llmlab.reservation_id"])
            .and_then(text)
            .map(str::to_string),
        images: units[0],
        image_size: get(&["llmlab.usage.image_size"])
            .and_then(text)
            .map(str::to_string),
        image_quality: get(&["llmlab.usage.image_quality"])
            .and_then(text)
            .map(str::to_string),
        audio_input_seconds: units[1],
        output_characters: units[2],
        web_search_calls: units[3],
        code_sessions: units[4],
        ..EventIn::default()
    }))
}

/// The count the first of `keys` present holds; `None` when none is, or when it is no
/// count (then `refused` says why, unless an earlier count already did).
fn token_count(attrs: &[KeyValue], refused: &mut Option<AppError>, keys: &[&str]) -> Option<i64> {
    let (key, kv) = keys.iter().find_map(|k| Some((*k, attr(attrs, k)?)))?;
    match integer(kv.scalar()) {
        Ok(n) => Some(n),
        Err(why) => {
            refused.get_or_insert_with(|| AppError::invalid(key, why));
            None
        }
    }
}

/// The catalog's provider id for a `gen_ai.provider.name` (or older `gen_ai.system`)
/// value. Claude on Vertex AI is Anthropic's model under Google's name, and the catalog
/// knows its `@` names under `anthropic`.
pub fn provider_id(name: &str, model: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    let id = match name.as_str() {
        "gcp.vertex_ai" if model.starts_with("claude") => "anthropic",
        "gcp.gemini" | "gcp.vertex_ai" | "gcp.gen_ai" | "vertex_ai" | "vertexai" | "gemini" => {
            "google"
        }
        "aws.bedrock" | "aws_bedrock" | "aws" => "bedrock",
        "azure.ai.openai" | "az.ai.openai" | "azure.ai.inference" | "az.ai.inference"
        | "azure_openai" => "azure",
        "mistral_ai" | "mistralai" => "mistral",
        "x_ai" | "x.ai" | "grok" => "xai",
        other => other,
    };
    id.to_string()
}

/// `whole`, or the sum of `parts` when they exceed it (a count that left them out).
fn inclusive(whole: i64, parts: &[Option<i64>]) -> i64 {
    let parts = parts
        .iter()
        .flatten()
        .fold(0i64, |sum, p| sum.saturating_add(*p));
    if parts > whole {
        whole.saturating_add(parts)
    } else {
        whole
    }
}

/// The resource's tags with the span's own `llmlab.tag.<key>` attributes over them.
fn tags(resource: &BTreeMap<String, String>, span: &[KeyValue]) -> BTreeMap<String, String> {
    let mut tags = resource.clone();
    add_tags(&mut tags, span);
    tags
}

fn add_tags(tags: &mut BTreeMap<String, String>, attrs: &[KeyValue]) {
    for kv in attrs {
        if let (Some(key), Some(value)) = (
            kv.key().and_then(|k| k.strip_prefix("llmlab.tag.")),
            kv.scalar(),
        ) {
            tags.insert(key.to_string(), display(value));
        }
    }
}

/// The first attribute named `key` (the first one wins, as OTLP's data model has it).
fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attrs.iter().find(|kv| kv.key == key.as_bytes())
}

fn text(v: &Value) -> Option<&str> {
    v.text().filter(|s| !s.trim().is_empty())
}

/// A token count: a non-negative integer, or a whole double or a string of decimal
/// digits from an exporter that has no integers (JavaScript). Anything else (a fraction,
/// NaN, infinity, `" 1e3"`, `"0x10"`, a sign, a list) is why the span is refused.
fn integer(v: Option<&Value>) -> Result<i64, String> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact
    let n = match v {
        Some(Value::Int(n)) => Some(*n),
        Some(Value::Double(d)) if d.fract() == 0.0 && d.abs() < EXACT => Some(*d as i64),
        Some(Value::String(s)) if !s.is_empty() && s.iter().all(u8::is_ascii_digit) => {
            v.and_then(Value::text).and_then(|t| t.parse().ok())
        }
        _ => None,
    };
    match (n, v) {
        (Some(n), _) if n >= 0 => Ok(n),
        (_, Some(v)) => Err(format!("must be a non-negative integer, not {v}")),
        (_, None) => Err("must be a non-negative integer, not a list, map or bytes".into()),
    }
}

/// A reported cost in dollars. A decimal string is read exactly; a double is rounded
/// to the nano-dollar once, here at the edge (it is the client's figure, kept beside
/// the price LLMLab computes).
fn dollars(v: &Value) -> Option<Usd> {
    match v {
        Value::String(_) => Usd::parse(v.text()?).ok(),
        Value::Double(d) => Usd::from_f64_rounded(*d),
        Value::Int(n) => Usd::from_dollars(*n),
        Value::Bool(_) => None,
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => String::from_utf8_lossy(s).into_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Double(d) => d.to_string(),
    }
}

/// The span's end as RFC 3339, `None` when the exporter sent none (stored at receipt).
fn timestamp(end_unix_nano: u64) -> Option<String> {
    let nanos = i64::try_from(end_unix_nano).ok().filter(|n| *n > 0)?;
    Some(DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::wire::AnyValue;
    use bytes::Bytes;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: Bytes::copy_from_slice(key.as_bytes()),
            value: Some(AnyValue { value: Some(value) }),
        }
    }

    fn sv(text: &str) -> Value {
        Value::String(Bytes::copy_from_slice(text.as_bytes()))
    }

    fn span(attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: Bytes::from(vec![0xab; 16]),
            span_id: Bytes::from(vec![0x01; 8]),
            start_time_unix_nano: 1_764_590_400_000_000_000,
            end_time_unix_nano: 1_764_590_400_750_000_000,
            attributes,
        }
    }

    #[test]
    fn provider_names_map_to_catalog_ids() {
        assert_eq!(provider_id("gcp.gemini", "gemini-2.5-pro"), "google");
        assert_eq!(provider_id("gcp.vertex_ai", "gemini-2.5-pro"), "google");
        assert_eq!(
            provider_id("gcp.vertex_ai", "claude-sonnet-4-5@20250929"),
            "anthropic"
        );
        assert_eq!(provider_id("aws.bedrock", "anthropic.claude"), "bedrock");
        assert_eq!(provider_id("azure.ai.openai", "gpt-4o"), "azure");
        assert_eq!(provider_id("OpenAI", "gpt-4o"), "openai");
        assert_eq!(provider_id("x_ai", "grok-4"), "xai");
    }

    #[test]
    fn llmlab_usage_attributes_carry_the_units_billed_beside_tokens() {
        // An image call reports no tokens: its units make it an event.
        let s = span(vec![
            kv("gen_ai.provider.name", sv("openai")),
            kv("gen_ai.request.model", sv("dall-e-3")),
            kv("llmlab.usage.images", Value::Int(2)),
            kv("llmlab.usage.image_size", sv("1024x1792")),
            kv("llmlab.usage.image_quality", sv("hd")),
        ]);
        let e = event_of(&BTreeMap::new(), &s)
            .expect("an event")
            .expect("valid");
        assert_eq!(
            (e.images, e.input_tokens, e.output_tokens),
            (Some(2), Some(0), Some(0))
        );
        assert_eq!(
            (e.image_size.as_deref(), e.image_quality.as_deref()),
            (Some("1024x1792"), Some("hd"))
        );
        let s = span(vec![
            kv("gen_ai.provider.name", sv("anthropic")),
            kv("gen_ai.request.model", sv("claude-sonnet-4-5")),
            kv("gen_ai.usage.input_tokens", Value::Int(100)),
            kv("gen_ai.usage.output_tokens", Value::Int(10)),
            kv("llmlab.usage.web_search_calls", Value::Int(3)),
            kv("llmlab.usage.code_sessions", sv("1")),
            kv("llmlab.usage.audio_input_seconds", Value::Int(0)),
        ]);
        let e = event_of(&BTreeMap::new(), &s)
            .expect("an event")
            .expect("valid");
        assert_eq!((e.web_search_calls, e.code_sessions), (Some(3), Some(1)));
        let bad = span(vec![
            kv("gen_ai.request.model", sv("gpt-5")),
            kv("llmlab.usage.web_search_calls", sv("many")),
        ]);
        match event_of(&BTreeMap::new(), &bad) {
            Some(Err(AppError::Invalid { field, .. })) => {
                assert_eq!(field, "llmlab.usage.web_search_calls")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_span_without_token_usage_is_no_event() {
        let s = span(vec![
            kv("gen_ai.provider.name", sv("openai")),
            kv("gen_ai.request.model", sv("gpt-4o")),
        ]);
        assert!(event_of(&BTreeMap::new(), &s).is_none());
    }

    #[test]
    fn openinference_counts_and_exclusive_counts_are_read() {
        let s = span(vec![
            kv("llm.provider", sv("anthropic")),
            kv("llm.model_name", sv("claude-haiku-4-5")),
            kv("llm.token_count.prompt", sv("10")),
            kv(
                "llm.token_count.prompt_details.cache_read",
                Value::Double(90.0),
            ),
            kv("llm.token_count.completion", Value::Int(5)),
            kv(
                "llm.token_count.completion_details.reasoning",
                Value::Int(3),
            ),
            kv("llm.cost.total", Value::Double(0.000123)),
            kv("llmlab.tag.team", sv("ops")),
        ]);
        let resource = [kv("service.name", sv("api"))];
        let resource = resource_tags(&resource).expect("valid tags");
        let e = event_of(&resource, &s).expect("an event").expect("valid");
        assert_eq!(
            (e.provider.as_str(), e.model.as_str()),
            ("anthropic", "claude-haiku-4-5")
        );
        // 90 cache reads cannot be inside 10: the 10 left them out.
        assert_eq!(e.input_tokens, Some(100));
        assert_eq!(e.cached_input_tokens, Some(90));
        // 3 reasoning tokens fit inside 5: taken as included.
        assert_eq!(e.output_tokens, Some(5));
        assert_eq!(e.cost_usd, Usd::parse("0.000123").ok());
        assert_eq!(e.latency_ms, Some(750));
        assert_eq!(e.timestamp.as_deref(), Some("2025-12-01T12:00:00.750Z"));
        assert_eq!(
            e.event_id.as_deref(),
            Some("abababababababababababababababab0101010101010101")
        );
        let tags = e.tags.unwrap_or_default();
        assert_eq!(tags.get("service").map(String::as_str), Some("api"));
        assert_eq!(tags.get("team").map(String::as_str), Some("ops"));
    }
}
