//! Authentication: sign-up, login and the session.

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use llmlab_app::accounts::Attempt;

/// `{email, password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    /// Email address (case-insensitive).
    pub email: String,
    /// At least 8 characters.
    pub password: String,
}

impl Credentials {
    /// The sign-up or log-in these credentials make from `req`'s client, now.
    pub fn attempt(self, req: &HttpRequest) -> Attempt {
        Attempt {
            email: self.email,
            password: self.password,
            client_ip: req
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            at: Utc::now(),
        }
    }
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
