//! OTLP/HTTP trace ingestion (`POST /v1/traces`): the OpenTelemetry SDK's own exporter
//! (protobuf and JSON, gzip) as the client, then hand-built exports for what an SDK does
//! not send on purpose (a re-sent export, refused spans, hostile bodies).

use std::collections::HashMap;
use std::io::Write;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, Tracer, TracerProvider};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan};
use prost::Message;
use serde_json::{Value, json};

use crate::client::{self, Response};
use crate::{TestApp, both};

/// The exporter's HTTP client: ureq, already in the build, instead of reqwest.
#[derive(Debug)]
struct Ureq(ureq::Agent);

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Ureq {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let mut response = self
            .0
            .run(http::Request::from_parts(parts, body.to_vec()))?;
        let status = response.status();
        let body = response.body_mut().read_to_vec()?;
        Ok(http::Response::builder()
            .status(status)
            .body(bytes::Bytes::from(body))?)
    }
}

pub(crate) fn ingest_key(app: &TestApp, token: &str) -> String {
    let r = app.post("/api/keys", token, json!({"name": "otel"}));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["key"].as_str().unwrap().to_string()
}

/// Exports three spans through the SDK's OTLP/HTTP exporter in `protocol`, gzip: a Chat
/// Completions call in today's conventions, an Anthropic call in the older ones with
/// Anthropic's own (cache-exclusive) input count, and an HTTP span that is no model call.
fn export_with_sdk(app: &TestApp, key: &str, protocol: Protocol) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(format!("http://{}/v1/traces", app.addr))
        .with_http_client(Ureq(agent))
        .with_headers(HashMap::from([(
            "Authorization".to_string(),
            format!("Bearer {key}"),
        )]))
        .with_compression(opentelemetry_otlp::Compression::Gzip)
        .build()
        .expect("an OTLP/HTTP exporter");
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("checkout")
                .build(),
        )
        .build();
    let tracer = provider.tracer("llmlab-test");
    let mut chat = tracer.start("chat gpt-4o");
    chat.set_attributes([
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "openai"),
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
        KeyValue::new("gen_ai.response.model", "gpt-4o-2024-08-06"),
        KeyValue::new("gen_ai.usage.input_tokens", 1200_i64),
        KeyValue::new("gen_ai.usage.cache_read.input_tokens", 1000_i64),
        KeyValue::new("gen_ai.usage.output_tokens", 350_i64),
        KeyValue::new("llmlab.tag.team", "search"),
    ]);
    chat.end();
    let mut claude = tracer.start("anthropic.chat");
    claude.set_attributes([
        KeyValue::new("gen_ai.system", "Anthropic"),
        KeyValue::new("gen_ai.request.model", "claude-sonnet-4-5"),
        KeyValue::new("gen_ai.usage.prompt_tokens", 50_i64),
        KeyValue::new("gen_ai.usage.cache_read_input_tokens", 2000_i64),
        KeyValue::new("gen_ai.usage.cache_creation_input_tokens", 500_i64),
        KeyValue::new("gen_ai.usage.completion_tokens", 80_i64),
    ]);
    claude.end();
    let mut http = tracer.start("GET /checkout");
    http.set_attribute(KeyValue::new("http.request.method", "GET"));
    http.end();
    provider.shutdown().expect("the exporter flushed");
}

/// The cost of `buckets` for `provider`/`model` as `POST /api/costs/estimate` prices it.
fn estimate(app: &TestApp, token: &str, event: Value) -> Value {
    let r = app.post("/api/costs/estimate", token, event);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["cost_usd"].clone()
}

pub(crate) fn events(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get("/api/events?limit=100", token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["events"].as_array().unwrap().clone()
}

fn check_exported(app: &TestApp, token: &str) {
    let got = events(app, token);
    assert_eq!(
        got.len(),
        2,
        "two model calls, the HTTP span skipped: {got:?}"
    );
    let find = |provider: &str| {
        got.iter()
            .find(|e| e["provider"] == provider)
            .unwrap_or_else(|| panic!("no {provider} event in {got:?}"))
    };
    let chat = find("openai");
    assert_eq!(
        chat["model"], "gpt-4o-2024-08-06",
        "the response model wins"
    );
    assert_eq!(chat["input_tokens"], 1200);
    assert_eq!(chat["cached_input_tokens"], 1000);
    assert_eq!(chat["output_tokens"], 350);
    assert_eq!(chat["tags"]["service"], "checkout");
    assert_eq!(chat["tags"]["team"], "search");
    assert_eq!(chat["event_id"].as_str().map(str::len), Some(48));
    assert_eq!(
        chat["cost_usd"],
        estimate(
            app,
            token,
            json!({"provider": "openai", "model": "gpt-4o-2024-08-06", "input_tokens": 1200,
                   "cached_input_tokens": 1000, "output_tokens": 350})
        )
    );
    // Anthropic's 50 excludes the 2,500 cached and written tokens: read as 2,550.
    let claude = find("anthropic");
    assert_eq!(claude["input_tokens"], 2550);
    assert_eq!(claude["cache_write_tokens"], 500);
    assert_eq!(
        claude["cost_usd"],
        estimate(
            app,
            token,
            json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 2550,
                   "cached_input_tokens": 2000, "cache_write_tokens": 500, "output_tokens": 80})
        )
    );
    // $0.00525 by hand: 200 × $2.50 + 1,000 × $1.25 + 350 × $10, per million.
    assert_eq!(chat["cost_usd"].to_string(), "0.00525");
}

