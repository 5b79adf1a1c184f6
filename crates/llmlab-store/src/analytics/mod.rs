//! Aggregates over the event ledger, computed in SQL and scoped by user and
//! [`EventFilter`]. Sums are exact `i64`s (`CAST(SUM(…) AS BIGINT)`); an empty selection
//! sums to zero.

mod grouped;
mod plan;
pub mod ranking;
mod rows;
mod senders;
mod store;
mod tags;

use crate::WorkspaceId;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

use crate::rollups;
use crate::sql::Sql;
use crate::{AnyConnection, EventFilter, StoreError};

pub use grouped::spend_each;
use plan::*;
pub use rows::*;
pub use senders::{DailySenderRow, SenderTotals, by_sender, daily_by_sender};
pub use tags::{MAX_GROUPS, TagBreakdown, TagRest, by_tag, by_tag_top, daily_by_tag};

/// Microseconds in a UTC day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// Cost, calls and token sums of the matching events.
pub fn totals(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
) -> Result<Totals, StoreError> {
    let parts: Vec<Totals> = run(conn, filter, Allow::Totals, |sql, src, part| {
        sql.push("SELECT ").push(&src.totals()).push(", ");
        sql.push(&src.sum("cached_input_tokens")).push(", ");
        sql.push(&src.sum("cache_write_tokens")).push(", ");
        sql.push(&src.sum("reasoning_tokens")).push(", ");
        sql.push(&src.sum("cache_write_1h_tokens")).push(", ");
        sql.push(&src.sum("input_audio_tokens")).push(", ");
        sql.push(&src.sum("output_audio_tokens"));
        push_from(sql, src, workspace_id, part, None);
    })?;
    Ok(parts.iter().fold(Totals::default(), |mut t, p| {
        t.add(p);
        t
    }))
}

/// Total cost (nano-dollars) of the matching events; a budget's spend is this over its
/// scope and period.
pub fn spend(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Spend {
        #[diesel(sql_type = BigInt)]
        cost_nanos: i64,
    }
    let parts: Vec<Spend> = run(conn, filter, Allow::Totals, |sql, src, part| {
        sql.push("SELECT ").push(&src.sum("cost_nanos"));
        push_from(sql, src, workspace_id, part, None);
    })?;
    Ok(parts.iter().map(|p| p.cost_nanos).sum())
}

/// Totals per UTC slot of `slot_secs` seconds (slots aligned on the Unix epoch), oldest
/// first; empty slots are absent. 900-second slots fold into calendar buckets of any
/// time zone.
pub fn slots(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    slot_secs: u32,
) -> Result<Vec<SlotRow>, StoreError> {
    let width = i64::from(slot_secs.max(1)) * 1_000_000;
    // Rollup slots only add up to slots that are whole multiples of them.
    let allow = if width % rollups::SLOT_MICROS == 0 {
        Allow::Totals
    } else {
        Allow::EventsOnly
    };
    let rows = run(conn, filter, allow, |sql, src, part| {
        sql.push("SELECT ");
        push_floor(sql, src.ts(), width);
        sql.push(" AS slot_start_micros, ").push(&src.totals());
        push_from(sql, src, workspace_id, part, None);
        sql.push(" GROUP BY 1");
    })?;
    Ok(merge(rows, |r: &SlotRow| r.slot_start_micros))
}

/// Totals per provider, costliest first.
pub fn by_provider(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
) -> Result<Vec<GroupTotals>, StoreError> {
    let rows = run(conn, filter, Allow::Models, |sql, src, part| {
        sql.push("SELECT ")
            .push(src.p())
            .push("provider AS provider, ");
        sql.push(&src.totals());
        push_from(sql, src, workspace_id, part, None);
        sql.push(" GROUP BY 1");
    })?;
    let mut rows = merge(rows, |r: &GroupTotals| r.provider.clone());
    costliest_first(
        &mut rows,
        |r| (r.sums.cost_nanos, r.sums.calls),
        |r| r.provider.clone(),
    );
    Ok(rows)
}

/// Totals per `(provider, resolved_model)`, costliest first, at most `limit` rows.
pub fn top_models(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    limit: u32,
) -> Result<Vec<ModelTotals>, StoreError> {
    let rows = run(conn, filter, Allow::Models, |sql, src, part| {
        sql.push("SELECT ");
        push_model(sql, src);
        sql.push(&src.totals());
        push_from(sql, src, workspace_id, part, None);
        sql.push(" GROUP BY 1, 2");
    })?;
    let mut rows = merge(rows, |r: &ModelTotals| {
        (r.provider.clone(), r.model.clone())
    });
    costliest_first(
        &mut rows,
        |r| (r.sums.cost_nanos, r.sums.calls),
        |r| format!("{}\u{0}{}", r.provider, r.model),
    );
    rows.truncate(limit as usize);
    Ok(rows)
}

