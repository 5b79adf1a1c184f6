//! API keys: created within the account's limit with their scopes, shown once, deleted
//! (revoked on every instance from the next request on).

use llmlab_store::{ApiKeyRow, NewApiKey, Store};

use crate::access::Scopes;
use crate::app::{AppError, ensure_room};
use crate::auth::{API_KEY_PREFIX, hash_api_key, new_api_key};

/// A new key: its row and the key itself, which nothing stores and no later call shows.
pub struct Created {
    /// The stored key (its hash, prefix, scopes).
    pub row: ApiKeyRow,
    /// `llmlab_…`.
    pub key: String,
}

/// Creates a key named `name` with `scopes` for the account, within `limit` keys.
pub fn create(
    s: &Store,
    user_id: i64,
    name: String,
    scopes: Scopes,
    limit: usize,
) -> Result<Created, AppError> {
    ensure_room("api_keys", s.list_api_keys(user_id)?.len(), limit)?;
    let key = new_api_key();
    let row = s.create_api_key(
        user_id,
        &NewApiKey {
            name,
            prefix: key[..API_KEY_PREFIX.len() + 8].to_string(),
            key_hash: hash_api_key(&key),
            scopes: scopes.to_stored(),
        },
    )?;
    Ok(Created { row, key })
}

/// Deletes (revokes) a key of the account.
pub fn remove(s: &Store, user_id: i64, id: i64) -> Result<(), AppError> {
    if s.delete_api_key(user_id, id)? {
        Ok(())
    } else {
        Err(AppError::NotFound("API key"))
    }
}
