//! Custom prices: a workspace's own rates for a `(provider, model)`, one row per
//! revision (see [`upsert`]).

use crate::WorkspaceId;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::schema::{custom_prices, workspaces};
use crate::{AnyConnection, StoreError, now_utc};

/// A stored custom price. Rates are USD per million tokens in micro-dollars
/// (`2_500_000` = $2.50 / MTok).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = custom_prices)]
pub struct CustomPriceRow {
    /// Primary key.
    pub id: i64,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The rates and the date they start, as set.
    #[diesel(embed)]
    pub price: NewCustomPrice,
    /// When this revision was stored (naive UTC).
    pub created_at: NaiveDateTime,
    /// Same as `created_at` (revisions are never changed).
    pub updated_at: NaiveDateTime,
    /// When the price was removed; the row stays for the events it priced.
    pub deleted_at: Option<NaiveDateTime>,
}

impl CustomPriceRow {
    /// The revision number: the row's id, unique in the workspace.
    pub fn revision(&self) -> i64 {
        self.id
    }
}

/// The fields of a custom price (rates in micro-dollars per million tokens).
#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = custom_prices, treat_none_as_default_value = false)]
pub struct NewCustomPrice {
    /// Provider id.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Input rate.
    pub input_micros: i64,
    /// Output rate.
    pub output_micros: i64,
    /// Cache-read rate.
    pub cached_input_micros: Option<i64>,
    /// Cache-write rate.
    pub cache_write_micros: Option<i64>,
    /// Batch API discount in percent.
    pub batch_discount_pct: Option<i32>,
    /// 1-hour cache-write rate; `None`: such tokens are refused for this model.
    pub cache_write_1h_micros: Option<i64>,
    /// Audio input rate; `None`: audio input tokens are refused for this model.
    pub input_audio_micros: Option<i64>,
    /// Audio output rate; `None`: audio output tokens are refused for this model.
    pub output_audio_micros: Option<i64>,
    /// Pico-dollars a minute of audio in; `None`: refused for this model.
    pub audio_input_minute_picos: Option<i64>,
    /// Pico-dollars a character of speech; `None`: refused for this model.
    pub output_character_picos: Option<i64>,
    /// Pico-dollars a web search call; `None`: refused for this model.
    pub web_search_call_picos: Option<i64>,
    /// Pico-dollars a code session; `None`: refused for this model.
    pub code_session_picos: Option<i64>,
    /// The first date it prices; `None`: every date (until a later-dated revision).
    pub effective_from: Option<NaiveDate>,
}

/// Moves the workspace's `prices_version` on, so every instance's cached copy of their prices
/// is stale from the commit on. Runs in the transaction that changes the prices: a
/// version that moved before the prices did would let a reader cache old prices under
/// the new version.
pub(crate) fn bump_version(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<(), StoreError> {
    diesel::update(workspaces::table.find(workspace_id))
        .set(workspaces::prices_version.eq(workspaces::prices_version + 1))
        .execute(conn)?;
    Ok(())
}

/// The workspace's `prices_version`, held for the rest of the transaction: a price change
/// (which moves it, [`bump_version`]) waits until the transaction ends. Exclusively
/// among writers of the row (`FOR NO KEY UPDATE`): shared locks of overlapping
/// transactions would let a waiting price change starve behind them for as long as they
/// keep overlapping, where exclusive ones queue it after the current holder. Not
/// `FOR UPDATE`, which also blocks the foreign-key checks of every insert naming the
/// workspace: ingestion, holding rollup rows this transaction adjusts next, would wait
/// for it while it waits for them (a deadlock). On SQLite the write transaction (`BEGIN
/// IMMEDIATE`) already excludes every other writer.
pub fn hold_version(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<i64, StoreError> {
    match conn {
        AnyConnection::Postgresql(c) => Ok(workspaces::table
            .find(workspace_id)
            .select(workspaces::prices_version)
            .for_no_key_update()
            .first(c)?),
        AnyConnection::Sqlite(_) => version(conn, workspace_id),
    }
}

/// The user's `prices_version` (see [`bump_version`]).
pub fn version(conn: &mut AnyConnection, workspace_id: WorkspaceId) -> Result<i64, StoreError> {
    Ok(workspaces::table
        .find(workspace_id)
        .select(workspaces::prices_version)
        .first(conn)?)
}

/// Adds a revision of the workspace's price for `(provider, model)`: every change is a
/// new row, never an overwrite, so the events it prices can point at it. Call it in a
/// transaction ([`Store::upsert_custom_price`](crate::Store::upsert_custom_price)
/// does): it also moves the version.
pub fn upsert(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    price: &NewCustomPrice,
) -> Result<CustomPriceRow, StoreError> {
    use custom_prices::dsl as p;
    bump_version(conn, workspace_id)?;
    let now = now_utc();
    let row = (
        p::workspace_id.eq(workspace_id),
        price,
        p::created_at.eq(now),
        p::updated_at.eq(now),
    );
    Ok(with_backend!(conn, |c| diesel::insert_into(
        p::custom_prices
    )
    .values(row)
    .returning(CustomPriceRow::as_returning())
    .get_result(c))?)
}

/// The workspace's live custom price revisions (not deleted), by provider, model and
/// revision: what pricing reads.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<CustomPriceRow>, StoreError> {
    revisions(conn, workspace_id, false)
}

/// Every revision the workspace ever set, deleted ones included, oldest first per model.
pub fn history(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<CustomPriceRow>, StoreError> {
    revisions(conn, workspace_id, true)
}

fn revisions(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    deleted_too: bool,
) -> Result<Vec<CustomPriceRow>, StoreError> {
    let mut query = custom_prices::table
        .filter(custom_prices::workspace_id.eq(workspace_id))
        .order((
            custom_prices::provider,
            custom_prices::model,
            custom_prices::id,
        ))
        .select(CustomPriceRow::as_select())
        .into_boxed();
    if !deleted_too {
        query = query.filter(custom_prices::deleted_at.is_null());
    }
    Ok(query.load(conn)?)
}

/// Ends the workspace's price for `(provider, model)` (every revision is marked deleted
/// and kept, so the events it priced still say which it was); `false` if there was none.
/// Call it in a transaction
/// ([`Store::delete_custom_price`](crate::Store::delete_custom_price) does): it also
/// moves the version.
pub fn delete(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    provider: &str,
    model: &str,
) -> Result<bool, StoreError> {
    let deleted = diesel::update(
        custom_prices::table
            .filter(custom_prices::workspace_id.eq(workspace_id))
            .filter(custom_prices::provider.eq(provider))
            .filter(custom_prices::model.eq(model))
            .filter(custom_prices::deleted_at.is_null()),
    )
    .set(custom_prices::deleted_at.eq(now_utc()))
    .execute(conn)?;
    if deleted > 0 {
        bump_version(conn, workspace_id)?;
    }
    Ok(deleted > 0)
}

store_methods! {
    /// See [`prices::upsert`](upsert).
    fn upsert_custom_price(
        workspace_id: WorkspaceId,
        price: &NewCustomPrice,
    ) -> CustomPriceRow = transaction(upsert);

    /// See [`prices::list`](list).
    fn list_custom_prices(workspace_id: WorkspaceId) -> Vec<CustomPriceRow> = with_conn(list);

    /// See [`prices::delete`](delete).
    fn delete_custom_price(
        workspace_id: WorkspaceId,
        provider: &str,
        model: &str,
    ) -> bool = transaction(delete);
}