/// `provider AS provider, resolved_model AS model, ` from `src`.
fn push_model(sql: &mut Sql, src: Src<'_>) {
    sql.push(src.p()).push("provider AS provider, ");
    sql.push(src.p()).push("resolved_model AS model, ");
}

/// Cost and calls per UTC day and `(provider, resolved_model)`, oldest day first: the
/// series anomaly attribution reads.
pub fn daily_by_model(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
) -> Result<Vec<DailyModelRow>, StoreError> {
    let rows = run(conn, filter, Allow::Models, |sql, src, part| {
        sql.push("SELECT ");
        push_floor(sql, src.ts(), DAY_MICROS);
        sql.push(" AS day_start_micros, ");
        push_model(sql, src);
        sql.push(&src.sum("cost_nanos")).push(", ");
        sql.push(src.calls()).push(" AS calls");
        push_from(sql, src, workspace_id, part, None);
        sql.push(" GROUP BY 1, 2, 3");
    })?;
    Ok(merge(rows, |r: &DailyModelRow| {
        (r.day_start_micros, r.provider.clone(), r.model.clone())
    }))
}

/// The token mix per `(provider, resolved_model, batch)`, ordered by those. With
/// `prompts_above`, only the events whose `input_tokens` exceed it: the calls a
/// long-context tier reprices (read from the events: rollups do not split by prompt size).
pub fn token_mix(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    prompts_above: Option<i64>,
) -> Result<Vec<TokenMixRow>, StoreError> {
    let allow = if prompts_above.is_some() {
        Allow::EventsOnly
    } else {
        Allow::Models
    };
    let rows = run(conn, filter, allow, |sql, src, part| {
        sql.push("SELECT ");
        push_model(sql, src);
        sql.push(src.p())
            .push("batch AS batch, ")
            .push(src.calls())
            .push(" AS calls, ");
        for column in [
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "output_tokens",
            "reasoning_tokens",
            "cost_nanos",
            "cache_write_1h_tokens",
            "input_audio_tokens",
            "output_audio_tokens",
        ] {
            sql.push(&src.sum(column)).push(", ");
        }
        sql.push(if src == Src::Events {
            "CAST(MAX(e.input_tokens) AS BIGINT)"
        } else {
            "CAST(MAX(r.max_input_tokens) AS BIGINT)"
        })
        .push(" AS max_input_tokens");
        push_from(sql, src, workspace_id, part, None);
        if let Some(threshold) = prompts_above {
            sql.push(" AND e.input_tokens > ").int(threshold);
        }
        sql.push(" GROUP BY 1, 2, 3");
    })?;
    Ok(merge(rows, |r: &TokenMixRow| {
        (r.provider.clone(), r.model.clone(), r.batch)
    }))
}

/// The distinct tag keys of the workspace's events in the filter's time range (by whole
/// 15-minute slots; provider, model and tag filters are not applied), alphabetical, at
/// most `limit`. A loose index scan over the tag rollups' key: one index probe per key,
/// however many rows each key has.
pub fn tag_keys(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        key: String,
    }
    let mut sql = Sql::new(conn.backend());
    sql.push("WITH RECURSIVE k (key) AS (SELECT MIN(key) FROM tag_rollups WHERE workspace_id = ")
        .int(workspace_id.get())
        .push(" UNION ALL SELECT (SELECT MIN(t.key) FROM tag_rollups t WHERE t.workspace_id = ")
        .int(workspace_id.get())
        .push(" AND t.key > k.key) FROM k WHERE k.key IS NOT NULL) ")
        .push("SELECT k.key AS key FROM k WHERE k.key IS NOT NULL AND EXISTS (SELECT 1 FROM tag_rollups r WHERE r.workspace_id = ")
        .int(workspace_id.get())
        .push(" AND r.key = k.key");
    if let Some(start) = filter.start_micros {
        sql.push(" AND r.slot >= ").int(rollups::slot_of(start));
    }
    if let Some(end) = filter.end_micros {
        sql.push(" AND r.slot < ").int(end);
    }
    sql.push(") ORDER BY 1 LIMIT ").int(i64::from(limit));
    let rows: Vec<Key> = sql.load(conn)?;
    Ok(rows.into_iter().map(|k| k.key).collect())
}
