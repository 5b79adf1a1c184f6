//! Contracts: a workspace's negotiated discount off catalog prices, for a provider and
//! optionally a model-name prefix, over a period. Pricing reads them with the custom
//! prices (a change moves the same prices version); rows are never changed but to end
//! them, so the events a contract priced can always name it.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::schema::contracts;
use crate::{AnyConnection, StoreError, WorkspaceId, now_utc, prices};

/// A stored contract.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = contracts)]
pub struct ContractRow {
    /// Its id.
    pub id: i64,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// What it is.
    #[diesel(embed)]
    pub spec: NewContract,
    /// When it was ended (naive UTC): it prices nothing from then on.
    pub ended_at: Option<NaiveDateTime>,
    /// Created (naive UTC).
    pub created_at: NaiveDateTime,
}

/// The fields of a contract.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = contracts, treat_none_as_default_value = false)]
pub struct NewContract {
    /// Name, unique per workspace.
    pub name: String,
    /// Provider id, lower-case.
    pub provider: String,
    /// Only models whose catalog name starts with this (lower-case); `None`: all.
    pub model_prefix: Option<String>,
    /// Basis points off list prices (0 to 10,000).
    pub discount_bp: i32,
    /// First day (UTC), inclusive.
    pub effective_from: NaiveDate,
    /// Last day (UTC), inclusive; `None`: open-ended.
    pub effective_to: Option<NaiveDate>,
}

/// Creates a contract and moves the workspace's prices version (call it in a
/// transaction); a name the workspace already uses is a [`StoreError::Conflict`].
pub fn create(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    new: &NewContract,
) -> Result<ContractRow, StoreError> {
    prices::bump_version(conn, workspace_id)?;
    let row = (
        contracts::workspace_id.eq(workspace_id),
        new,
        contracts::created_at.eq(now_utc()),
    );
    with_backend!(conn, |c| diesel::insert_into(contracts::table)
        .values(row)
        .returning(ContractRow::as_returning())
        .get_result(c))
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("a contract with this name exists".into()),
        other => other,
    })
}

/// The workspace's contracts, ended ones included (they priced what came before their
/// end), oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<ContractRow>, StoreError> {
    Ok(contracts::table
        .filter(contracts::workspace_id.eq(workspace_id))
        .order(contracts::id)
        .select(ContractRow::as_select())
        .load(conn)?)
}

/// Ends contract `id` at `at` (one already ended keeps its end) and moves the prices
/// version (call it in a transaction); `None` when the workspace has no such contract.
pub fn end(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: i64,
    at: NaiveDateTime,
) -> Result<Option<ContractRow>, StoreError> {
    let mine = contracts::table
        .filter(contracts::workspace_id.eq(workspace_id))
        .filter(contracts::id.eq(id));
    let ended = diesel::update(mine.filter(contracts::ended_at.is_null()))
        .set(contracts::ended_at.eq(at))
        .execute(conn)?;
    if ended > 0 {
        prices::bump_version(conn, workspace_id)?;
    }
    Ok(mine
        .select(ContractRow::as_select())
        .first(conn)
        .optional()?)
}

store_methods! {
    /// See [`contracts::list`](list).
    fn list_contracts(workspace_id: WorkspaceId) -> Vec<ContractRow> = with_conn(list);
}
