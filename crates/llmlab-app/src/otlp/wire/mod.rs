//! The OTLP trace export as `POST /v1/traces` reads it: only the fields LLMLab uses, in
//! protobuf and in OTLP's JSON mapping, decoded within a budget.
//!
//! An export's size on the wire says little about its size in memory: an empty span is
//! two bytes of protobuf (three of JSON) and a few hundred bytes decoded, so 16 MiB of
//! them would take gigabytes. Two things keep one export small:
//!
//! - **Only what is read is decoded.** A span keeps its ids, times and attributes; its
//!   name, events, links, status and scope are skipped without being allocated, and so
//!   are attribute values other than strings, booleans, integers and doubles (arrays,
//!   key-value lists, bytes: no token count is one, and skipping them means their
//!   nesting costs nothing). Protobuf strings are slices of the body, not copies.
//! - **Everything decoded is counted first.** A protobuf body is walked once without
//!   allocating to count its resource and scope spans, spans and attributes; a JSON body
//!   is counted as it is parsed (`json.rs`). Past [`MAX_SPANS`], [`MAX_ATTRIBUTES`] or
//!   [`MAX_SCOPES`] the export is refused (413) before its elements exist.

use std::fmt;

use bytes::Bytes;
use serde::Deserialize;

mod json;
mod scan;

/// Most spans in one export. An SDK's batch processor sends at most 512; a Collector's
/// batch processor 8,192 by default.
pub const MAX_SPANS: usize = 10_000;
/// Most attributes in one export, the resources' and the spans' together: 10 per span
/// at the span limit (GenAI instrumentations that flatten prompts into attributes send
/// a few dozen per span, in smaller batches).
pub const MAX_ATTRIBUTES: usize = 100_000;
/// Most resource and scope spans (the groups spans come in) in one export.
pub const MAX_SCOPES: usize = 10_000;

/// `ExportTraceServiceRequest`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    /// Spans by the resource that produced them.
    #[prost(message, repeated, tag = "1")]
    #[serde(default, alias = "resource_spans", deserialize_with = "json::scopes")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// `ResourceSpans`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpans {
    /// The resource (the service).
    #[prost(message, optional, tag = "1")]
    #[serde(default)]
    pub resource: Option<Resource>,
    /// Spans by instrumentation scope.
    #[prost(message, repeated, tag = "2")]
    #[serde(default, alias = "scope_spans", deserialize_with = "json::scopes")]
    pub scope_spans: Vec<ScopeSpans>,
}

/// `Resource`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
pub struct Resource {
    /// Its attributes (`service.name`, `llmlab.tag.*`).
    #[prost(message, repeated, tag = "1")]
    #[serde(default, deserialize_with = "json::attributes")]
    pub attributes: Vec<KeyValue>,
}

/// `ScopeSpans` (its scope is not read).
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
pub struct ScopeSpans {
    /// The spans.
    #[prost(message, repeated, tag = "2")]
    #[serde(default, deserialize_with = "json::spans")]
    pub spans: Vec<Span>,
}

/// `Span`: ids, times and attributes.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    /// 16 bytes (hex in JSON).
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(default, alias = "trace_id", deserialize_with = "json::hex_bytes")]
    pub trace_id: Bytes,
    /// 8 bytes (hex in JSON).
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(default, alias = "span_id", deserialize_with = "json::hex_bytes")]
    pub span_id: Bytes,
    /// Start, nanoseconds since the Unix epoch.
    #[prost(fixed64, tag = "7")]
    #[serde(
        default,
        alias = "start_time_unix_nano",
        deserialize_with = "json::uint64"
    )]
    pub start_time_unix_nano: u64,
    /// End, nanoseconds since the Unix epoch.
    #[prost(fixed64, tag = "8")]
    #[serde(
        default,
        alias = "end_time_unix_nano",
        deserialize_with = "json::uint64"
    )]
    pub end_time_unix_nano: u64,
    /// The span's attributes (`gen_ai.*`, `llm.*`, `llmlab.tag.*`).
    #[prost(message, repeated, tag = "9")]
    #[serde(default, deserialize_with = "json::attributes")]
    pub attributes: Vec<KeyValue>,
}

