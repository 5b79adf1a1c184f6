//! Route modules; each exposes `config` registering its handlers (and their OpenAPI).

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
