//! The price ledger's storage: re-pricing stored events in bounded transactions, the
//! record of re-pricing runs, the models waiting for a price, and the catalog as this
//! database last saw it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::events::EVENT_COLUMNS;
use crate::rollups::{self, Adjustment};
use crate::schema::{catalog_fingerprints, events, reprice_runs};
use crate::sql::Sql;
use crate::{AnyConnection, EventFilter, EventRow, StoreError, WorkspaceId, now_utc};

/// Up to `limit` events of `workspace_id` matching `filter` after `after` (a `(ts, id)`
/// of the previous page), in `(ts, id)` order: re-pricing walks the ledger in these
/// pages, each one range of the `(workspace_id, ts, id)` index.
pub fn page(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    after: Option<(i64, i64)>,
    limit: u32,
) -> Result<Vec<EventRow>, StoreError> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT ")
        .push(&EVENT_COLUMNS)
        .push(" FROM events e WHERE ");
    filter.push_where(&mut sql, workspace_id);
    if let Some((ts, id)) = after {
        sql.push(" AND (e.ts, e.id) > (")
            .int(ts)
            .push(", ")
            .int(id)
            .push(")");
    }
    sql.push(" ORDER BY e.ts, e.id LIMIT ")
        .int(i64::from(limit.max(1)));
    Ok(sql.load(conn)?)
}

/// A stored event's new price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrice {
    /// Cost, nano-dollars.
    pub cost_nanos: i64,
    /// `catalog`, `custom_pricing` or `unpriced` (client costs are never re-priced).
    pub cost_source: String,
    /// The catalog version's first day, for `catalog`.
    pub price_effective_from: Option<NaiveDate>,
    /// The custom price revision, for `custom_pricing`.
    pub price_revision: Option<i64>,
    /// The contract that discounts a `catalog` price, and its basis points.
    pub contract: Option<(i64, i32)>,
}

/// Gives each event its new price, in one transaction with the rollups and running
/// totals that sum it. An event whose cost or source changed since it was read (a
/// concurrent re-pricing) is left alone; returns the events changed. Call it in a
/// transaction.
pub fn reprice(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    changes: &[(EventRow, NewPrice)],
) -> Result<Vec<i64>, StoreError> {
    let mut changed = Vec::with_capacity(changes.len());
    let mut tags: Vec<BTreeMap<String, String>> = Vec::with_capacity(changes.len());
    for (old, new) in changes {
        let n = diesel::update(
            events::table
                .filter(events::id.eq(old.id))
                .filter(events::workspace_id.eq(workspace_id))
                .filter(events::cost_nanos.eq(old.cost_nanos))
                .filter(events::cost_source.eq(&old.cost_source)),
        )
        .set((
            events::cost_nanos.eq(new.cost_nanos),
            events::cost_source.eq(&new.cost_source),
            events::price_effective_from.eq(new.price_effective_from),
            events::price_revision.eq(new.price_revision),
            events::contract_id.eq(new.contract.map(|c| c.0)),
            events::contract_discount_bp.eq(new.contract.map(|c| c.1)),
        ))
        .execute(conn)?;
        if n > 0 {
            changed.push((old, new));
            tags.push(old.tags());
        }
    }
    let unpriced = |source: &str| i64::from(source == rollups::UNPRICED);
    let adjustments: Vec<Adjustment<'_>> = changed
        .iter()
        .zip(&tags)
        .map(|((old, new), tags)| Adjustment {
            ts: old.ts,
            provider: &old.provider,
            resolved_model: &old.resolved_model,
            batch: old.batch,
            tags,
            cost: new.cost_nanos - old.cost_nanos,
            unpriced: unpriced(&new.cost_source) - unpriced(&old.cost_source),
        })
        .collect();
    rollups::adjust(conn, workspace_id, &adjustments)?;
    Ok(changed.iter().map(|(old, _)| old.id).collect())
}

// Its counts share names with `analytics::Sums`: a row of the unpriced report, read by
// name, not a breakdown's sums (no cost, first and last seen).
/// A model with events stored without a price.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct UnpricedModel {
    /// Provider id.
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// The model as sent.
    #[diesel(sql_type = Text)]
    pub model: String,
    /// Its unpriced events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Their input tokens.
    #[diesel(sql_type = BigInt)]
    pub input_tokens: i64,
    /// Their output tokens.
    #[diesel(sql_type = BigInt)]
    pub output_tokens: i64,
    /// The first one's instant (microseconds).
    #[diesel(sql_type = BigInt)]
    pub first_seen: i64,
    /// The last one's instant (microseconds).
    #[diesel(sql_type = BigInt)]
    pub last_seen: i64,
}

/// The models of `workspace_id` with unpriced events, most calls first (at most
/// `limit`).
pub fn unpriced(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    limit: u32,
) -> Result<Vec<UnpricedModel>, StoreError> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT e.provider AS provider, e.model AS model, COUNT(*) AS calls, \
         CAST(SUM(e.input_tokens) AS BIGINT) AS input_tokens, \
         CAST(SUM(e.output_tokens) AS BIGINT) AS output_tokens, \
         MIN(e.ts) AS first_seen, MAX(e.ts) AS last_seen \
         FROM events e WHERE e.workspace_id = ",
    )
    .int(workspace_id.get())
    .push(" AND e.cost_source = 'unpriced' GROUP BY e.provider, e.model ")
    .push("ORDER BY calls DESC, provider, model LIMIT ")
    .int(i64::from(limit));
    Ok(sql.load(conn)?)
}

