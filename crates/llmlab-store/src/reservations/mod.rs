//! Reservations against hard budgets: before a call, its worst-case cost is held against
//! every hard budget that covers it, in one transaction that first locks those budgets,
//! so concurrent callers (on any number of instances) queue on the lock and each sees
//! what the ones before it held. The call's event settles the reservation (its rows are
//! deleted in the transaction that stores the event, [`settle`]); a release deletes
//! them early; rows past `expires_at` count for nothing and are swept by the next
//! reservation of the workspace.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use crate::schema::{budget_reservations, budgets};
use crate::{AnyConnection, BudgetId, EventFilter, StoreError, WorkspaceId, write_tx};

mod queue;

pub use queue::{Done, ReserveQueue, Work};

/// One hard budget a reservation is checked against.
#[derive(Debug, Clone)]
pub struct Hold {
    /// The budget.
    pub budget_id: BudgetId,
    /// Its amount, nano-dollars.
    pub amount_nanos: i64,
    /// The events it counts in its current period.
    pub counts: EventFilter,
}

/// What to reserve.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The reservation's id, unique in the workspace.
    pub reservation_id: &'a str,
    /// The call's worst-case cost, nano-dollars.
    pub amount_nanos: i64,
    /// Now, microseconds since the epoch: rows expiring at or before it are not live.
    pub now: i64,
    /// When the reservation lapses, microseconds since the epoch.
    pub expires_at: i64,
    /// Most live rows (a reservation's hold on one budget) the workspace may have.
    pub max_live: usize,
}

/// Where a hard budget stands: spent in its period, held by live reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The budget.
    pub budget_id: BudgetId,
    /// Its amount, nano-dollars.
    pub amount_nanos: i64,
    /// Spent in its current period.
    pub spent_nanos: i64,
    /// Held by live reservations.
    pub reserved_nanos: i64,
}

impl Standing {
    /// What is left to reserve or spend: amount − spent − reserved, not below 0.
    pub fn available_nanos(&self) -> i64 {
        self.amount_nanos
            .saturating_sub(self.spent_nanos)
            .saturating_sub(self.reserved_nanos)
            .max(0)
    }
}

/// What [`reserve`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Held against every budget; where each stands now, the new hold included.
    Held(Vec<Standing>),
    /// Nothing held: this budget (the first, in the order given) has less available
    /// than the amount; where it stands.
    Refused(Standing),
    /// Nothing held: the workspace has `max_live` live rows already.
    Full,
}

/// Reserves `request.amount_nanos` against every budget of `holds`, or none: see
/// [`reserve_all`], of which this is the one-reservation case.
pub fn reserve(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    holds: &[Hold],
    request: &Request<'_>,
) -> Result<Outcome, StoreError> {
    let ask = Ask {
        holds: holds.to_vec(),
        reservation_id: request.reservation_id.to_string(),
        amount_nanos: request.amount_nanos,
        now: request.now,
        expires_at: request.expires_at,
        max_live: request.max_live,
    };
    reserve_all(conn, workspace_id, std::slice::from_ref(&ask))?
        .pop()
        .ok_or_else(|| StoreError::Query("no outcome for the reservation".into()))
}

/// One reservation of a group ([`reserve_all`], [`ReserveQueue`]).
#[derive(Debug, Clone)]
pub struct Ask {
    /// The hard budgets it is held against.
    pub holds: Vec<Hold>,
    /// Its id, unique in the workspace.
    pub reservation_id: String,
    /// The call's worst-case cost, nano-dollars.
    pub amount_nanos: i64,
    /// Now, microseconds since the epoch.
    pub now: i64,
    /// When it lapses, microseconds since the epoch.
    pub expires_at: i64,
    /// Most live rows the workspace may have.
    pub max_live: usize,
}

/// Rows per multi-row insert (5 bound values each, under SQLite's 32,766).
const INSERT_CHUNK: usize = 1_000;

/// Decides `asks` of one workspace in their order, each on every budget it names or
/// none, in one transaction: the budgets they name are locked (in id order, so two
/// transactions over the same budgets cannot deadlock), their spend and live
/// reservations read once, each ask admitted against what the ones before it left, and
/// the admitted ones' rows inserted together. Concurrent transactions, on any number of
/// instances, queue on the locks and each sees what the ones before it held. On SQLite
/// the write transaction is the lock.
pub fn reserve_all(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    asks: &[Ask],
) -> Result<Vec<Outcome>, StoreError> {
    write_tx(conn, |c| decide_in(c, workspace_id, asks))
}

