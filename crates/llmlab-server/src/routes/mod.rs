//! Route modules; each exposes `config` registering its handlers (and their OpenAPI).

use actix_web::web;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::state::AppState;

pub mod auth;
pub mod budgets;
pub mod costs;
pub mod events;
pub mod health;
pub mod keys;
pub mod pricing;
pub mod recommendations;

/// Every `/api` route.
pub fn config(cfg: &mut ServiceConfig) {
    health::config(cfg);
    auth::config(cfg);
    keys::config(cfg);
    events::config(cfg);
    costs::config(cfg);
    budgets::config(cfg);
    pricing::config(cfg);
    recommendations::config(cfg);
}

/// Runs a blocking store call off the async executor, for the routes whose use case is
/// one store call.
pub async fn db<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    state: &web::Data<AppState>,
    f: impl FnOnce(&llmlab_store::Store) -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    web::block(move || f(&store)).await?.map_err(Into::into)
}
