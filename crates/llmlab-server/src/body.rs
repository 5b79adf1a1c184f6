//! JSON request bodies: size limit, content type, and serde errors mapped to the contract
//! (not JSON at all → 400; JSON of the wrong shape → 422 naming the field); the
//! dashboard's form bodies under the same limit.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::StatusCode, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};
use llmlab_app::AppState;
use llmlab_app::input::parse_json;

/// A JSON body parsed into `T`.
pub struct JsonBody<T>(pub T);

const DEFAULT_LIMIT: usize = 1024 * 1024;

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let refusal = "the body must be JSON (Content-Type: application/json)";
        let body = read_body(req, payload, is_json(req), refusal);
        Box::pin(async move {
            parse_json(&body.await?)
                .map(JsonBody)
                .map_err(ApiError::from)
        })
    }
}

/// An HTML form's body (`application/x-www-form-urlencoded`), read within
/// `LLMLAB_MAX_BODY_BYTES` and left to the dashboard to parse.
pub struct FormBody(pub web::Bytes);

impl FromRequest for FormBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let accepted = mime(req) == "application/x-www-form-urlencoded";
        let refusal = "a form is sent as application/x-www-form-urlencoded";
        let body = read_body(req, payload, accepted, refusal);
        Box::pin(async move { Ok(FormBody(body.await?.freeze())) })
    }
}

/// The body, read within `LLMLAB_MAX_BODY_BYTES`, of a request whose media type is
/// `accepted` (else 400 with `refusal`); a declared length past the limit is refused
/// before anything is read.
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    accepted: bool,
    refusal: &'static str,
) -> impl Future<Output = Result<web::BytesMut, ApiError>> + use<> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(DEFAULT_LIMIT, |s| s.settings.max_body_bytes);
    let read = read_within(req, payload, limit);
    async move {
        if !accepted {
            return Err(ApiError::bad_request(
                ErrorCode::UnsupportedContentType,
                refusal,
            ));
        }
        read.await
    }
}

/// The body read within `limit` bytes: a declared length past it is refused before
/// anything is read, and a chunked one as soon as it passes it.
fn read_within(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> impl Future<Output = Result<web::BytesMut, ApiError>> + use<> {
    let declared_len = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        if declared_len.is_some_and(|n| n > limit) {
            return Err(too_large(limit));
        }
        read_limited(&mut payload, limit).await
    }
}

/// The body counted as it arrives (a chunked body has no Content-Length to check), and
/// refused as soon as it passes `limit`.
async fn read_limited<S>(payload: &mut S, limit: usize) -> Result<web::BytesMut, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(ErrorCode::MalformedBody, e.to_string()))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A provider's cost report as it was exported (JSON or CSV, any media type), read
/// within [`llmlab_app::reconciliation::MAX_BYTES`].
pub struct ReportBody(pub web::Bytes);

impl FromRequest for ReportBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_within(req, payload, llmlab_app::reconciliation::MAX_BYTES);
        Box::pin(async move { Ok(ReportBody(read.await?.freeze())) })
    }
}

/// How an OTLP/HTTP body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`: OTLP's JSON mapping of the same messages.
    Json,
}

/// An OTLP/HTTP export body (`POST /v1/traces`) as it arrived: read within
/// [`OTLP_MAX_BODY`], not yet inflated (see [`OtlpBody::inflate`]), so a request waiting
/// for its turn to be decoded holds only its compressed bytes.
pub struct OtlpBody {
    /// Its encoding, from `Content-Type`.
    pub encoding: OtlpEncoding,
    /// Whether it is gzip (`Content-Encoding: gzip`).
    gzip: bool,
    /// The bytes received.
    raw: web::Bytes,
}

/// Most bytes of one OTLP export once decompressed: exporters batch 512 spans, and
/// instrumentations that record prompts make them large (the OTel Collector allows
/// 20 MiB). The compressed body is held to the same bound. What the export may hold is
/// bounded separately, while it is decoded (`llmlab_app::otlp::wire`).
pub const OTLP_MAX_BODY: usize = 16 * 1024 * 1024;

