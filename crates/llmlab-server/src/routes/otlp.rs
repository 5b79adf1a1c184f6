//! `POST /v1/traces`: OTLP/HTTP trace export, the path an OpenTelemetry exporter appends
//! to `OTEL_EXPORTER_OTLP_ENDPOINT`. The answer is the `ExportTraceServiceResponse` of the
//! request's encoding; what becomes of a span is `crate::app::otlp`'s business.

use actix_web::{HttpResponse, post, web};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::Ingester;
use crate::app::otlp;
use crate::body::{OtlpBody, OtlpEncoding};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

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
        (status = 413, description = "Over 16 MiB, compressed or not"),
        (status = 415, description = "Neither protobuf nor JSON, or an encoding other than gzip"),
        (status = 429, description = "Over the ingestion quota (LLMLAB_INGEST_EVENTS_PER_MINUTE)")),
    security(("bearer" = [])))]
#[post("/traces")]
async fn traces(
    state: web::Data<AppState>,
    who: Ingester,
    body: OtlpBody,
) -> Result<HttpResponse, ApiError> {
    let request = decode(&body)?;
    let done = otlp::export(&state, who.tenant(), request).await?;
    let answer = ExportTraceServiceResponse {
        partial_success: done.error.map(|error_message| ExportTracePartialSuccess {
            rejected_spans: done.rejected as i64,
            error_message,
        }),
    };
    Ok(match body.encoding {
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

fn decode(body: &OtlpBody) -> Result<ExportTraceServiceRequest, ApiError> {
    let malformed = |e: String| {
        ApiError::bad_request(
            ErrorCode::MalformedBody,
            format!("not an OTLP trace export: {e}"),
        )
    };
    match body.encoding {
        OtlpEncoding::Protobuf => {
            ExportTraceServiceRequest::decode(&body.bytes[..]).map_err(|e| malformed(e.to_string()))
        }
        OtlpEncoding::Json => {
            serde_json::from_slice(&body.bytes).map_err(|e| malformed(e.to_string()))
        }
    }
}
