//! API keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::KeyScope;

/// `{name}` of a new API key.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewKeyRequest {
    /// A label for the key.
    pub name: String,
    /// What the key may do (default `["ingest"]`). No key can manage the account.
    pub scopes: Option<Vec<KeyScope>>,
}

/// A freshly created API key: `key` is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// Key id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// The secret key; store it now, it is never shown again.
    pub key: String,
    /// First characters, to recognise the key later.
    pub prefix: String,
    /// What the key may do.
    pub scopes: Vec<KeyScope>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An API key as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    /// Key id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// First characters of the key.
    pub prefix: String,
    /// What the key may do.
    pub scopes: Vec<KeyScope>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last time the key authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `{keys: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// The user's keys.
    pub keys: Vec<KeyOut>,
}