/// [`reserve_all`] inside the caller's transaction.
pub(crate) fn decide_in(
    c: &mut AnyConnection,
    workspace_id: WorkspaceId,
    asks: &[Ask],
) -> Result<Vec<Outcome>, StoreError> {
    // Each budget once, with the events its first ask says it counts.
    let mut budgets: Vec<&Hold> = asks.iter().flat_map(|a| &a.holds).collect();
    budgets.sort_by_key(|h| h.budget_id);
    budgets.dedup_by_key(|h| h.budget_id);
    let ids: Vec<BudgetId> = budgets.iter().map(|h| h.budget_id).collect();
    lock(c, workspace_id, &ids)?;
    let filters: Vec<EventFilter> = budgets.iter().map(|h| h.counts.clone()).collect();
    let spent: HashMap<BudgetId, i64> = ids
        .iter()
        .copied()
        .zip(crate::analytics::spend_each(c, workspace_id, &filters)?)
        .collect();
    let now = asks.iter().map(|a| a.now).min().unwrap_or(0);
    let mut live = live(c, workspace_id, now)?;
    let mut rows: i64 = live.values().map(|l| l.1).sum();
    let mut outcomes = Vec::with_capacity(asks.len());
    let mut inserts = Vec::new();
    for ask in asks {
        let outcome = admit(ask, &spent, &live, rows);
        if let Outcome::Held(_) = &outcome {
            for h in &ask.holds {
                let held = live.entry(h.budget_id).or_default();
                held.0 = held.0.saturating_add(ask.amount_nanos);
                held.1 += 1;
                rows += 1;
                inserts.push((
                    budget_reservations::workspace_id.eq(workspace_id),
                    budget_reservations::reservation_id.eq(ask.reservation_id.as_str()),
                    budget_reservations::budget_id.eq(h.budget_id),
                    budget_reservations::amount_nanos.eq(ask.amount_nanos),
                    budget_reservations::expires_at.eq(ask.expires_at),
                ));
            }
        }
        outcomes.push(outcome);
    }
    for chunk in inserts.chunks(INSERT_CHUNK) {
        with_backend!(&mut *c, |c| diesel::insert_into(budget_reservations::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(outcomes)
}

/// Whether `ask` fits, given the budgets' spend, what is held (nano-dollars and rows
/// per budget) and the workspace's live rows; where its budgets stand after it.
fn admit(
    ask: &Ask,
    spent: &HashMap<BudgetId, i64>,
    live: &HashMap<BudgetId, (i64, i64)>,
    rows: i64,
) -> Outcome {
    if usize::try_from(rows).unwrap_or(usize::MAX) + ask.holds.len() > ask.max_live {
        return Outcome::Full;
    }
    let mut standings = Vec::with_capacity(ask.holds.len());
    for hold in &ask.holds {
        let mut standing = Standing {
            budget_id: hold.budget_id,
            amount_nanos: hold.amount_nanos,
            spent_nanos: spent.get(&hold.budget_id).copied().unwrap_or(0),
            reserved_nanos: live.get(&hold.budget_id).map_or(0, |l| l.0),
        };
        if ask.amount_nanos > standing.available_nanos() {
            return Outcome::Refused(standing);
        }
        standing.reserved_nanos = standing.reserved_nanos.saturating_add(ask.amount_nanos);
        standings.push(standing);
    }
    Outcome::Held(standings)
}

/// Locks budgets `ids` of the workspace until the transaction ends (PostgreSQL; on
/// SQLite the write transaction already excludes every other writer).
fn lock(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    ids: &[BudgetId],
) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(c) = conn
        && !ids.is_empty()
    {
        budgets::table
            .filter(budgets::workspace_id.eq(workspace_id))
            .filter(budgets::id.eq_any(ids))
            .order(budgets::id)
            .select(budgets::id)
            .for_update()
            .load::<BudgetId>(c)?;
    }
    Ok(())
}

/// The workspace's live reservations per budget: (nano-dollars held, rows). Expired
/// rows found on the way are deleted.
fn live(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    now: i64,
) -> Result<HashMap<BudgetId, (i64, i64)>, StoreError> {
    #[derive(QueryableByName)]
    struct Group {
        #[diesel(sql_type = BigInt)]
        budget_id: i64,
        #[diesel(sql_type = Bool)]
        live: bool,
        #[diesel(sql_type = BigInt)]
        held: i64,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut sql = crate::sql::Sql::new(conn.backend());
    sql.push("SELECT budget_id, expires_at > ")
        .int(now)
        .push(
            " AS live, CAST(SUM(amount_nanos) AS BIGINT) AS held, COUNT(*) AS n \
             FROM budget_reservations WHERE workspace_id = ",
        )
        .int(workspace_id.get())
        .push(" GROUP BY 1, 2");
    let groups: Vec<Group> = sql.load(conn)?;
    if groups.iter().any(|g| !g.live) {
        diesel::delete(
            budget_reservations::table
                .filter(budget_reservations::workspace_id.eq(workspace_id))
                .filter(budget_reservations::expires_at.le(now)),
        )
        .execute(conn)?;
    }
    let mut live = HashMap::new();
    for g in groups.into_iter().filter(|g| g.live) {
        live.insert(BudgetId(g.budget_id), (g.held, g.n));
    }
    Ok(live)
}

/// What live reservations hold against each of `ids` (nano-dollars, in order).
pub fn held_each(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    ids: &[BudgetId],
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(BudgetId, i64)> = with_backend!(conn, |c| budget_reservations::table
        .filter(budget_reservations::workspace_id.eq(workspace_id))
        .filter(budget_reservations::budget_id.eq_any(ids))
        .filter(budget_reservations::expires_at.gt(now))
        .select((
            budget_reservations::budget_id,
            budget_reservations::amount_nanos,
        ))
        .load(c))?;
    let mut held: HashMap<BudgetId, i64> = HashMap::new();
    for (id, nanos) in rows {
        *held.entry(id).or_default() += nanos;
    }
    Ok(ids
        .iter()
        .map(|id| held.get(id).copied().unwrap_or(0))
        .collect())
}

/// Deletes what reservations `ids` hold (their events are stored in the same
/// transaction); an id that holds nothing (settled, released, expired, or never held
/// against a hard budget) is skipped.
pub fn settle(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    ids: &[&str],
) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(
        budget_reservations::table
            .filter(budget_reservations::workspace_id.eq(workspace_id))
            .filter(budget_reservations::reservation_id.eq_any(ids)),
    )
    .execute(conn)?)
}

/// [`settle`], answering the id of each row deleted (one per budget a reservation held).
pub(crate) fn settle_each(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    ids: &[&str],
) -> Result<Vec<String>, StoreError> {
    let target = budget_reservations::table
        .filter(budget_reservations::workspace_id.eq(workspace_id))
        .filter(budget_reservations::reservation_id.eq_any(ids));
    Ok(with_backend!(conn, |c| diesel::delete(target)
        .returning(budget_reservations::reservation_id)
        .get_results(c))?)
}

/// Releases reservation `id` before its call is made (or when it is not made): the
/// number of budgets it held (0 when it was settled, released or expired already).
pub fn release(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: &str,
) -> Result<usize, StoreError> {
    settle(conn, workspace_id, &[id])
}

/// Deletes what reservations hold against budget `id` (the budget is being deleted).
pub fn forget_budget(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: BudgetId,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        budget_reservations::table
            .filter(budget_reservations::workspace_id.eq(workspace_id))
            .filter(budget_reservations::budget_id.eq(id)),
    )
    .execute(conn)?)
}

store_methods! {
    /// See [`reservations::reserve`](reserve).
    fn reserve(
        workspace_id: WorkspaceId,
        holds: &[Hold],
        request: &Request<'_>,
    ) -> Outcome = write(reserve);

    /// See [`reservations::held_each`](held_each).
    fn held_each(workspace_id: WorkspaceId, ids: &[BudgetId], now: i64) -> Vec<i64> = with_conn(held_each);

    /// See [`reservations::release`](release).
    fn release_reservation(workspace_id: WorkspaceId, id: &str) -> usize = write(release);
}