/// A recorded re-pricing run.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = reprice_runs)]
pub struct RunRow {
    /// Run id.
    pub id: i64,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Who ran it (user id).
    pub actor_id: i64,
    /// Their email.
    pub actor_label: String,
    /// What it was asked, as JSON.
    pub params_json: String,
    /// `running`, `done` or `failed`.
    pub status: String,
    /// Events in its range.
    pub events_matched: i64,
    /// Events whose price it changed.
    pub events_changed: i64,
    /// Their cost before, nano-dollars.
    pub old_cost_nanos: i64,
    /// Their cost after.
    pub new_cost_nanos: i64,
    /// The changes per model, as JSON.
    pub by_model_json: String,
    /// Start (naive UTC).
    pub started_at: NaiveDateTime,
    /// End, once it ended.
    pub finished_at: Option<NaiveDateTime>,
}

/// A run's figures so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFigures {
    /// Events in its range.
    pub events_matched: i64,
    /// Events changed.
    pub events_changed: i64,
    /// Their cost before.
    pub old_cost_nanos: i64,
    /// Their cost after.
    pub new_cost_nanos: i64,
    /// Per model, as JSON.
    pub by_model_json: String,
}

/// Records the start of a run by `actor`; returns its id.
pub fn start_run(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    actor_id: i64,
    actor_label: &str,
    params_json: &str,
) -> Result<i64, StoreError> {
    Ok(diesel::insert_into(reprice_runs::table)
        .values((
            reprice_runs::workspace_id.eq(workspace_id),
            reprice_runs::actor_id.eq(actor_id),
            reprice_runs::actor_label.eq(actor_label),
            reprice_runs::params_json.eq(params_json),
            reprice_runs::status.eq("running"),
            reprice_runs::events_matched.eq(0),
            reprice_runs::events_changed.eq(0),
            reprice_runs::old_cost_nanos.eq(0),
            reprice_runs::new_cost_nanos.eq(0),
            reprice_runs::by_model_json.eq("[]"),
            reprice_runs::started_at.eq(now_utc()),
        ))
        .returning(reprice_runs::id)
        .get_result(conn)?)
}

/// Records a run's figures and its status (`done` or `failed` ends it).
pub fn update_run(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: i64,
    status: &str,
    figures: &RunFigures,
) -> Result<(), StoreError> {
    let finished = (status != "running").then(now_utc);
    diesel::update(
        reprice_runs::table
            .filter(reprice_runs::workspace_id.eq(workspace_id))
            .filter(reprice_runs::id.eq(id)),
    )
    .set((
        reprice_runs::status.eq(status),
        reprice_runs::events_matched.eq(figures.events_matched),
        reprice_runs::events_changed.eq(figures.events_changed),
        reprice_runs::old_cost_nanos.eq(figures.old_cost_nanos),
        reprice_runs::new_cost_nanos.eq(figures.new_cost_nanos),
        reprice_runs::by_model_json.eq(&figures.by_model_json),
        reprice_runs::finished_at.eq(finished),
    ))
    .execute(conn)?;
    Ok(())
}

/// The workspace's runs, newest first (at most `limit`).
pub fn runs(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    limit: i64,
) -> Result<Vec<RunRow>, StoreError> {
    Ok(reprice_runs::table
        .filter(reprice_runs::workspace_id.eq(workspace_id))
        .order(reprice_runs::id.desc())
        .limit(limit)
        .select(RunRow::as_select())
        .load(conn)?)
}

/// Every workspace with events (what a database-wide re-pricing walks).
pub fn workspaces_with_events(conn: &mut AnyConnection) -> Result<Vec<WorkspaceId>, StoreError> {
    Ok(crate::schema::ledger_totals::table
        .select(crate::schema::ledger_totals::workspace_id)
        .order(crate::schema::ledger_totals::workspace_id)
        .load(conn)?)
}

/// The catalog's price history per model as last recorded.
pub fn fingerprints(conn: &mut AnyConnection) -> Result<BTreeMap<String, String>, StoreError> {
    Ok(catalog_fingerprints::table
        .select((
            catalog_fingerprints::model,
            catalog_fingerprints::fingerprint,
        ))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// Replaces the recorded fingerprints with `all`. Call it in a transaction.
pub fn save_fingerprints(
    conn: &mut AnyConnection,
    all: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    diesel::delete(catalog_fingerprints::table).execute(conn)?;
    let rows: Vec<_> = all
        .iter()
        .map(|(m, f)| {
            (
                catalog_fingerprints::model.eq(m),
                catalog_fingerprints::fingerprint.eq(f),
            )
        })
        .collect();
    for chunk in rows.chunks(500) {
        with_backend!(conn, |c| diesel::insert_into(catalog_fingerprints::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}
