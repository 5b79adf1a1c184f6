//! Authentication: sign-up, login and the session.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{email, password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    /// Email address (case-insensitive).
    pub email: String,
    /// At least 8 characters.
    pub password: String,
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// User id.
    pub id: i64,
    /// Email, lower-cased.
    pub email: String,
    /// Sign-up time.
    pub created_at: DateTime<Utc>,
}

/// A session.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    /// Session token (JWT).
    pub token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Expiry of `token`.
    pub expires_at: DateTime<Utc>,
    /// The user.
    pub user: UserOut,
}
