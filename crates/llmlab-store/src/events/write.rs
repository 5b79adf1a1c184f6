//! The write path: one event or a batch, with its tags, rollups and the account's totals,
//! idempotent on `(workspace, event_id)`.

use crate::WorkspaceId;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::schema::{event_tags, events};
use crate::{AnyConnection, Backend, StoreError, TokenCounts, UnitCounts, now_utc, write_tx};

use super::{EventRow, InsertOutcome, NewEvent, find};

/// Rows per `INSERT INTO events`: on SQLite 29 bound values a row, under its 32,766
/// bind parameters (PostgreSQL binds one array per column).
const EVENT_CHUNK: usize = 1_000;
/// Rows per multi-row `INSERT INTO event_tags` (5 bound values each).
const TAG_CHUNK: usize = 5_000;
/// Idempotency keys per `IN (…)` lookup.
const LOOKUP_CHUNK: usize = 1_000;

#[derive(Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
struct EventInsert<'a> {
    workspace_id: WorkspaceId,
    event_id: Option<&'a str>,
    provider: &'a str,
    model: &'a str,
    resolved_model: &'a str,
    #[diesel(embed)]
    tokens: TokenCounts,
    batch: bool,
    cost_nanos: i64,
    cost_source: &'a str,
    price_effective_from: Option<NaiveDate>,
    ts: i64,
    latency_ms: Option<i64>,
    tags_json: String,
    created_at: NaiveDateTime,
    price_revision: Option<i64>,
    service_tier: &'a str,
    api_key_id: Option<i64>,
    contract_id: Option<i64>,
    contract_discount_bp: Option<i32>,
    #[diesel(embed)]
    units: UnitCounts,
    image: Option<&'a str>,
}

impl<'a> EventInsert<'a> {
    fn new(
        workspace_id: WorkspaceId,
        e: &'a NewEvent,
        created_at: NaiveDateTime,
    ) -> Result<EventInsert<'a>, StoreError> {
        Ok(EventInsert {
            workspace_id,
            event_id: e.event_id.as_deref(),
            provider: &e.provider,
            model: &e.model,
            resolved_model: &e.resolved_model,
            tokens: e.tokens,
            batch: e.batch,
            cost_nanos: e.cost_nanos,
            cost_source: &e.cost_source,
            price_effective_from: e.price_effective_from,
            ts: e.ts,
            latency_ms: e.latency_ms,
            tags_json: tags_json(&e.tags)?,
            created_at,
            price_revision: e.price_revision,
            service_tier: service_tier(e),
            api_key_id: e.api_key_id.map(|k| k.get()),
            contract_id: e.contract_id,
            contract_discount_bp: e.contract_discount_bp,
            units: e.units,
            image: e.image.as_deref(),
        })
    }
}

/// The tier stored for `e` (`standard` when unset).
fn service_tier(e: &NewEvent) -> &str {
    match e.service_tier.as_str() {
        "" if e.batch => "batch",
        "" => "standard",
        tier => tier,
    }
}

/// The tag map as stored in `tags_json`.
fn tags_json(tags: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(tags).map_err(|err| StoreError::Query(err.to_string()))
}

// `treat_none_as_default_value = false` on both: without it diesel turns a SQLite batch
// into one INSERT per row, even for a struct without `Option` fields.
#[derive(Insertable)]
#[diesel(table_name = event_tags, treat_none_as_default_value = false)]
struct TagInsert<'a> {
    event_id: i64,
    workspace_id: WorkspaceId,
    key: &'a str,
    value: &'a str,
    ts: i64,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// PostgreSQL's statements (arrays bound per column, one CTE for a lone event).
mod pg;

/// Reserves `n` fresh event ids, so each row's id is known before the multi-row insert
/// (whose `RETURNING` order neither backend guarantees). Runs inside [`write_tx`]: on
/// SQLite the write lock is held, so `MAX(id) + 1…` cannot be taken twice.
fn allocate_ids(conn: &mut AnyConnection, n: usize) -> Result<Vec<i64>, StoreError> {
    let count = i64::try_from(n).map_err(|_| StoreError::Query("batch too large".into()))?;
    match conn {
        AnyConnection::Postgresql(c) => {
            let rows: Vec<IdRow> = diesel::sql_query(
                "SELECT nextval('events_id_seq') AS id FROM generate_series(1, $1)",
            )
            .bind::<BigInt, _>(count)
            .load(c)?;
            Ok(rows.into_iter().map(|r| r.id).collect())
        }
        AnyConnection::Sqlite(c) => {
            let max: Option<i64> = events::table
                .select(diesel::dsl::max(events::id))
                .first(c)?;
            let first = max.unwrap_or(0) + 1;
            Ok((first..first + count).collect())
        }
    }
}

