//! OTLP exports built to hurt the server: bounded while decoding (a few bytes on the wire
//! must not become gigabytes of spans), and token counts that are not counts refused span
//! by span through `partialSuccess`, never stored as 0 and never dropped in silence.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue, any_value};
use prost::Message;
use serde_json::json;

use crate::otlp::{events, gzipped, ingest_key, int, post, request, span, string};
use crate::{TestApp, both};

fn double(key: &str, value: f64) -> ProtoKeyValue {
    ProtoKeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::DoubleValue(value)),
        }),
        ..Default::default()
    }
}

// Seen: the double 1.5 was stored as 0 input tokens; " 1e3", "0x10", NaN and infinity
// made the span vanish with a 200 and no partialSuccess.
both!(
    token_counts_that_are_not_counts_reject_their_span,
    |app: TestApp| {
        let token = app.signup("counts@example.com");
        let key = ingest_key(&app, &token);
        let call = |id: u8, input: ProtoKeyValue| {
            span(
                id,
                vec![
                    string("gen_ai.provider.name", "openai"),
                    string("gen_ai.request.model", "gpt-4o-mini"),
                    input,
                    int("gen_ai.usage.output_tokens", 10),
                ],
            )
        };
        let input = "gen_ai.usage.input_tokens";
        let export = request(vec![
            call(1, double(input, 1.5)),
            call(2, string(input, " 1e3")),
            call(3, string(input, "0x10")),
            call(4, double(input, f64::NAN)),
            call(5, double(input, f64::INFINITY)),
            call(6, int(input, 1000)),
            call(7, double(input, 12.0)),
            call(8, string(input, "34")),
        ]);
        let r = post(
            &app,
            &key,
            "application/x-protobuf",
            false,
            &export.encode_to_vec(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let answer = ExportTraceServiceResponse::decode(&r.body[..]).expect("a protobuf answer");
        let partial = answer.partial_success.expect("five spans refused");
        assert_eq!(partial.rejected_spans, 5, "{}", partial.error_message);
        assert!(
            partial.error_message.contains(input) && partial.error_message.contains("1.5"),
            "names the attribute and its value: {}",
            partial.error_message
        );
        let mut inputs: Vec<i64> = events(&app, &token)
            .iter()
            .map(|e| e["input_tokens"].as_i64().unwrap())
            .collect();
        inputs.sort_unstable();
        assert_eq!(inputs, [12, 34, 1000]);

        // OTLP JSON the same way: an intValue that is no integer refuses its span only.
        let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
         "attributes": [
            {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1.5"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 1}}]},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175",
         "attributes": [
            {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"doubleValue": "Infinity"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 1}}]}]}]}]});
        let r = post(
            &app,
            &key,
            "application/json",
            false,
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.json()["partialSuccess"]["rejectedSpans"],
            "2",
            "{}",
            r.text()
        );
        assert_eq!(events(&app, &token).len(), 3);
    }
);

/// The largest the process has been, from the kernel.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// A protobuf `ExportTraceServiceRequest` of one ResourceSpans holding one ScopeSpans
/// whose body is `inner` repeated `n` times.
fn packed(inner: &[u8], n: usize) -> Vec<u8> {
    fn len_field(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let mut len = body.len() as u64;
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(body);
        out
    }
    let scope = inner.repeat(n);
    // ScopeSpans.spans = 2, ResourceSpans.scope_spans = 2, request.resource_spans = 1.
    len_field(0x0a, &len_field(0x12, &scope))
}

// Seen: 8.39 million empty spans (16 MiB inflated, 16 KB of gzip) took one request from
// 50 MB to 2.2 GB; a 4 MB plain body to 570 MB. Now such an export is refused while it
// is counted, before its spans exist, and a process serving it grows by under 64 MiB.
both!(
    hostile_exports_are_bounded_while_decoding,
    |app: TestApp| {
        let token = app.signup("bombs@example.com");
        let key = ingest_key(&app, &token);
        // Every body is built before the baseline, so only the server's work is measured.
        // Empty spans (field 2, length 0), then one span of empty attributes (field 9).
        let spans = gzipped(&packed(&[0x12, 0x00], 8_000_000));
        let mut attributes = vec![0x12, 0x00];
        let one_span = [0x4a_u8, 0x00].repeat(4_000_000);
        attributes.splice(0..2, {
            let mut s = vec![0x12];
            let mut len = one_span.len() as u64;
            while len >= 0x80 {
                s.push((len as u8) | 0x80);
                len >>= 7;
            }
            s.push(len as u8);
            s.extend_from_slice(&one_span);
            s
        });
        let attributes = gzipped(&packed(&attributes, 1));
        let plain = packed(&[0x12, 0x00], 2_000_000);
        let json_spans = {
            let mut s = String::from("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
            s.push_str(&"{},".repeat(4_000_000));
            s.push_str("{}]}]}]}");
            gzipped(s.as_bytes())
        };
        let json_attributes = {
            let mut s =
                String::from("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[");
            s.push_str(&"{},".repeat(4_000_000));
            s.push_str("{}]}]}]}]}");
            gzipped(s.as_bytes())
        };
        // Under the caps: 10,000 spans in one export are taken.
        let allowed = request(
            (0..10_000u32)
                .map(|i| {
                    let mut s = span(0, vec![string("db.system", "postgresql")]);
                    s.span_id = i.to_be_bytes().repeat(2);
                    s
                })
                .collect(),
        )
        .encode_to_vec();

        let r = post(&app, &key, "application/x-protobuf", false, &allowed);
        assert_eq!(r.status, 200, "{}", r.text());
        let before = peak_rss_bytes();
        for (what, content_type, gzip, body) in [
            (
                "8 million empty spans",
                "application/x-protobuf",
                true,
                &spans,
            ),
            (
                "4 million empty attributes",
                "application/x-protobuf",
                true,
                &attributes,
            ),
            (
                "2 million empty spans, plain",
                "application/x-protobuf",
                false,
                &plain,
            ),
            (
                "4 million empty JSON spans",
                "application/json",
                true,
                &json_spans,
            ),
            (
                "4 million empty JSON attributes",
                "application/json",
                true,
                &json_attributes,
            ),
        ] {
            let r = post(&app, &key, content_type, gzip, body);
            let v = crate::assert_error(&r, 413, "payload_too_large");
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("at most"), "{what}: {v}");
        }
        let grown = peak_rss_bytes().saturating_sub(before);
        eprintln!("hostile exports: peak RSS grew by {} KiB", grown >> 10);
        // nextest runs each test in a process of its own; under `cargo test` other tests'
        // allocations share the process, so its peak says nothing about this one.
        if std::env::var_os("NEXTEST_RUN_ID").is_some() {
            assert!(
                grown < 64 * 1024 * 1024,
                "the server grew by {} MiB",
                grown / (1024 * 1024)
            );
        }
        assert!(events(&app, &token).is_empty(), "no span was a GenAI call");
    }
);