/// `KeyValue`. The key is the body's bytes, checked as UTF-8 where it is compared.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
pub struct KeyValue {
    /// The attribute's name.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(default, deserialize_with = "json::text")]
    pub key: Bytes,
    /// Its value.
    #[prost(message, optional, tag = "2")]
    #[serde(default)]
    pub value: Option<AnyValue>,
}

impl KeyValue {
    /// The attribute's name, when it is UTF-8.
    pub fn key(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }

    /// Its scalar value; `None` for a value of another kind (an array, a list, bytes),
    /// a malformed one, or none.
    pub fn scalar(&self) -> Option<&Value> {
        self.value.as_ref()?.value.as_ref()
    }
}

/// `AnyValue`, of the scalar kinds only.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyValue {
    /// The value; `None` when it is of a kind not decoded.
    #[prost(oneof = "Value", tags = "1, 2, 3, 4")]
    pub value: Option<Value>,
}

/// A scalar attribute value.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    /// `string_value` (the body's bytes; see [`Value::text`]).
    #[prost(bytes = "bytes", tag = "1")]
    String(Bytes),
    /// `bool_value`.
    #[prost(bool, tag = "2")]
    Bool(bool),
    /// `int_value`.
    #[prost(int64, tag = "3")]
    Int(i64),
    /// `double_value`.
    #[prost(double, tag = "4")]
    Double(f64),
}

impl Value {
    /// A string value that is UTF-8.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::String(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Double(d) => write!(f, "{d:?}"),
        }
    }
}

/// `ExportTraceServiceResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportResponse {
    /// Set when spans were refused.
    #[prost(message, optional, tag = "1")]
    pub partial_success: Option<PartialSuccess>,
}

/// `ExportTracePartialSuccess`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PartialSuccess {
    /// Spans refused.
    #[prost(int64, tag = "1")]
    pub rejected_spans: i64,
    /// Why (the first), for a person.
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// Why an export was not decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not an OTLP trace export (the decoder's message).
    Malformed(String),
    /// More elements than one export may hold (which limit, for a person).
    TooMany(String),
}

/// Decodes a protobuf export: counted first (see the module documentation), then
/// decoded with strings as slices of `body`.
pub fn from_protobuf(body: Bytes) -> Result<ExportRequest, Refused> {
    let mut counts = Counts::default();
    scan::scan_request(&body, &mut counts)?;
    <ExportRequest as prost::Message>::decode(body).map_err(|e| Refused::Malformed(e.to_string()))
}

/// Decodes an OTLP JSON export, counting its elements as they are parsed.
pub fn from_json(body: &[u8]) -> Result<ExportRequest, Refused> {
    json::BUDGET.with(|b| b.set(Counts::default()));
    let decoded = serde_json::from_slice::<ExportRequest>(body);
    let over = json::BUDGET.with(|b| b.get()).over();
    match (decoded, over) {
        (_, Some(limit)) => Err(Refused::TooMany(limit)),
        (Ok(request), None) => Ok(request),
        (Err(e), None) => Err(Refused::Malformed(e.to_string())),
    }
}

/// What an export holds, counted against the limits.
#[derive(Clone, Copy, Default)]
struct Counts {
    pub(super) scopes: usize,
    pub(super) spans: usize,
    pub(super) attributes: usize,
}

impl Counts {
    /// The first limit passed, said for a person.
    pub(super) fn over(self) -> Option<String> {
        let say = |what: &str, limit: usize| {
            format!("an OTLP export holds at most {limit} {what}; send smaller batches")
        };
        if self.spans > MAX_SPANS {
            Some(say("spans", MAX_SPANS))
        } else if self.attributes > MAX_ATTRIBUTES {
            Some(say("attributes", MAX_ATTRIBUTES))
        } else if self.scopes > MAX_SCOPES {
            Some(say("resource and scope spans", MAX_SCOPES))
        } else {
            None
        }
    }