/// Stores `batch` for `workspace_id`; runs inside [`write_tx`]. See [`insert_batch`].
pub(crate) fn insert_all(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    batch: &[NewEvent],
    created_at: NaiveDateTime,
) -> Result<Vec<InsertOutcome>, StoreError> {
    // Repeats of an idempotency key inside the batch point at its first occurrence.
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    let mut repeat_of: Vec<Option<usize>> = vec![None; batch.len()];
    let mut unique: Vec<usize> = Vec::with_capacity(batch.len());
    for (i, event) in batch.iter().enumerate() {
        match event.event_id.as_deref().map(|key| first_of.entry(key)) {
            Some(Entry::Occupied(first)) => repeat_of[i] = Some(*first.get()),
            Some(Entry::Vacant(slot)) => {
                slot.insert(i);
                unique.push(i);
            }
            None => unique.push(i),
        }
    }
    // Keyed rows go in key order, so two transactions storing some of the same keys at
    // once (a client's retry racing its first try, through two writers) wait on each
    // other's keys in the same order instead of deadlocking.
    unique.sort_by(|&a, &b| batch[a].event_id.cmp(&batch[b].event_id));

    // Ids are reserved before a multi-row insert, since neither backend guarantees the
    // order of `RETURNING` rows. A single row on PostgreSQL takes its id from the
    // sequence in the INSERT itself (one round trip less).
    let ids: Vec<Option<i64>> = match (unique.len(), conn.backend()) {
        (0, _) => return Ok(Vec::new()),
        (1, Backend::Postgres) => vec![None],
        (n, _) => allocate_ids(conn, n)?.into_iter().map(Some).collect(),
    };
    let rows = unique
        .iter()
        .map(|&i| EventInsert::new(workspace_id, &batch[i], created_at))
        .collect::<Result<Vec<_>, StoreError>>()?;

    let mut returned: Vec<i64> = Vec::with_capacity(rows.len());
    for (chunk, chunk_ids) in rows.chunks(EVENT_CHUNK).zip(ids.chunks(EVENT_CHUNK)) {
        returned.extend(match &mut *conn {
            AnyConnection::Postgresql(c) => pg::insert_events(c, chunk_ids, chunk)?,
            AnyConnection::Sqlite(c) => {
                let values = chunk_ids
                    .iter()
                    .zip(chunk)
                    .map(|(id, row)| {
                        let id = id.ok_or_else(|| StoreError::Query("unreserved id".into()))?;
                        Ok((events::id.eq(id), row))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                diesel::insert_into(events::table)
                    .values(values)
                    .on_conflict((events::workspace_id, events::event_id))
                    .do_nothing()
                    .returning(events::id)
                    .get_results(c)?
            }
        });
    }
    // The id each unique row was stored under, `None` if ON CONFLICT skipped it.
    let inserted: Vec<Option<i64>> = if ids == [None] {
        vec![returned.first().copied()]
    } else {
        let returned: HashSet<i64> = returned.into_iter().collect();
        ids.iter()
            .map(|id| id.filter(|id| returned.contains(id)))
            .collect()
    };

    // Rows skipped by ON CONFLICT repeat an idempotency key already stored.
    let mut stored: HashMap<String, i64> = HashMap::new();
    let conflicting: Vec<&str> = rows
        .iter()
        .zip(&inserted)
        .filter(|(_, id)| id.is_none())
        .filter_map(|(row, _)| row.event_id)
        .collect();
    for keys in conflicting.chunks(LOOKUP_CHUNK) {
        let found: Vec<(Option<String>, i64)> = with_backend!(&mut *conn, |c| events::table
            .filter(events::workspace_id.eq(workspace_id))
            .filter(events::event_id.eq_any(keys))
            .select((events::event_id, events::id))
            .load(c))?;
        stored.extend(found.into_iter().filter_map(|(key, id)| Some((key?, id))));
    }

    let tags: Vec<TagInsert<'_>> = unique
        .iter()
        .zip(&inserted)
        .filter_map(|(&i, id)| Some((&batch[i], (*id)?)))
        .flat_map(|(event, event_id)| {
            event.tags.iter().map(move |(key, value)| TagInsert {
                event_id,
                workspace_id,
                key,
                value,
                ts: event.ts,
            })
        })
        .collect();
    for chunk in tags.chunks(TAG_CHUNK) {
        match &mut *conn {
            AnyConnection::Postgresql(c) => pg::insert_tags(c, chunk)?,
            AnyConnection::Sqlite(c) => {
                diesel::insert_into(event_tags::table)
                    .values(chunk)
                    .execute(c)?;
            }
        }
    }

    let stored_now: Vec<&NewEvent> = unique
        .iter()
        .zip(&inserted)
        .filter(|(_, id)| id.is_some())
        .map(|(&i, _)| &batch[i])
        .collect();
    crate::rollups::add(conn, workspace_id, &stored_now)?;
    crate::rollups::add_totals(conn, workspace_id, &stored_now)?;
    // Settled in the transaction that counts the cost: spent + reserved never counts a
    // call twice, and a repeat of the event (not stored now) settles nothing again.
    let settled: Vec<&str> = stored_now
        .iter()
        .filter_map(|e| e.reservation_id.as_deref())
        .collect();
    crate::reservations::settle(conn, workspace_id, &settled)?;

    let mut outcome_of: HashMap<usize, InsertOutcome> = HashMap::with_capacity(rows.len());
    for ((&i, row), id) in unique.iter().zip(&rows).zip(&inserted) {
        let outcome = match id {
            Some(id) => InsertOutcome::Inserted(*id),
            None => {
                let key = row.event_id.unwrap_or_default();
                let id = stored.get(key).copied().ok_or_else(|| {
                    StoreError::Query(format!("event '{key}' neither inserted nor found"))
                })?;
                InsertOutcome::Duplicate(id)
            }
        };
        outcome_of.insert(i, outcome);
    }
    (0..batch.len())
        .map(|i| {
            let first = repeat_of[i].unwrap_or(i);
            let outcome = outcome_of
                .get(&first)
                .copied()
                .ok_or_else(|| StoreError::Query("batch bookkeeping failed".into()))?;
            Ok(if first == i {
                outcome
            } else {
                InsertOutcome::Duplicate(outcome.id())
            })
        })
        .collect()
}

/// Stores up to a few thousand already validated events of `workspace_id` in ONE transaction
/// with multi-row inserts, returning one outcome per input, in order. An `event_id`
/// already stored, or repeated within the batch, is a [`InsertOutcome::Duplicate`] with
/// the id of the stored event and writes nothing; this holds under concurrent repeats.
pub fn insert_batch(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    batch: &[NewEvent],
) -> Result<Vec<InsertOutcome>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    write_tx(conn, |conn| {
        insert_all(conn, workspace_id, batch, now_utc())
    })
}

/// Stores one event and its tags in one transaction. A repeated `event_id` returns the
/// STORED event (not `event`) with [`InsertOutcome::Duplicate`] and writes nothing.
pub fn insert_event(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    event: &NewEvent,
) -> Result<(EventRow, InsertOutcome), StoreError> {
    let created_at = now_utc();
    let outcome = match conn {
        // One statement, without a transaction around it, unless it settles a
        // reservation or counts a late write (which the statement does not do).
        AnyConnection::Postgresql(c) if event.reservation_id.is_none() && !counts_late(event) => {
            insert_one_pg(c, workspace_id, event, created_at)?
        }
        _ => write_tx(conn, |conn| {
            insert_all(conn, workspace_id, std::slice::from_ref(event), created_at)
        })?
        .pop()
        .ok_or_else(|| StoreError::Query("no outcome for the event".into()))?,
    };
    let row = stored_row(conn, workspace_id, event, outcome, created_at)?;
    Ok((row, outcome))
}

/// The row `event` was stored as (`outcome` of storing it at `created_at`): built from
/// the event when it was inserted, read back when its key was a repeat.
pub(crate) fn stored_row(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    event: &NewEvent,
    outcome: InsertOutcome,
    created_at: NaiveDateTime,
) -> Result<EventRow, StoreError> {
    Ok(match outcome {
        InsertOutcome::Inserted(id) => EventRow {
            id,
            workspace_id,
            event_id: event.event_id.clone(),
            provider: event.provider.clone(),
            model: event.model.clone(),
            resolved_model: event.resolved_model.clone(),
            tokens: event.tokens,
            batch: event.batch,
            cost_nanos: event.cost_nanos,
            cost_source: event.cost_source.clone(),
            price_effective_from: event.price_effective_from,
            ts: event.ts,
            latency_ms: event.latency_ms,
            tags_json: tags_json(&event.tags)?,
            created_at,
            price_revision: event.price_revision,
            service_tier: service_tier(event).to_string(),
            contract_id: event.contract_id,
            contract_discount_bp: event.contract_discount_bp,
            units: event.units,
            image: event.image.clone(),
        },
        InsertOutcome::Duplicate(id) => {
            find(conn, workspace_id, id)?.ok_or(StoreError::NotFound)?
        }
    })
}

/// Whether storing `event` now counts a late write of its tag rollups (see
/// `analytics::ranking`).
fn counts_late(event: &NewEvent) -> bool {
    use crate::analytics::ranking;
    !event.tags.is_empty() && ranking::is_late(event.ts, ranking::now_micros())
}

/// [`pg::insert_one`], then the stored event's id when the key was a repeat.
fn insert_one_pg(
    c: &mut PgConnection,
    workspace_id: WorkspaceId,
    event: &NewEvent,
    created_at: NaiveDateTime,
) -> Result<InsertOutcome, StoreError> {
    let row = EventInsert::new(workspace_id, event, created_at)?;
    if let Some(id) = pg::insert_one(c, &row, &event.tags)? {
        return Ok(InsertOutcome::Inserted(id));
    }
    let key = event.event_id.as_deref().unwrap_or_default();
    let stored: Option<i64> = events::table
        .filter(events::workspace_id.eq(workspace_id))
        .filter(events::event_id.eq(key))
        .select(events::id)
        .first(c)
        .optional()?;
    stored
        .map(InsertOutcome::Duplicate)
        .ok_or_else(|| StoreError::Query(format!("event '{key}' neither inserted nor found")))
}
