//! OpenTelemetry trace exports for `cargo xtask bench http`: OTLP JSON bodies of GenAI
//! spans, each export with trace ids no earlier request used, so every span is a new
//! event rather than a retry the server recognises and skips.

use std::fmt::Write;
use std::sync::Arc;

use super::events::{Call, CallGen};
use super::load::{Request, Workload};

/// Spans per export: what an OpenTelemetry batch span processor sends at its default
/// schedule for a busy service is of this order (its maximum is 512).
pub const SPANS_PER_EXPORT: usize = 100;
/// Where each span's trace id starts with 16 hex digits the workload rewrites.
const PLACEHOLDER: &str = "ffffffffffffffff";

/// A prepared export: its body and where the rewritable trace id digits are.
pub struct Export {
    body: Vec<u8>,
    placeholders: Vec<usize>,
}

/// `n` distinct exports of [`SPANS_PER_EXPORT`] spans each, ending about now.
pub fn exports(seed: u64, n: usize) -> Vec<Export> {
    let mut calls = CallGen::live(seed);
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    (0..n)
        .map(|_| {
            let spans: Vec<Call> = (0..SPANS_PER_EXPORT).map(|_| calls.next_call()).collect();
            export(&spans, now_ns)
        })
        .collect()
}

fn export(spans: &[Call], now_ns: i64) -> Export {
    let mut out = String::with_capacity(spans.len() * 700 + 200);
    out.push_str(
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\
         \"value\":{\"stringValue\":\"bench\"}}]},\"scopeSpans\":[{\"spans\":[",
    );
    let mut placeholders = Vec::with_capacity(spans.len());
    for (i, call) in spans.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"traceId\":\"");
        placeholders.push(out.len());
        // `fmt::Write` for `String` cannot fail.
        let _ = write_span(&mut out, i, call, now_ns);
    }
    out.push_str("]}]}]}");
    Export {
        body: out.into_bytes(),
        placeholders,
    }
}

/// The rest of a span after `"traceId":"`: every string is one of the generator's
/// constants, none of which needs JSON escaping.
fn write_span(out: &mut String, i: usize, call: &Call, now_ns: i64) -> std::fmt::Result {
    let end_ns = now_ns + i64::try_from(i).unwrap_or(0);
    let start_ns = end_ns - call.latency_ms * 1_000_000;
    write!(
        out,
        "{PLACEHOLDER}{i:016x}\",\"spanId\":\"{i:016x}\",\"name\":\"chat {model}\",\
         \"startTimeUnixNano\":\"{start_ns}\",\"endTimeUnixNano\":\"{end_ns}\",\
         \"attributes\":[\
         {{\"key\":\"gen_ai.provider.name\",\"value\":{{\"stringValue\":\"{provider}\"}}}},\
         {{\"key\":\"gen_ai.request.model\",\"value\":{{\"stringValue\":\"{model}\"}}}},\
         {{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{{\"intValue\":\"{input}\"}}}},\
         {{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{{\"intValue\":\"{output}\"}}}},\
         {{\"key\":\"gen_ai.usage.cache_read.input_tokens\",\"value\":{{\"intValue\":\"{cached}\"}}}}",
        model = call.model,
        provider = call.provider,
        input = call.input_tokens,
        output = call.output_tokens,
        cached = call.cached_input_tokens,
    )?;
    for (k, v) in &call.tags {
        write!(
            out,
            ",{{\"key\":\"llmlab.tag.{k}\",\"value\":{{\"stringValue\":\"{v}\"}}}}"
        )?;
    }
    out.push_str("]}");
    Ok(())
}

/// POSTs the exports in turn to `/v1/traces`, each time under trace ids of its own:
/// client `client`'s `n`-th request writes `client << 40 | n` into every placeholder.
pub struct Exports {
    exports: Arc<Vec<Export>>,
    buf: Vec<u8>,
    next: u64,
    client: u64,
}

impl Exports {
    pub fn new(exports: Arc<Vec<Export>>, client: usize) -> Exports {
        Exports {
            exports,
            buf: Vec::new(),
            next: 0,
            client: client as u64,
        }
    }
}

impl Workload for Exports {
    fn next(&mut self) -> Option<Request<'_>> {
        let len = self.exports.len().max(1) as u64;
        let export = self.exports.get(usize::try_from(self.next % len).ok()?)?;
        let prefix = format!("{:016x}", self.client << 40 | self.next);
        self.next += 1;
        self.buf.clear();
        self.buf.extend_from_slice(&export.body);
        for &at in &export.placeholders {
            self.buf
                .get_mut(at..at + PLACEHOLDER.len())?
                .copy_from_slice(prefix.as_bytes());
        }
        Some(Request {
            method: "POST",
            path: "/v1/traces",
            body: Some(&self.buf),
        })
    }

    /// The spans stored: all of them unless the answer's `partialSuccess` rejects some.
    fn accepted(&mut self, body: &[u8]) -> u64 {
        let rejected = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                let n = v.get("partialSuccess")?.get("rejectedSpans")?.clone();
                n.as_str().and_then(|s| s.parse().ok()).or(n.as_u64())
            })
            .unwrap_or(0);
        (SPANS_PER_EXPORT as u64).saturating_sub(rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_has_trace_ids_of_its_own() -> crate::Result<()> {
        let exports = Arc::new(exports(7, 2));
        let mut w = Exports::new(exports, 3);
        let mut ids = std::collections::HashSet::new();
        for _ in 0..4 {
            let body = w.next().and_then(|r| r.body).ok_or("no body")?.to_vec();
            let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            let spans = &v["resourceSpans"][0]["scopeSpans"][0]["spans"];
            let spans = spans.as_array().ok_or("no spans")?;
            assert_eq!(spans.len(), SPANS_PER_EXPORT);
            for s in spans {
                let id = format!("{}{}", s["traceId"], s["spanId"]);
                assert_eq!(s["traceId"].as_str().map(str::len), Some(32));
                assert!(ids.insert(id), "a repeated span id");
            }
        }
        assert_eq!(w.accepted(b"{}"), 100);
        assert_eq!(
            w.accepted(br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"x"}}"#),
            97
        );
        Ok(())
    }
}
