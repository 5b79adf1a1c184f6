//! Spend per sender: each API key, and people's sessions.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::DAY_MICROS;
use super::plan::{Src, costliest_first, push_floor};
use super::rows::Sums;
use crate::sql::Sql;
use crate::{AnyConnection, ApiKeyId, EventFilter, Sender, StoreError, WorkspaceId};

/// Totals of one sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderTotals {
    /// Who sent the events.
    pub sender: Sender,
    /// The key's name (`None` for sessions, and for a key since deleted).
    pub name: Option<String>,
    /// Its sums.
    pub sums: Sums,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<BigInt>)]
    api_key_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(embed)]
    sums: Sums,
}

/// Totals per sender of the events `filter` selects, costliest first. Rollups do not
/// keep the sender, so this reads the events of the range (one grouped scan).
pub fn by_sender(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
) -> Result<Vec<SenderTotals>, StoreError> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT e.api_key_id AS api_key_id, MAX(k.name) AS name, ")
        .push(&Src::Events.totals())
        .push(
            " FROM events e LEFT JOIN api_keys k \
             ON k.workspace_id = e.workspace_id AND k.id = e.api_key_id WHERE ",
        );
    filter.push_where(&mut sql, workspace_id);
    sql.push(" GROUP BY e.api_key_id");
    let mut rows: Vec<SenderTotals> = sql
        .load::<Row>(conn)?
        .into_iter()
        .map(|r| SenderTotals {
            sender: r
                .api_key_id
                .map_or(Sender::Session, |k| Sender::Key(ApiKeyId(k))),
            name: r.name,
            sums: r.sums,
        })
        .collect();
    costliest_first(
        &mut rows,
        |r| (r.sums.cost_nanos, r.sums.calls),
        |r| format!("{:?}", r.sender),
    );
    Ok(rows)
}

/// One sender's spend on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DailySenderRow {
    /// Start of the UTC day, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub day_start_micros: i64,
    /// The API key; `None` for sessions.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub api_key_id: Option<i64>,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
}

/// Spend per UTC day and sender of the events `filter` selects (one grouped scan of the
/// range's events, as [`by_sender`]): what converting it day by day needs.
pub fn daily_by_sender(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
) -> Result<Vec<DailySenderRow>, StoreError> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT ");
    push_floor(&mut sql, "e.ts", DAY_MICROS);
    sql.push(
        " AS day_start_micros, e.api_key_id AS api_key_id, \
         CAST(SUM(e.cost_nanos) AS BIGINT) AS cost_nanos FROM events e WHERE ",
    );
    filter.push_where(&mut sql, workspace_id);
    sql.push(" GROUP BY 1, 2");
    Ok(sql.load(conn)?)
}
