//! What the notification scheduler's visits read, for a whole batch of due workspaces
//! at once: one statement per kind of row for up to a few hundred workspaces, where
//! visits of their own would send one per workspace each. On a sharded database each
//! statement asks the shards holding the batch's workspaces.

use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::rollups;
use crate::schema::{budget_channels, budgets, channels, events, workspaces};
use crate::sql::Sql;
use crate::{AnyConnection, BudgetId, BudgetRow, ChannelId, ChannelRow, StoreError, WorkspaceId};

const DAY_MICROS: i64 = 86_400_000_000;

/// Spend of one workspace on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct DaySpend {
    /// The workspace.
    #[diesel(sql_type = BigInt)]
    pub workspace_id: WorkspaceId,
    /// 00:00 UTC of the day, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub day_start_micros: i64,
    /// Nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
}

/// What the visits of a batch of workspaces read, each list ordered by workspace.
#[derive(Debug, Clone, Default)]
pub struct Visits {
    /// Each workspace's name and time zone.
    pub workspaces: Vec<(WorkspaceId, String, String)>,
    /// The channels the workspaces manage (not budgets' own).
    pub channels: Vec<ChannelRow>,
    /// Their budgets.
    pub budgets: Vec<BudgetRow>,
    /// The channels chosen for each budget.
    pub budget_channels: Vec<(WorkspaceId, BudgetId, ChannelId)>,
    /// Spend per UTC day over the days asked for, oldest first; days without spend
    /// are absent.
    pub days: Vec<DaySpend>,
    /// The workspaces holding events stored without a price.
    pub unpriced: Vec<WorkspaceId>,
    /// Their commitments.
    pub commitments: Vec<crate::commitments::CommitmentRow>,
}

/// Everything the visits of the workspaces `ids` read, with their spend per UTC day
/// from 00:00 UTC of `first_day` to `end_day` (microseconds; whole days, so that the
/// rollups alone hold it): seven statements, whatever the number of workspaces.
pub fn read(
    conn: &mut AnyConnection,
    ids: &[WorkspaceId],
    first_day: i64,
    end_day: i64,
) -> Result<Visits, StoreError> {
    if ids.is_empty() {
        return Ok(Visits::default());
    }
    let workspaces = workspaces::table
        .filter(workspaces::id.eq_any(ids))
        .order(workspaces::id)
        .select((workspaces::id, workspaces::name, workspaces::timezone))
        .load(conn)?;
    let channels = channels::table
        .filter(channels::workspace_id.eq_any(ids))
        .filter(channels::budget_id.is_null())
        .order((channels::workspace_id, channels::id))
        .select(ChannelRow::as_select())
        .load(conn)?;
    let budgets = budgets::table
        .filter(budgets::workspace_id.eq_any(ids))
        .order((budgets::workspace_id, budgets::id))
        .select(BudgetRow::as_select())
        .load(conn)?;
    let budget_channels = budget_channels::table
        .filter(budget_channels::workspace_id.eq_any(ids))
        .order((
            budget_channels::workspace_id,
            budget_channels::budget_id,
            budget_channels::channel_id,
        ))
        .select((
            budget_channels::workspace_id,
            budget_channels::budget_id,
            budget_channels::channel_id,
        ))
        .load(conn)?;
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT r.workspace_id AS workspace_id, ");
    sql.push(&format!(
        "r.slot - (((r.slot % {DAY_MICROS}) + {DAY_MICROS}) % {DAY_MICROS})"
    ));
    sql.push(
        " AS day_start_micros, CAST(SUM(r.cost_nanos) AS BIGINT) AS cost_nanos \
         FROM event_rollups r WHERE r.workspace_id IN (",
    );
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.int(id.get());
    }
    sql.push(") AND r.slot >= ")
        .int(rollups::slot_of(first_day))
        .push(" AND r.slot < ")
        .int(rollups::slot_of(end_day))
        .push(" GROUP BY 1, 2 ORDER BY 1, 2");
    let days = sql.load(conn)?;
    // Found through the partial index of unpriced events.
    let unpriced = events::table
        .filter(events::workspace_id.eq_any(ids))
        .filter(events::cost_source.eq("unpriced"))
        .select(events::workspace_id)
        .distinct()
        .order(events::workspace_id)
        .load(conn)?;
    let commitments = crate::schema::commitments::table
        .filter(crate::schema::commitments::workspace_id.eq_any(ids))
        .order((
            crate::schema::commitments::workspace_id,
            crate::schema::commitments::id,
        ))
        .select(crate::commitments::CommitmentRow::as_select())
        .load(conn)?;
    Ok(Visits {
        workspaces,
        channels,
        budgets,
        budget_channels,
        days,
        unpriced,
        commitments,
    })
}

store_methods! {
    /// See [`visits::read`](read).
    fn read_visits(ids: &[WorkspaceId], first_day: i64, end_day: i64) -> Visits = with_conn(read);
}