both!(an_otel_sdk_exporter_sends_priced_events, |app: TestApp| {
    let token = app.signup("otel@example.com");
    let key = ingest_key(&app, &token);
    export_with_sdk(&app, &key, Protocol::HttpBinary);
    check_exported(&app, &token);
    let metrics = app.call("GET", "/metrics", None, None).text();
    assert!(
        metrics.contains("llmlab_otlp_spans_skipped_total 1"),
        "{metrics}"
    );
});

both!(
    an_otel_sdk_json_exporter_sends_priced_events,
    |app: TestApp| {
        let token = app.signup("otel-json@example.com");
        let key = ingest_key(&app, &token);
        export_with_sdk(&app, &key, Protocol::HttpJson);
        check_exported(&app, &token);
    }
);

pub(crate) fn string(key: &str, value: &str) -> ProtoKeyValue {
    ProtoKeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

pub(crate) fn int(key: &str, value: i64) -> ProtoKeyValue {
    ProtoKeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

pub(crate) fn span(id: u8, attributes: Vec<ProtoKeyValue>) -> ProtoSpan {
    let end = chrono::Utc::now().timestamp_nanos_opt().unwrap() as u64;
    ProtoSpan {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        name: format!("span {id}"),
        start_time_unix_nano: end - 1_500_000_000,
        end_time_unix_nano: end,
        attributes,
        ..Default::default()
    }
}

pub(crate) fn request(spans: Vec<ProtoSpan>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", "billing")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub(crate) fn post(
    app: &TestApp,
    key: &str,
    content_type: &str,
    gzip: bool,
    body: &[u8],
) -> Response {
    let bearer = format!("Bearer {key}");
    let mut headers = vec![
        ("Authorization", bearer.as_str()),
        ("Content-Type", content_type),
    ];
    if gzip {
        headers.push(("Content-Encoding", "gzip"));
    }
    client::raw(app.addr, "POST", "/v1/traces", &headers, body)
}

pub(crate) fn gzipped(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

both!(re_sent_refused_and_hostile_exports, |app: TestApp| {
    let token = app.signup("otlp-raw@example.com");
    let key = ingest_key(&app, &token);
    let usage = |model: &str| {
        vec![
            string("gen_ai.provider.name", "openai"),
            string("gen_ai.request.model", model),
            int("gen_ai.usage.input_tokens", 100),
            int("gen_ai.usage.output_tokens", 10),
        ]
    };
    let export = request(vec![
        span(1, usage("gpt-4o-mini")),
        span(
            2,
            vec![
                string("gen_ai.provider.name", "openai"),
                int("gen_ai.usage.input_tokens", -5),
            ],
        ),
        span(3, vec![string("db.system", "postgresql")]),
    ]);
    let body = export.encode_to_vec();
    let r = post(&app, &key, "application/x-protobuf", true, &gzipped(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    let answer = ExportTraceServiceResponse::decode(&r.body[..]).expect("a protobuf answer");
    let partial = answer.partial_success.expect("one span refused");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial
            .error_message
            .contains("07070707070707070707070707070707"),
        "names the span: {}",
        partial.error_message
    );
    assert_eq!(events(&app, &token).len(), 1);
    // The same export again (an exporter's retry): nothing new is stored.
    let r = post(&app, &key, "application/x-protobuf", false, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(events(&app, &token).len(), 1);
    let stored = &events(&app, &token)[0];
    assert_eq!(stored["tags"]["service"], "billing");
    assert_eq!(stored["latency_ms"], 1500);

    // OTLP JSON with 64-bit integers as strings, as JavaScript exporters send them.
    let json_body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "chat", "startTimeUnixNano": "1764590400000000000",
        "endTimeUnixNano": "1764590400250000000",
        "attributes": [
            {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "2000"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 100}}]}]}]}]});
    let r = post(
        &app,
        &key,
        "application/json",
        false,
        json_body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({}), "nothing refused: no partialSuccess");
    let got = events(&app, &token);
    let from_json = got
        .iter()
        .find(|e| e["event_id"] == "5b8efff798038103d269b633813fc60ceee19b7ec3c1b174")
        .expect("the JSON span's event");
    assert_eq!(from_json["input_tokens"], 2000);
    assert_eq!(from_json["timestamp"], "2025-12-01T12:00:00.250Z");

    // Refusals, each in the contract's error shape.
    let r = client::raw(
        app.addr,
        "POST",
        "/v1/traces",
        &[("Content-Type", "application/x-protobuf")],
        &body,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    let r = post(&app, &key, "text/plain", false, b"hello");
    assert_eq!(r.status, 415, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "unsupported_content_type");
    let r = post(
        &app,
        &key,
        "application/x-protobuf",
        false,
        b"\xff\xff\xff\xff",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = post(
        &app,
        &key,
        "application/json",
        false,
        b"{\"resourceSpans\": 3}",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = post(
        &app,
        &key,
        "application/x-protobuf",
        true,
        b"not gzip at all",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // 17 MiB of zeros gzip to a few KiB: refused once inflated past 16 MiB.
    let bomb = gzipped(&vec![0u8; 17 * 1024 * 1024]);
    assert!(bomb.len() < 100 * 1024);
    let r = post(&app, &key, "application/x-protobuf", true, &bomb);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        events(&app, &token).len(),
        2,
        "nothing stored by a refused export"
    );
});
