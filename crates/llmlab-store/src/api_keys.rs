//! API keys: stored as a hash, listed by prefix, revoked on delete.

use crate::{ApiKeyId, UserId, WorkspaceId};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::schema::{api_keys, workspaces};
use crate::{AnyConnection, StoreError, now_utc, truncate_micros};

/// `last_used_at` is refreshed at most this often, so authenticating a request does
/// not turn into a write per request.
pub const TOUCH_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// A stored API key.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    /// Primary key.
    pub id: ApiKeyId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Name given by the user.
    pub name: String,
    /// The first characters of the key, shown in listings.
    pub prefix: String,
    /// Hash of the full key.
    pub key_hash: String,
    /// Creation time (naive UTC).
    pub created_at: NaiveDateTime,
    /// Last authenticated use, at [`TOUCH_INTERVAL`] resolution.
    pub last_used_at: Option<NaiveDateTime>,
    /// When the key was deleted; deleted keys never authenticate.
    pub revoked_at: Option<NaiveDateTime>,
    /// What the key may do: a comma-separated subset of `ingest`, `read`.
    pub scopes: String,
    /// Who created the key (`None` once that user is gone).
    pub created_by: Option<UserId>,
    /// Tags stamped on every event the key sends, as a JSON object.
    pub tags_json: String,
}

/// The fields of a new API key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Name given by the user.
    pub name: String,
    /// The first characters of the key.
    pub prefix: String,
    /// Hash of the full key.
    pub key_hash: String,
    /// Comma-separated scopes (`ingest`, `read`).
    pub scopes: String,
    /// Who creates it.
    pub created_by: Option<UserId>,
    /// Default tags for its events, as a JSON object.
    pub tags_json: String,
}

/// Stores a new key for `workspace_id`.
pub fn create(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    new: &NewApiKey,
) -> Result<ApiKeyRow, StoreError> {
    Ok(diesel::insert_into(api_keys::table)
        .values((
            api_keys::workspace_id.eq(workspace_id),
            api_keys::name.eq(&new.name),
            api_keys::prefix.eq(&new.prefix),
            api_keys::key_hash.eq(&new.key_hash),
            api_keys::scopes.eq(&new.scopes),
            api_keys::created_by.eq(new.created_by),
            api_keys::tags_json.eq(&new.tags_json),
            api_keys::created_at.eq(now_utc()),
        ))
        .returning(api_keys::all_columns)
        .get_result(conn)?)
}

/// The user's keys that are not deleted, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<ApiKeyRow>, StoreError> {
    Ok(api_keys::table
        .filter(api_keys::workspace_id.eq(workspace_id))
        .filter(api_keys::revoked_at.is_null())
        .order(api_keys::id)
        .select(ApiKeyRow::as_select())
        .load(conn)?)
}

/// Deletes (revokes) key `id` of `workspace_id`; `false` when the user has no such live key.
pub fn delete(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: ApiKeyId,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(id))
            .filter(api_keys::workspace_id.eq(workspace_id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now_utc()))
    .execute(conn)?;
    Ok(updated > 0)
}

/// The live key with this hash, if any.
pub fn find_active_by_hash(
    conn: &mut AnyConnection,
    key_hash: &str,
) -> Result<Option<ApiKeyRow>, StoreError> {
    Ok(api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?)
}

/// The live key with this hash and its owner's custom-prices version (one round trip
/// for what every request authenticated by a key needs).
pub fn authenticate(
    conn: &mut AnyConnection,
    key_hash: &str,
) -> Result<Option<(ApiKeyRow, i64)>, StoreError> {
    Ok(api_keys::table
        .inner_join(workspaces::table)
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select((ApiKeyRow::as_select(), workspaces::prices_version))
        .first(conn)
        .optional()?)
}

/// Records a use of key `id` at `at`, unless one was recorded less than
/// [`TOUCH_INTERVAL`] earlier.
pub fn touch(conn: &mut AnyConnection, id: ApiKeyId, at: NaiveDateTime) -> Result<(), StoreError> {
    let at = truncate_micros(at);
    diesel::update(
        api_keys::table.filter(api_keys::id.eq(id)).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.le(at - TOUCH_INTERVAL)),
        ),
    )
    .set(api_keys::last_used_at.eq(at))
    .execute(conn)?;
    Ok(())
}

store_methods! {
    /// See [`api_keys::create`](create).
    fn create_api_key(workspace_id: WorkspaceId, new: &NewApiKey) -> ApiKeyRow = write(create);

    /// See [`api_keys::list`](list).
    fn list_api_keys(workspace_id: WorkspaceId) -> Vec<ApiKeyRow> = with_conn(list);

    /// See [`api_keys::delete`](delete).
    fn delete_api_key(workspace_id: WorkspaceId, id: ApiKeyId) -> bool = write(delete);

    /// See [`api_keys::authenticate`](authenticate).
    fn authenticate_api_key(key_hash: &str) -> Option<(ApiKeyRow, i64)> = with_conn(authenticate);

    /// See [`api_keys::touch`](touch).
    fn touch_api_key(id: ApiKeyId, at: NaiveDateTime) -> () = write(touch);
}
