//! Prometheus metrics, served by the server at `/metrics` (OpenMetrics text): requests
//! and their latency per route *pattern* (`/api/budgets/{budget_id}`, never the raw path, so ids cannot blow up
//! the label space), events ingested by outcome, webhook attempts by outcome, reads the
//! read replica served and those that fell back to the primary (by reason), and what the
//! notification scheduler's ticks cost (seconds, statements, workspaces visited), and
//! the tag rankings built.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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
    tick_seconds: Histogram,
    tick_statements: Histogram,
    workspaces_visited: Counter,
    reservations: Family<OutcomeLabels, Counter>,
    tag_rankings_built: Counter,
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
        // 1 ms … ~33 s, and 1 … ~32,000 statements: an idle tick sits in the first
        // buckets, one that visits every workspace of a large deployment in the last.
        let tick_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let tick_statements = Histogram::new(exponential_buckets(1.0, 2.0, 16));
        let workspaces_visited = Counter::default();
        registry.register(
            "notify_tick_seconds",
            "Time one notification tick took on this instance",
            tick_seconds.clone(),
        );
        registry.register(
            "notify_tick_statements",
            "Database statements one notification tick sent",
            tick_statements.clone(),
        );
        registry.register(
            "notify_workspaces_visited",
            "Workspaces the notification scheduler visited on this instance (those due)",
            workspaces_visited.clone(),
        );
        let reservations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "budget_reservations",
            "Reservations on hard budgets by outcome: held, refused (a budget without room), \
             full (the workspace's live reservations at LLMLAB_MAX_RESERVATIONS)",
            reservations.clone(),
        );
        let tag_rankings_built = Counter::default();
        registry.register(
            "tag_rankings_built",
            "Rankings of a tag key's values built for the reports by tag (one per key \
             and day, and after writes into past days)",
            tag_rankings_built.clone(),
        );
        Metrics {
            registry,
            tag_rankings_built,
            reservations,
            tick_seconds,
            tick_statements,
            workspaces_visited,
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

    /// Counts one reservation on hard budgets by `outcome` (`held`, `refused`, `full`).
    pub fn reservation(&self, outcome: &str) {
        self.reservations
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
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

    /// Counts one tag ranking built.
    pub fn tag_ranking_built(&self) {
        self.tag_rankings_built.inc();
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

    /// Records one notification tick: how long it took, the statements it sent and the
    /// workspaces it visited.
    pub fn notify_tick(&self, seconds: f64, statements: u64, visited: u64) {
        self.tick_seconds.observe(seconds);
        #[allow(clippy::cast_precision_loss)] // a count far below 2^52
        self.tick_statements.observe(statements as f64);
        self.workspaces_visited.inc_by(visited);
    }

    /// Counts one HTTP request (the server's middleware calls it) and its latency.
    pub fn request(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
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
