//! `/metrics` and the middleware that counts every request in `llmlab_app::metrics`
//! under its route *pattern* (`/api/budgets/{budget_id}`, never the raw path, so ids
//! cannot blow up the label space).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use llmlab_app::AppState;

/// The router pattern a request's path matches (`None`: no route), found before
/// routing by [`record`] and kept in the request's extensions for the middleware inside.
#[derive(Debug, Clone)]
pub struct AskedRoute(pub Option<String>);

impl AskedRoute {
    /// The pattern of `req`'s path: from the extensions when [`record`] put it there,
    /// else looked up.
    pub fn of(req: &ServiceRequest) -> Option<String> {
        match req.extensions().get::<AskedRoute>() {
            Some(asked) => asked.0.clone(),
            None => req.request().resource_map().match_pattern(req.path()),
        }
    }
}

/// The method as a label from a closed set: a client may send any token as a method,
/// and every distinct label value would be a series kept forever.
fn method_label(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware recording every request, those refused by the authentication in front of
/// the routes included.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = method_label(req.method());
    // Requests refused before routing (401) are counted under the route they asked for.
    // Looked up once per request; authentication reads it too.
    let asked = req.request().resource_map().match_pattern(req.path());
    req.extensions_mut().insert(AskedRoute(asked.clone()));
    let res = next.call(req).await;
    if let Some(state) = state {
        // The pattern of a registered route, or one label for every other path.
        let (route, status) = match &res {
            Ok(res) => (res.request().match_pattern().or(asked), res.status()),
            Err(e) => (asked, e.as_response_error().status_code()),
        };
        let route = route.unwrap_or_else(|| "unmatched".into());
        state.metrics.request(
            method,
            &route,
            status.as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    res
}

/// `GET /metrics`; with `LLMLAB_METRICS_TOKEN` set, only for `Authorization: Bearer <it>`.
pub async fn serve(state: web::Data<AppState>, req: actix_web::HttpRequest) -> HttpResponse {
    if let Some(token) = &state.settings.metrics_token {
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            return actix_web::ResponseError::error_response(
                &crate::error::ApiError::unauthorized("/metrics needs its bearer token"),
            );
        }
    }
    match state.metrics.encode() {
        Ok(text) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(e) => actix_web::ResponseError::error_response(&crate::error::ApiError::internal(e)),
    }
}

/// Compares without an early exit, so the time taken does not reveal how much of a
/// guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
