//! `POST /v1/traces`: OTLP/HTTP trace export, the path an OpenTelemetry exporter appends
//! to `OTEL_EXPORTER_OTLP_ENDPOINT`. The answer is the `ExportTraceServiceResponse` of the
//! request's encoding; what becomes of a span is `llmlab_app::otlp`'s business.
//!
//! Inflating, decoding and reading spans is CPU work that grows with the body: it runs
//! on the blocking pool, never on the HTTP workers, and only as many exports at a time as
//! the machine has cores ([`DecodeSlots`]); others wait their turn holding only their
//! compressed bytes, and after [`WAIT`] are told to retry.

use std::time::Duration;

use actix_web::{HttpResponse, post, web};
use prost::Message;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::Ingester;
use crate::body::{OtlpBody, OtlpEncoding};
use crate::error::{ApiError, ErrorCode};
use llmlab_app::AppState;
use llmlab_app::otlp::wire::{self as wire, ExportResponse, PartialSuccess, Refused};
use llmlab_app::otlp::{self, Mapped};

/// How long an export waits for a turn to be decoded before it is told to retry.
const WAIT: Duration = Duration::from_secs(10);

/// OTLP exports decoded at once by this instance: one per core.
pub struct DecodeSlots(tokio::sync::Semaphore);

impl DecodeSlots {
    /// As many slots as the machine has cores.
    pub fn per_core() -> DecodeSlots {
        DecodeSlots(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ))
    }
}

/// Registers the OTLP receiver.
pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(traces);
}

/// Receives an OTLP trace export; spans with GenAI usage become events.
#[utoipa::path(tag = "otlp",
    request_body(description = "An OTLP `ExportTraceServiceRequest`, protobuf or OTLP JSON, optionally gzip (`Content-Encoding: gzip`)",
        content((String = "application/x-protobuf"), (Object = "application/json"))),
    responses(
        (status = 200, description = "An `ExportTraceServiceResponse` in the request's encoding; `partialSuccess` counts the GenAI spans refused and says why the first was",
            content((String = "application/x-protobuf"), (Object = "application/json"))),
        (status = 400, description = "Not an OTLP trace export"),
        (status = 413, description = "Over 16 MiB, compressed or not; or more than 10,000 spans, 100,000 attributes or 10,000 resource and scope spans"),
        (status = 415, description = "Neither protobuf nor JSON, or an encoding other than gzip"),
        (status = 429, description = "Over the ingestion quota (LLMLAB_INGEST_EVENTS_PER_MINUTE), or every decoding slot busy for 10 s (retry after `Retry-After`)")),
    security(("bearer" = [])))]
#[post("/traces")]
async fn traces(
    state: web::Data<AppState>,
    slots: web::Data<DecodeSlots>,
    who: Ingester,
    body: OtlpBody,
) -> Result<HttpResponse, ApiError> {
    let encoding = body.encoding;
    let mapped = decode(&slots, body).await?;
    let done = otlp::export(&state, who.tenant(), mapped).await?;
    let answer = ExportResponse {
        partial_success: done.error.map(|error_message| PartialSuccess {
            rejected_spans: done.rejected as i64,
            error_message,
        }),
    };
    Ok(match encoding {
        OtlpEncoding::Protobuf => HttpResponse::Ok()
            .content_type("application/x-protobuf")
            .body(answer.encode_to_vec()),
        // OTLP's JSON mapping: an unset message is left out (not `null`), and a 64-bit
        // integer is a string.
        OtlpEncoding::Json => HttpResponse::Ok().json(match answer.partial_success {
            Some(p) => serde_json::json!({"partialSuccess": {
                "rejectedSpans": p.rejected_spans.to_string(),
                "errorMessage": p.error_message,
            }}),
            None => serde_json::json!({}),
        }),
    })
}

/// The export's spans read into events, under a decoding slot on the blocking pool.
async fn decode(slots: &DecodeSlots, body: OtlpBody) -> Result<Mapped, ApiError> {
    let _turn = actix_web::rt::time::timeout(WAIT, slots.0.acquire())
        .await
        .map_err(|_| {
            ApiError::rate_limited(
                1,
                "every OTLP decoding slot is busy with other exports; retry shortly",
            )
        })?
        .map_err(ApiError::internal)?;
    web::block(move || {
        let encoding = body.encoding;
        let bytes = body.inflate()?;
        let request = match encoding {
            OtlpEncoding::Protobuf => wire::from_protobuf(bytes),
            OtlpEncoding::Json => wire::from_json(&bytes),
        };
        let request = request.map_err(|refused| match refused {
            Refused::Malformed(e) => ApiError::bad_request(
                ErrorCode::MalformedBody,
                format!("not an OTLP trace export: {e}"),
            ),
            Refused::TooMany(limit) => ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                limit,
            ),
        })?;
        Ok(otlp::map(&request))
    })
    .await?
}
