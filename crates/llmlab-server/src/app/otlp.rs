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
//! | tags | `service` = the resource's `service.name`; `llmlab.tag.<key>` of the resource, then of the span |
//!
//! The semantic conventions count cached tokens inside `input_tokens` (and reasoning
//! inside `output_tokens`), as LLMLab does. Some instrumentations pass a provider's own
//! count through instead (Anthropic's `input_tokens` leaves cache reads and writes out):
//! when the parts exceed the whole, the whole cannot have included them, so they are
//! added to it. A span without input or output tokens is not a model call to price: it
//! is skipped and counted, never rejected.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat};
use llmlab_engine::Usd;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::app::ingest::{self, ItemStatus, MAX_BATCH, Tenant};
use crate::app::{App, AppError};
use crate::dto::TrackEvent;

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

/// Stores the GenAI spans of `request` as events of `who`'s workspace, at most
/// [`MAX_BATCH`] per write.
pub async fn export(
    app: &App,
    who: Tenant,
    request: ExportTraceServiceRequest,
) -> Result<Exported, AppError> {
    let mut done = Exported::default();
    let mut first_error = None;
    // Events are made and stored [`MAX_BATCH`] at a time: what a request holds at once
    // stays bounded however many spans its body packs.
    let mut pending: Vec<(String, Result<TrackEvent, AppError>)> = Vec::new();
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
                done.skipped += 1;
                continue;
            };
            let event = match &shared {
                Ok(_) => Ok(event),
                Err(why) => Err(AppError::invalid("tags", why.clone())),
            };
            pending.push((span_key(span), event));
            if pending.len() == MAX_BATCH {
                store(
                    app,
                    &who,
                    std::mem::take(&mut pending),
                    &mut done,
                    &mut first_error,
                )
                .await?;
            }
        }
    }
    if !pending.is_empty() {
        store(app, &who, pending, &mut done, &mut first_error).await?;
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
    chunk: Vec<(String, Result<TrackEvent, AppError>)>,
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
    if let Some(service) = attr(resource, "service.name").and_then(text) {
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

/// The event a span stands for, with the tags of its resource (see [`resource_tags`]),
/// or `None` when it carries no GenAI token usage.
pub fn event_of(resource_tags: &BTreeMap<String, String>, span: &Span) -> Option<TrackEvent> {
    let attrs = &span.attributes[..];
    let get = |keys: &[&str]| keys.iter().find_map(|k| attr(attrs, k));
    let count = |keys: &[&str]| get(keys).and_then(integer);
    let input = count(&[
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    ]);
    let output = count(&[
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ]);
    if input.is_none() && output.is_none() {
        return None;
    }
    let cached = count(&[
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ]);
    let written = count(&[
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ]);
    let reasoning = count(&[
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
    ]);
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
    Some(TrackEvent {
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
        ..TrackEvent::default()
    })
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
            kv.key.strip_prefix("llmlab.tag."),
            kv.value.as_ref().and_then(|v| v.value.as_ref()),
        ) {
            tags.insert(key.to_string(), display(value));
        }
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::StringValue(s) => Some(s.as_str()).filter(|s| !s.trim().is_empty()),
        _ => None,
    }
}

/// A token count: an integer, or a whole double or numeric string from an exporter that
/// has no integers (JavaScript). A negative count stays negative so ingestion refuses it.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::IntValue(n) => Some(*n),
        Value::DoubleValue(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(*d as i64),
        Value::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A reported cost in dollars. A decimal string is read exactly; a double is rounded
/// to the nano-dollar once, here at the edge (it is the client's figure, kept beside
/// the price LLMLab computes).
fn dollars(v: &Value) -> Option<Usd> {
    match v {
        Value::StringValue(s) => Usd::parse(s).ok(),
        Value::DoubleValue(d) => Usd::from_f64_rounded(*d),
        Value::IntValue(n) => Usd::from_dollars(*n),
        _ => None,
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(n) => n.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        _ => String::new(),
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
    use opentelemetry_proto::tonic::common::v1::AnyValue;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn span(attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![0xab; 16],
            span_id: vec![0x01; 8],
            start_time_unix_nano: 1_764_590_400_000_000_000,
            end_time_unix_nano: 1_764_590_400_750_000_000,
            attributes,
            ..Default::default()
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
    fn a_span_without_token_usage_is_no_event() {
        let s = span(vec![
            kv("gen_ai.provider.name", Value::StringValue("openai".into())),
            kv("gen_ai.request.model", Value::StringValue("gpt-4o".into())),
        ]);
        assert!(event_of(&BTreeMap::new(), &s).is_none());
    }

    #[test]
    fn openinference_counts_and_exclusive_counts_are_read() {
        let s = span(vec![
            kv("llm.provider", Value::StringValue("anthropic".into())),
            kv(
                "llm.model_name",
                Value::StringValue("claude-haiku-4-5".into()),
            ),
            kv("llm.token_count.prompt", Value::StringValue("10".into())),
            kv(
                "llm.token_count.prompt_details.cache_read",
                Value::DoubleValue(90.0),
            ),
            kv("llm.token_count.completion", Value::IntValue(5)),
            kv(
                "llm.token_count.completion_details.reasoning",
                Value::IntValue(3),
            ),
            kv("llm.cost.total", Value::DoubleValue(0.000123)),
            kv("llmlab.tag.team", Value::StringValue("ops".into())),
        ]);
        let resource = [kv("service.name", Value::StringValue("api".into()))];
        let resource = resource_tags(&resource).expect("valid tags");
        let e = event_of(&resource, &s).expect("an event");
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
