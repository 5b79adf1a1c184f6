//! Route modules; each exposes `config` registering its handlers (and their OpenAPI).

use actix_web::HttpResponseBuilder;
use chrono::{DateTime, Utc};
use utoipa_actix_web::service_config::ServiceConfig;

pub mod auth;
pub mod budgets;
pub mod channels;
pub mod costs;
pub mod events;
pub mod health;
pub mod keys;
pub mod ledger;
pub mod otlp;
pub mod pricing;
pub mod recommendations;
pub mod workspaces;

/// Every `/api` route.
pub fn config(cfg: &mut ServiceConfig) {
    health::config(cfg);
    auth::config(cfg);
    keys::config(cfg);
    events::config(cfg);
    costs::config(cfg);
    budgets::config(cfg);
    channels::config(cfg);
    pricing::config(cfg);
    ledger::config(cfg);
    recommendations::config(cfg);
    workspaces::config(cfg);
}

/// The head of a CSV download saved as `filename`. With retention on, the per-event
/// detail before `retained_since` is gone (the reports keep its totals), so rows priced
/// per event are complete only from then: `X-LLMLab-Retained-Since` says so.
pub(crate) fn csv_download(
    filename: &str,
    retained_since: Option<DateTime<Utc>>,
) -> HttpResponseBuilder {
    let mut response = actix_web::HttpResponse::Ok();
    if let Some(since) = retained_since {
        response.insert_header(("X-LLMLab-Retained-Since", since.to_rfc3339()));
    }
    response
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ));
    response
}
