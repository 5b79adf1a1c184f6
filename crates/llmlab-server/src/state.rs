//! What every handler shares.

use std::sync::Arc;
use std::time::Instant;

use llmlab_engine::providers::Catalog;
use llmlab_store::Store;

use crate::auth::{JwtKeys, LoginLimiter};
use crate::config::Settings;

/// Application state, behind `web::Data`.
pub struct AppState {
    /// Database.
    pub store: Store,
    /// Pricing catalog (built-in plus `LLMLAB_CATALOG_PATH`).
    pub catalog: Arc<Catalog>,
    /// Session token keys.
    pub jwt: JwtKeys,
    /// Validated settings.
    pub settings: Settings,
    /// Start time, for `uptime_seconds`.
    pub started: Instant,
    /// Login attempt limiter.
    pub login_limiter: LoginLimiter,
    /// A bcrypt hash compared against when a login names an unknown email, so timing
    /// does not reveal which emails exist.
    pub dummy_hash: String,
}
