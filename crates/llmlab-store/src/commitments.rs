//! Commitments: an amount prepaid or committed to a provider (or to all) over a period
//! of days. Their consumption is the ledger's spend in that scope and period.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::schema::commitments;
use crate::{AnyConnection, EventFilter, StoreError, WorkspaceId, now_utc};

/// A stored commitment.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = commitments)]
pub struct CommitmentRow {
    /// Its id.
    pub id: i64,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// What it is.
    #[diesel(embed)]
    pub spec: NewCommitment,
    /// Created (naive UTC).
    pub created_at: NaiveDateTime,
}

/// The fields of a commitment.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = commitments, treat_none_as_default_value = false)]
pub struct NewCommitment {
    /// Name, unique per workspace.
    pub name: String,
    /// The provider it is with; `None` for all.
    pub provider: Option<String>,
    /// The amount, nano-dollars.
    pub amount_nanos: i64,
    /// First day (UTC), inclusive.
    pub start_date: NaiveDate,
    /// Last day (UTC), inclusive.
    pub end_date: NaiveDate,
}

impl CommitmentRow {
    /// The events it consumes: its provider's (or all), from its first day's start to
    /// its last day's end (UTC).
    pub fn filter(&self) -> EventFilter {
        let micros = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_micros())
        };
        EventFilter {
            provider: self.spec.provider.clone(),
            start_micros: micros(self.spec.start_date),
            end_micros: self.spec.end_date.succ_opt().and_then(micros),
            ..EventFilter::default()
        }
    }
}

/// Creates a commitment; a name the workspace already uses is a
/// [`StoreError::Conflict`].
pub fn create(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    new: &NewCommitment,
) -> Result<CommitmentRow, StoreError> {
    let row = (
        commitments::workspace_id.eq(workspace_id),
        new,
        commitments::created_at.eq(now_utc()),
    );
    with_backend!(conn, |c| diesel::insert_into(commitments::table)
        .values(row)
        .returning(CommitmentRow::as_returning())
        .get_result(c))
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict("a commitment with this name exists".into())
        }
        other => other,
    })
}

/// The workspace's commitments, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<CommitmentRow>, StoreError> {
    Ok(commitments::table
        .filter(commitments::workspace_id.eq(workspace_id))
        .order(commitments::id)
        .select(CommitmentRow::as_select())
        .load(conn)?)
}

/// Deletes commitment `id` of the workspace; `false` when it has none such.
pub fn delete(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: i64,
) -> Result<bool, StoreError> {
    let deleted = diesel::delete(
        commitments::table
            .filter(commitments::workspace_id.eq(workspace_id))
            .filter(commitments::id.eq(id)),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

store_methods! {
    /// See [`commitments::list`](list).
    fn list_commitments(workspace_id: WorkspaceId) -> Vec<CommitmentRow> = with_conn(list);
}