impl OtlpBody {
    /// The export's bytes, gunzipped when it is gzip: blocking work (run it off the HTTP
    /// workers), stopped as soon as the inflated size passes [`OTLP_MAX_BODY`], so a
    /// small gzip bomb costs at most that much memory.
    pub fn inflate(self) -> Result<web::Bytes, ApiError> {
        use std::io::Read;
        if !self.gzip {
            return Ok(self.raw);
        }
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&self.raw[..])
            .take(OTLP_MAX_BODY as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                ApiError::bad_request(ErrorCode::MalformedBody, format!("not gzip: {e}"))
            })?;
        if out.len() > OTLP_MAX_BODY {
            return Err(too_large(OTLP_MAX_BODY));
        }
        Ok(web::Bytes::from(out))
    }
}

impl FromRequest for OtlpBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_ascii_lowercase())
                .unwrap_or_default()
        };
        let mime = header(actix_web::http::header::CONTENT_TYPE);
        let encoding = match mime.split(';').next().unwrap_or("").trim() {
            "application/x-protobuf" | "application/protobuf" => Some(OtlpEncoding::Protobuf),
            "application/json" => Some(OtlpEncoding::Json),
            _ => None,
        };
        let gzip = match header(actix_web::http::header::CONTENT_ENCODING).as_str() {
            "" | "identity" => Some(false),
            "gzip" => Some(true),
            _ => None,
        };
        let declared_len = header(actix_web::http::header::CONTENT_LENGTH)
            .parse::<usize>()
            .ok();
        let mut raw = payload.take();
        Box::pin(async move {
            let unsupported = |what: String| {
                ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorCode::UnsupportedContentType,
                    what,
                )
            };
            let Some(encoding) = encoding else {
                return Err(unsupported(format!(
                    "OTLP/HTTP is application/x-protobuf or application/json, not {mime:?}"
                )));
            };
            let Some(gzip) = gzip else {
                return Err(unsupported(
                    "Content-Encoding must be gzip or none".to_string(),
                ));
            };
            if declared_len.is_some_and(|n| n > OTLP_MAX_BODY) {
                return Err(too_large(OTLP_MAX_BODY));
            }
            let raw = read_limited(&mut raw, OTLP_MAX_BODY).await?.freeze();
            Ok(OtlpBody {
                encoding,
                gzip,
                raw,
            })
        })
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!("the body exceeds the limit of {limit} bytes"),
    )
}

/// The request's media type, lower-cased, without parameters.
fn mime(req: &HttpRequest) -> String {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_json(req: &HttpRequest) -> bool {
    let mime = mime(req);
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
        llmlab_app::input::parse_json(bytes).map_err(ApiError::from)
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct T {
        a: i64,
        b: Option<Vec<U>>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct U {
        c: u32,
    }

    #[test]
    fn classifies_errors() {
        let e = parse_json::<T>(b"{\"a\": ").err().map(|e| e.status);
        assert_eq!(e, Some(StatusCode::BAD_REQUEST));
        let e = parse_json::<T>(b"{\"a\": \"ten\"}").err();
        assert_eq!(
            e.as_ref().map(|e| e.status),
            Some(StatusCode::UNPROCESSABLE_ENTITY)
        );
        assert_eq!(
            e.and_then(|e| e.details).map(|d| d["field"].clone()),
            Some("a".into())
        );
        let e = parse_json::<T>(b"{\"a\": 1, \"b\": [{\"c\": -1}]}").err();
        assert_eq!(
            e.and_then(|e| e.details).map(|d| d["field"].clone()),
            Some("b[0].c".into())
        );
        let e = parse_json::<T>(b"{}").err();
        assert_eq!(
            e.and_then(|e| e.details).map(|d| d["field"].clone()),
            Some("a".into())
        );
        let e = parse_json::<T>(b"{\"a\": 1} x").err().map(|e| e.status);
        assert_eq!(e, Some(StatusCode::BAD_REQUEST));
        let deep = "[".repeat(10_000);
        let e = parse_json::<T>(deep.as_bytes()).err().map(|e| e.status);
        assert!(e.is_some_and(|s| s.is_client_error()));
    }
}