    pub(super) fn check(self) -> Result<(), Refused> {
        self.over()
            .map_or(Ok(()), |limit| Err(Refused::TooMany(limit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1 as proto_common;
    use opentelemetry_proto::tonic::trace::v1 as proto;
    use prost::Message;

    /// An export of one ResourceSpans holding one ScopeSpans holding `spans`.
    fn export(spans: Vec<proto::Span>) -> Bytes {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![proto::ResourceSpans {
                scope_spans: vec![proto::ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        Bytes::from(request.encode_to_vec())
    }

    #[test]
    fn protobuf_decodes_what_is_read_and_skips_the_rest() {
        let span = proto::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "chat".into(),
            end_time_unix_nano: 42,
            attributes: vec![proto_common::KeyValue {
                key: "k".into(),
                value: Some(proto_common::AnyValue {
                    value: Some(proto_common::any_value::Value::ArrayValue(
                        Default::default(),
                    )),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let lean = from_protobuf(export(vec![span])).expect("decodes");
        let span = &lean.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(&span.trace_id[..], &[1; 16]);
        assert_eq!(span.end_time_unix_nano, 42);
        assert_eq!(span.attributes[0].key(), Some("k"));
        assert_eq!(span.attributes[0].scalar(), None, "an array is not decoded");
    }

    #[test]
    fn protobuf_limits_are_exact() {
        let spans = |n: usize| export(vec![proto::Span::default(); n]);
        assert!(from_protobuf(spans(MAX_SPANS)).is_ok());
        assert!(matches!(
            from_protobuf(spans(MAX_SPANS + 1)),
            Err(Refused::TooMany(m)) if m.contains("spans")
        ));
        let span = proto::Span {
            attributes: vec![proto_common::KeyValue::default(); MAX_ATTRIBUTES + 1],
            ..Default::default()
        };
        assert!(matches!(
            from_protobuf(export(vec![span])),
            Err(Refused::TooMany(m)) if m.contains("attributes")
        ));
        assert!(matches!(
            from_protobuf(Bytes::from_static(b"\x0a\x05\x12")),
            Err(Refused::Malformed(_))
        ));
    }

    #[test]
    fn json_limits_are_exact_and_values_parse_leniently() {
        let spans = |n: usize| {
            let list = vec!["{}"; n].join(",");
            format!("{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{list}]}}]}}]}}")
        };
        assert!(from_json(spans(MAX_SPANS).as_bytes()).is_ok());
        assert!(matches!(
            from_json(spans(MAX_SPANS + 1).as_bytes()),
            Err(Refused::TooMany(m)) if m.contains("spans")
        ));
        // The budget starts over with each export on a thread.
        assert!(from_json(spans(MAX_SPANS).as_bytes()).is_ok());
        let request = from_json(
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0a0b","endTimeUnixNano":"7",
                "attributes":[{"key":"a","value":{"intValue":"12"}},
                              {"key":"b","value":{"intValue":"1.5"}},
                              {"key":"c","value":{"doubleValue":"NaN"}},
                              {"key":"d","value":{"arrayValue":{"values":[]}}}]}]}]}]}"#,
        )
        .expect("decodes");
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(&span.trace_id[..], &[10, 11]);
        assert_eq!(span.end_time_unix_nano, 7);
        let values: Vec<Option<&Value>> = span.attributes.iter().map(KeyValue::scalar).collect();
        assert_eq!(values[0], Some(&Value::Int(12)));
        assert_eq!(values[1], None);
        assert!(matches!(values[2], Some(Value::Double(d)) if d.is_nan()));
        assert_eq!(values[3], None);
        assert!(matches!(
            from_json(b"{\"resourceSpans\": 3}"),
            Err(Refused::Malformed(_))
        ));
    }
}
