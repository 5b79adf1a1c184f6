//! API keys: created within the account's limit with their scopes, shown once, deleted
//! (revoked on every instance from the next request on).

use std::collections::BTreeMap;

use llmlab_store::{ApiKeyId, ApiKeyRow, NewApiKey, Store, WorkspaceId, api_keys};

use crate::access::Scopes;
use crate::auth::{API_KEY_PREFIX, Credential, Identity, hash_api_key, new_api_key};
use crate::credentials::KeyCache;
use crate::{AppError, Audit, audited, audited_delete, ensure_room};

/// A new key: its row and the key itself, which nothing stores and no later call shows.
pub struct Created {
    /// The stored key (its hash, prefix, scopes).
    pub row: ApiKeyRow,
    /// `llmlab_…`.
    pub key: String,
}

/// What a new key is: its name, scopes and default tags.
pub struct KeySpec {
    /// A label.
    pub name: String,
    /// What it may do.
    pub scopes: Scopes,
    /// Tags stamped on its events.
    pub tags: BTreeMap<String, String>,
}

impl KeySpec {
    /// A key named `name` (trimmed: 1 to 100 characters, no control characters) with
    /// `scopes` and default `tags` (the rules of event tags): what every face checks.
    pub fn new(
        name: &str,
        scopes: Scopes,
        tags: BTreeMap<String, String>,
    ) -> Result<KeySpec, AppError> {
        let name = name.trim().to_string();
        crate::input::check_text("name", &name)?;
        if name.is_empty() || name.len() > 100 {
            return Err(AppError::invalid("name", "must be 1 to 100 characters"));
        }
        crate::ingest::validate_tags(&tags)?;
        Ok(KeySpec { name, scopes, tags })
    }
}

/// Creates a key in `workspace` for `by`, within `limit` keys.
pub fn create(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    spec: KeySpec,
    limit: usize,
) -> Result<Created, AppError> {
    ensure_room("api_keys", s.list_api_keys(workspace)?.len(), limit)?;
    let key = new_api_key();
    let created_by = match &by.credential {
        Credential::Session { user_id, .. } => Some(*user_id),
        Credential::ApiKey { .. } => None,
    };
    let new = NewApiKey {
        name: spec.name,
        prefix: key[..API_KEY_PREFIX.len() + 8].to_string(),
        key_hash: hash_api_key(&key),
        scopes: spec.scopes.to_stored(),
        created_by,
        tags_json: serde_json::to_string(&spec.tags)
            .map_err(|e| AppError::Internal(e.to_string()))?,
    };
    let row = audited(s, workspace, &by.actor(), |c| {
        let row = api_keys::create(c, workspace, &new)?;
        let audit = Audit {
            action: "key.create",
            target_kind: "api_key",
            target_id: row.id.to_string(),
            details: serde_json::json!({"name": row.name, "scopes": row.scopes, "tags": spec.tags}),
        };
        Ok((row, audit))
    })?;
    Ok(Created { row, key })
}

/// Deletes (revokes) a key of `workspace`; `cache` forgets it once the revocation is
/// committed, so this instance refuses it from the next request on.
pub fn remove(
    s: &Store,
    cache: &KeyCache,
    workspace: WorkspaceId,
    by: &Identity,
    id: ApiKeyId,
) -> Result<(), AppError> {
    let audit = Audit {
        action: "key.revoke",
        target_kind: "api_key",
        target_id: id.to_string(),
        details: serde_json::json!({}),
    };
    audited_delete(s, workspace, &by.actor(), "API key", audit, |c| {
        api_keys::delete(c, workspace, id)
    })?;
    cache.forget_key(id);
    Ok(())
}

/// The workspace's API keys (revoked ones left out).
pub fn list(s: &Store, workspace: WorkspaceId) -> Result<Vec<ApiKeyRow>, AppError> {
    Ok(s.list_api_keys(workspace)?)
}
