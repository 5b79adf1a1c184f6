//! API keys.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{KeyScope, Scopes};

/// What an API key may do: `ingest` (send events, ask the pre-flight check, estimate,
/// read the catalog) or `read` (the reports).
#[derive(ToSchema)]
#[schema(as = KeyScope)]
#[allow(dead_code)] // The document's description of `llmlab_app::access::KeyScope`.
enum KeyScopeSchema {
    #[schema(rename = "ingest")]
    Ingest,
    #[schema(rename = "read")]
    Read,
}

/// `{name}` of a new API key.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewKeyRequest {
    /// A label for the key.
    pub name: String,
    /// What the key may do (default `["ingest"]`). No key can manage the workspace.
    #[schema(value_type = Option<Vec<KeyScopeSchema>>)]
    pub scopes: Option<Vec<KeyScope>>,
    /// Tags stamped on every event the key sends; the event's own tag wins on the same
    /// key.
    pub tags: Option<BTreeMap<String, String>>,
}

// `CreatedKey` lists `KeyOut`'s fields (but `last_used_at`) instead of flattening one:
// utoipa draws a flattened field as an `allOf`, and both schemas are published flat.
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
    #[schema(value_type = Vec<KeyScopeSchema>)]
    pub scopes: Vec<KeyScope>,
    /// Tags stamped on the key's events.
    pub tags: BTreeMap<String, String>,
    /// The user who created the key (`null` once they are gone).
    pub created_by: Option<i64>,
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
    #[schema(value_type = Vec<KeyScopeSchema>)]
    pub scopes: Vec<KeyScope>,
    /// Tags stamped on the key's events.
    pub tags: BTreeMap<String, String>,
    /// The user who created the key (`null` once they are gone).
    pub created_by: Option<i64>,
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

impl From<llmlab_app::ApiKeyRow> for KeyOut {
    fn from(r: llmlab_app::ApiKeyRow) -> KeyOut {
        KeyOut {
            id: r.id.get(),
            name: r.name,
            prefix: r.prefix,
            scopes: Scopes::parse_stored(&r.scopes).list(),
            tags: serde_json::from_str(&r.tags_json).unwrap_or_default(),
            created_by: r.created_by.map(|u| u.get()),
            created_at: r.created_at.and_utc(),
            last_used_at: r.last_used_at.map(|t| t.and_utc()),
        }
    }
}
