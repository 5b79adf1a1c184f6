//! Prometheus metrics at `/metrics` (OpenMetrics text): requests and their latency per
//! route *pattern* (`/api/budgets/{budget_id}`, never the raw path, so ids cannot blow up
//! the label space), events ingested by outcome, webhook attempts by outcome, reads the
//! read replica served and those that fell back to the primary (by reason).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The registry and the metrics the server updates.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    events: Family<OutcomeLabels, Counter>,
    webhooks: Family<OutcomeLabels, Counter>,
    replica_reads: Counter,
    replica_fallbacks: Family<ReasonLabels, Counter>,
    otlp_skipped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("llmlab");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let events = Family::<OutcomeLabels, Counter>::default();
        let webhooks = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "events_ingested",
            "Events by outcome: inserted, duplicate, rejected",
            events.clone(),
        );
        registry.register(
            "webhook_attempts",
            "Budget alert webhook attempts by outcome: delivered, failed",
            webhooks.clone(),
        );
        let replica_reads = Counter::default();
        let replica_fallbacks = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "replica_reads",
            "Reads served by the read replica (LLMLAB_READ_DATABASE_URL)",
            replica_reads.clone(),
        );
        registry.register(
            "replica_fallbacks",
            "Reads meant for the read replica that went to the primary, by reason: \
             unreachable, lagging, failed (a read the replica failed, retried on the primary)",
            replica_fallbacks.clone(),
        );
        let otlp_skipped = Counter::default();
        registry.register(
            "otlp_spans_skipped",
            "Spans received on /v1/traces without GenAI token usage (not events)",
            otlp_skipped.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            events,
            webhooks,
            replica_reads,
            replica_fallbacks,
            otlp_skipped,
        }
    }
}

impl Metrics {
    /// Counts `n` events with `outcome`.
    pub fn events(&self, outcome: &str, n: u64) {
        if n > 0 {
            self.events
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.to_string(),
                })
                .inc_by(n);
        }
    }

    /// Counts one webhook attempt.
    pub fn webhook(&self, delivered: bool) {
        let outcome = if delivered { "delivered" } else { "failed" };
        self.webhooks
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts one read served by the read replica.
    pub fn replica_read(&self) {
        self.replica_reads.inc();
    }

    /// Counts one read meant for the replica that went to the primary, and why.
    pub fn replica_fallback(&self, reason: &'static str) {
        self.replica_fallbacks
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Counts `n` spans received over OTLP that were not GenAI calls.
    pub fn otlp_skipped(&self, n: u64) {
        self.otlp_skipped.inc_by(n);
    }

    fn request(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// The exposition text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

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
