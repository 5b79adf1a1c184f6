//! The event ledger: idempotent ingestion (single and batch) and keyset-paginated listing.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::schema::{event_tags, events};
use crate::sql::Sql;
use crate::{AnyConnection, Backend, Store, StoreError, now_utc, write_tx};

/// Rows per `INSERT INTO events`: on SQLite 19 bound values a row, under its 32,766
/// bind parameters (PostgreSQL binds one array per column).
const EVENT_CHUNK: usize = 1_000;
/// Rows per multi-row `INSERT INTO event_tags` (5 bound values each).
const TAG_CHUNK: usize = 5_000;
/// Idempotency keys per `IN (…)` lookup.
const LOOKUP_CHUNK: usize = 1_000;

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = events)]
pub struct EventRow {
    /// Primary key.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// The client's idempotency key, unique per user.
    pub event_id: Option<String>,
    /// Provider id (`openai`, `anthropic`, …).
    pub provider: String,
    /// The model name as sent.
    pub model: String,
    /// The catalog name the model resolved to (the name as sent when not in the catalog).
    pub resolved_model: String,
    /// Every prompt token, cached ones included.
    pub input_tokens: i64,
    /// Output tokens, reasoning included.
    pub output_tokens: i64,
    /// Prompt tokens read from the cache.
    pub cached_input_tokens: i64,
    /// Prompt tokens written to the cache.
    pub cache_write_tokens: i64,
    /// Reasoning tokens (part of `output_tokens`).
    pub reasoning_tokens: i64,
    /// Sent through a provider batch API.
    pub batch: bool,
    /// Cost in USD nano-dollars, fixed at ingestion.
    pub cost_nanos: i64,
    /// `catalog`, `custom_pricing` or `client`.
    pub cost_source: String,
    /// The `effective_from` date of the catalog price used, if any.
    pub price_effective_from: Option<NaiveDate>,
    /// When the call happened: microseconds since the Unix epoch, UTC.
    pub ts: i64,
    /// Call latency in milliseconds.
    pub latency_ms: Option<i64>,
    /// The tag map as a JSON object.
    pub tags_json: String,
    /// When the event was stored (naive UTC).
    pub created_at: NaiveDateTime,
}

impl EventRow {
    /// The tag map (empty if `tags_json` is not an object of strings, which the store
    /// never writes).
    pub fn tags(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.tags_json).unwrap_or_default()
    }
}

/// An already validated and priced event to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEvent {
    /// The client's idempotency key.
    pub event_id: Option<String>,
    /// Provider id.
    pub provider: String,
    /// The model name as sent.
    pub model: String,
    /// The catalog name the model resolved to.
    pub resolved_model: String,
    /// Every prompt token, cached ones included.
    pub input_tokens: i64,
    /// Output tokens, reasoning included.
    pub output_tokens: i64,
    /// Prompt tokens read from the cache.
    pub cached_input_tokens: i64,
    /// Prompt tokens written to the cache.
    pub cache_write_tokens: i64,
    /// Reasoning tokens.
    pub reasoning_tokens: i64,
    /// Sent through a provider batch API.
    pub batch: bool,
    /// Cost in USD nano-dollars.
    pub cost_nanos: i64,
    /// `catalog`, `custom_pricing` or `client`.
    pub cost_source: String,
    /// The `effective_from` date of the catalog price used.
    pub price_effective_from: Option<NaiveDate>,
    /// Microseconds since the Unix epoch, UTC.
    pub ts: i64,
    /// Call latency in milliseconds.
    pub latency_ms: Option<i64>,
    /// Tags (a map, so keys are unique).
    pub tags: BTreeMap<String, String>,
}

/// What ingestion did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsertOutcome {
    /// Stored now, with this id.
    Inserted(i64),
    /// Its `event_id` was already stored (or came earlier in the same batch) under this
    /// id; nothing was written.
    Duplicate(i64),
}

impl InsertOutcome {
    /// The id of the stored event.
    pub fn id(self) -> i64 {
        match self {
            InsertOutcome::Inserted(id) | InsertOutcome::Duplicate(id) => id,
        }
    }

    /// Whether the event was a repeat.
    pub fn is_duplicate(self) -> bool {
        matches!(self, InsertOutcome::Duplicate(_))
    }
}

#[derive(Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
struct EventInsert<'a> {
    user_id: i64,
    event_id: Option<&'a str>,
    provider: &'a str,
    model: &'a str,
    resolved_model: &'a str,
    input_tokens: i64,
    output_tokens: i64,
    cached_input_tokens: i64,
    cache_write_tokens: i64,
    reasoning_tokens: i64,
    batch: bool,
    cost_nanos: i64,
    cost_source: &'a str,
    price_effective_from: Option<NaiveDate>,
    ts: i64,
    latency_ms: Option<i64>,
    tags_json: String,
    created_at: NaiveDateTime,
}

impl<'a> EventInsert<'a> {
    fn new(
        user_id: i64,
        e: &'a NewEvent,
        created_at: NaiveDateTime,
    ) -> Result<EventInsert<'a>, StoreError> {
        Ok(EventInsert {
            user_id,
            event_id: e.event_id.as_deref(),
            provider: &e.provider,
            model: &e.model,
            resolved_model: &e.resolved_model,
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            cached_input_tokens: e.cached_input_tokens,
            cache_write_tokens: e.cache_write_tokens,
            reasoning_tokens: e.reasoning_tokens,
            batch: e.batch,
            cost_nanos: e.cost_nanos,
            cost_source: &e.cost_source,
            price_effective_from: e.price_effective_from,
            ts: e.ts,
            latency_ms: e.latency_ms,
            tags_json: serde_json::to_string(&e.tags)
                .map_err(|err| StoreError::Query(err.to_string()))?,
            created_at,
        })
    }
}

// `treat_none_as_default_value = false` on both: without it diesel turns a SQLite batch
// into one INSERT per row, even for a struct without `Option` fields.
#[derive(Insertable)]
#[diesel(table_name = event_tags, treat_none_as_default_value = false)]
struct TagInsert<'a> {
    event_id: i64,
    user_id: i64,
    key: &'a str,
    value: &'a str,
    ts: i64,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// PostgreSQL: each chunk is ONE `INSERT … SELECT … FROM unnest(arrays)` with one array
/// parameter per column, instead of a `VALUES` list with a parameter per cell, which
/// PostgreSQL parses and plans several times slower.
mod pg {
    use diesel::prelude::*;
    use diesel::sql_types::{Array, BigInt, Bool, Date, Nullable, Text, Timestamp};

    use super::{EventInsert, IdRow, TagInsert};

    fn column<'r, T, U>(rows: &'r [T], f: impl Fn(&'r T) -> U) -> Vec<U> {
        rows.iter().map(f).collect()
    }

    /// Inserts `rows`, skipping repeated idempotency keys; returns the ids inserted.
    /// A `None` id is taken from the sequence.
    pub(super) fn insert_events(
        c: &mut PgConnection,
        ids: &[Option<i64>],
        rows: &[EventInsert<'_>],
    ) -> QueryResult<Vec<i64>> {
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let inserted: Vec<IdRow> = diesel::sql_query(
            "INSERT INTO events (id, user_id, event_id, provider, model, resolved_model, \
             input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, \
             reasoning_tokens, batch, cost_nanos, cost_source, price_effective_from, ts, \
             latency_ms, tags_json, created_at) \
             SELECT COALESCE(u.id, nextval('events_id_seq')), u.user_id, u.event_id, \
             u.provider, u.model, u.resolved_model, u.input_tokens, u.output_tokens, \
             u.cached_input_tokens, u.cache_write_tokens, u.reasoning_tokens, u.batch, \
             u.cost_nanos, u.cost_source, u.price_effective_from, u.ts, u.latency_ms, \
             u.tags_json, $19 FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18) AS u (id, user_id, event_id, provider, model, \
             resolved_model, input_tokens, output_tokens, cached_input_tokens, \
             cache_write_tokens, reasoning_tokens, batch, cost_nanos, cost_source, \
             price_effective_from, ts, latency_ms, tags_json) \
             ON CONFLICT (user_id, event_id) DO NOTHING RETURNING id",
        )
        .into_boxed()
        .bind::<Array<Nullable<BigInt>>, _>(ids)
        .bind::<Array<BigInt>, _>(column(rows, |r| r.user_id))
        .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.event_id))
        .bind::<Array<Text>, _>(column(rows, |r| r.provider))
        .bind::<Array<Text>, _>(column(rows, |r| r.model))
        .bind::<Array<Text>, _>(column(rows, |r| r.resolved_model))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.input_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.output_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.cached_input_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.cache_write_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.reasoning_tokens))
        .bind::<Array<Bool>, _>(column(rows, |r| r.batch))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.cost_nanos))
        .bind::<Array<Text>, _>(column(rows, |r| r.cost_source))
        .bind::<Array<Nullable<Date>>, _>(column(rows, |r| r.price_effective_from))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.ts))
        .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.latency_ms))
        .bind::<Array<Text>, _>(column(rows, |r| r.tags_json.as_str()))
        .bind::<Timestamp, _>(first.created_at)
        .load(c)?;
        Ok(inserted.into_iter().map(|r| r.id).collect())
    }

    /// Stores one event, its tags and its rollup sums in ONE statement (one round trip,
    /// no explicit transaction): the single-event path ingestion takes per request.
    /// Returns its id, or `None` when its idempotency key is already stored (nothing is
    /// written then: every step reads the event insert's `RETURNING`).
    ///
    /// The rollup step reads the model rollup's `RETURNING`, so its row is locked before
    /// the tag rollups, which come in key order, and the account's totals read both, so
    /// they come last: the lock order of the batch path, so the two cannot deadlock.
    pub(super) fn insert_one(
        c: &mut PgConnection,
        row: &EventInsert<'_>,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> QueryResult<Option<i64>> {
        let sql = format!(
            "WITH ins AS (\
               INSERT INTO events (user_id, event_id, provider, model, resolved_model, \
               input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, \
               reasoning_tokens, batch, cost_nanos, cost_source, price_effective_from, ts, \
               latency_ms, tags_json, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
               $17, $18) ON CONFLICT (user_id, event_id) DO NOTHING RETURNING id), \
             tags AS (\
               INSERT INTO event_tags (event_id, user_id, key, value, ts) \
               SELECT ins.id, $1, k.key, k.value, $15 FROM ins, unnest($19, $20) AS k (key, value)), \
             models AS (\
               INSERT INTO event_rollups (user_id, slot, provider, resolved_model, batch, calls, \
               cost_nanos, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, \
               reasoning_tokens, max_input_tokens) \
               SELECT $1, $21, $3, $5, $11, 1, $12, $6, $7, $8, $9, $10, $6 FROM ins \
               ON CONFLICT (user_id, slot, provider, resolved_model, batch) DO UPDATE SET {} \
               RETURNING 1 AS done), \
             tag_sums AS (\
               INSERT INTO tag_rollups (user_id, key, slot, value, calls, cost_nanos, \
               input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, \
               reasoning_tokens) \
               SELECT $1, k.key, $21, k.value, 1, $12, $6, $7, $8, $9, $10 \
               FROM models, unnest($19, $20) AS k (key, value) \
               ON CONFLICT (user_id, key, slot, value) DO UPDATE SET {} \
               RETURNING 1 AS done), \
             totals AS (\
               INSERT INTO ledger_totals (user_id, cost_nanos, input_tokens, output_tokens) \
               SELECT $1, $12, $6, $7 FROM models WHERE (SELECT count(*) FROM tag_sums) >= 0 \
               ON CONFLICT (user_id) DO UPDATE SET \
               cost_nanos = ledger_totals.cost_nanos + excluded.cost_nanos, \
               input_tokens = ledger_totals.input_tokens + excluded.input_tokens, \
               output_tokens = ledger_totals.output_tokens + excluded.output_tokens) \
             SELECT id FROM ins",
            crate::rollups::add_excluded("event_rollups", "GREATEST"),
            crate::rollups::add_excluded("tag_rollups", "GREATEST"),
        );
        let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
        let values: Vec<&str> = tags.values().map(String::as_str).collect();
        let ids: Vec<IdRow> = diesel::sql_query(sql)
            .into_boxed()
            .bind::<BigInt, _>(row.user_id)
            .bind::<Nullable<Text>, _>(row.event_id)
            .bind::<Text, _>(row.provider)
            .bind::<Text, _>(row.model)
            .bind::<Text, _>(row.resolved_model)
            .bind::<BigInt, _>(row.input_tokens)
            .bind::<BigInt, _>(row.output_tokens)
            .bind::<BigInt, _>(row.cached_input_tokens)
            .bind::<BigInt, _>(row.cache_write_tokens)
            .bind::<BigInt, _>(row.reasoning_tokens)
            .bind::<Bool, _>(row.batch)
            .bind::<BigInt, _>(row.cost_nanos)
            .bind::<Text, _>(row.cost_source)
            .bind::<Nullable<Date>, _>(row.price_effective_from)
            .bind::<BigInt, _>(row.ts)
            .bind::<Nullable<BigInt>, _>(row.latency_ms)
            .bind::<Text, _>(row.tags_json.as_str())
            .bind::<Timestamp, _>(row.created_at)
            .bind::<Array<Text>, _>(keys)
            .bind::<Array<Text>, _>(values)
            .bind::<BigInt, _>(crate::rollups::slot_of(row.ts))
            .load(c)?;
        Ok(ids.first().map(|r| r.id))
    }

    /// Inserts tag rows.
    pub(super) fn insert_tags(c: &mut PgConnection, rows: &[TagInsert<'_>]) -> QueryResult<()> {
        diesel::sql_query(
            "INSERT INTO event_tags (event_id, user_id, key, value, ts) \
             SELECT * FROM unnest($1, $2, $3, $4, $5)",
        )
        .into_boxed()
        .bind::<Array<BigInt>, _>(column(rows, |r| r.event_id))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.user_id))
        .bind::<Array<Text>, _>(column(rows, |r| r.key))
        .bind::<Array<Text>, _>(column(rows, |r| r.value))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.ts))
        .execute(c)?;
        Ok(())
    }
}

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

/// Stores `batch` for `user_id`; runs inside [`write_tx`]. See [`insert_batch`].
pub(crate) fn insert_all(
    conn: &mut AnyConnection,
    user_id: i64,
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
        .map(|&i| EventInsert::new(user_id, &batch[i], created_at))
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
                    .on_conflict((events::user_id, events::event_id))
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
            .filter(events::user_id.eq(user_id))
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
                user_id,
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
    crate::rollups::add(conn, user_id, &stored_now)?;
    crate::rollups::add_totals(conn, user_id, &stored_now)?;

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

/// Stores up to a few thousand already validated events of `user_id` in ONE transaction
/// with multi-row inserts, returning one outcome per input, in order. An `event_id`
/// already stored, or repeated within the batch, is a [`InsertOutcome::Duplicate`] with
/// the id of the stored event and writes nothing; this holds under concurrent repeats.
pub fn insert_batch(
    conn: &mut AnyConnection,
    user_id: i64,
    batch: &[NewEvent],
) -> Result<Vec<InsertOutcome>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    write_tx(conn, |conn| insert_all(conn, user_id, batch, now_utc()))
}

/// Stores one event and its tags in one transaction. A repeated `event_id` returns the
/// STORED event (not `event`) with [`InsertOutcome::Duplicate`] and writes nothing.
pub fn insert_event(
    conn: &mut AnyConnection,
    user_id: i64,
    event: &NewEvent,
) -> Result<(EventRow, InsertOutcome), StoreError> {
    let created_at = now_utc();
    let outcome = match conn {
        AnyConnection::Postgresql(c) => insert_one_pg(c, user_id, event, created_at)?,
        AnyConnection::Sqlite(_) => write_tx(conn, |conn| {
            insert_all(conn, user_id, std::slice::from_ref(event), created_at)
        })?
        .pop()
        .ok_or_else(|| StoreError::Query("no outcome for the event".into()))?,
    };
    let row = stored_row(conn, user_id, event, outcome, created_at)?;
    Ok((row, outcome))
}

/// The row `event` was stored as (`outcome` of storing it at `created_at`): built from
/// the event when it was inserted, read back when its key was a repeat.
pub(crate) fn stored_row(
    conn: &mut AnyConnection,
    user_id: i64,
    event: &NewEvent,
    outcome: InsertOutcome,
    created_at: NaiveDateTime,
) -> Result<EventRow, StoreError> {
    Ok(match outcome {
        InsertOutcome::Inserted(id) => EventRow {
            id,
            user_id,
            event_id: event.event_id.clone(),
            provider: event.provider.clone(),
            model: event.model.clone(),
            resolved_model: event.resolved_model.clone(),
            input_tokens: event.input_tokens,
            output_tokens: event.output_tokens,
            cached_input_tokens: event.cached_input_tokens,
            cache_write_tokens: event.cache_write_tokens,
            reasoning_tokens: event.reasoning_tokens,
            batch: event.batch,
            cost_nanos: event.cost_nanos,
            cost_source: event.cost_source.clone(),
            price_effective_from: event.price_effective_from,
            ts: event.ts,
            latency_ms: event.latency_ms,
            tags_json: serde_json::to_string(&event.tags)
                .map_err(|err| StoreError::Query(err.to_string()))?,
            created_at,
        },
        InsertOutcome::Duplicate(id) => find(conn, user_id, id)?.ok_or(StoreError::NotFound)?,
    })
}

/// [`pg::insert_one`], then the stored event's id when the key was a repeat.
fn insert_one_pg(
    c: &mut PgConnection,
    user_id: i64,
    event: &NewEvent,
    created_at: NaiveDateTime,
) -> Result<InsertOutcome, StoreError> {
    let row = EventInsert::new(user_id, event, created_at)?;
    if let Some(id) = pg::insert_one(c, &row, &event.tags)? {
        return Ok(InsertOutcome::Inserted(id));
    }
    let key = event.event_id.as_deref().unwrap_or_default();
    let stored: Option<i64> = events::table
        .filter(events::user_id.eq(user_id))
        .filter(events::event_id.eq(key))
        .select(events::id)
        .first(c)
        .optional()?;
    stored
        .map(InsertOutcome::Duplicate)
        .ok_or_else(|| StoreError::Query(format!("event '{key}' neither inserted nor found")))
}

/// Event `id` of `user_id`.
pub fn find(
    conn: &mut AnyConnection,
    user_id: i64,
    id: i64,
) -> Result<Option<EventRow>, StoreError> {
    Ok(events::table
        .filter(events::id.eq(id))
        .filter(events::user_id.eq(user_id))
        .select(EventRow::as_select())
        .first(conn)
        .optional()?)
}

/// Which events a listing or an aggregate covers. Every condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Inclusive lower bound on `ts` (microseconds).
    pub start_micros: Option<i64>,
    /// Exclusive upper bound on `ts` (microseconds).
    pub end_micros: Option<i64>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this model, matched against `resolved_model` (the catalog name).
    pub model: Option<String>,
    /// Only events carrying every one of these `(key, value)` tags.
    pub tags: Vec<(String, String)>,
}

impl EventFilter {
    /// Events in `[start_micros, end_micros)`.
    pub fn between(start_micros: i64, end_micros: i64) -> EventFilter {
        EventFilter {
            start_micros: Some(start_micros),
            end_micros: Some(end_micros),
            ..EventFilter::default()
        }
    }

    /// Appends `e.user_id = … AND …` for this filter to `sql` (the events table is `e`).
    pub(crate) fn push_where(&self, sql: &mut Sql, user_id: i64) {
        sql.push("e.user_id = ").int(user_id);
        if let Some(start) = self.start_micros {
            sql.push(" AND e.ts >= ").int(start);
        }
        if let Some(end) = self.end_micros {
            sql.push(" AND e.ts < ").int(end);
        }
        if let Some(provider) = &self.provider {
            sql.push(" AND e.provider = ").text(provider);
        }
        if let Some(model) = &self.model {
            sql.push(" AND e.resolved_model = ").text(model);
        }
        for (key, value) in &self.tags {
            // event_tags repeats user_id and ts so this subquery is one index range scan.
            sql.push(" AND e.id IN (SELECT t.event_id FROM event_tags t WHERE t.user_id = ")
                .int(user_id)
                .push(" AND t.key = ")
                .text(key)
                .push(" AND t.value = ")
                .text(value);
            if let Some(start) = self.start_micros {
                sql.push(" AND t.ts >= ").int(start);
            }
            if let Some(end) = self.end_micros {
                sql.push(" AND t.ts < ").int(end);
            }
            sql.push(")");
        }
    }
}

/// A position in a newest-first listing: the last `(ts, id)` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventCursor {
    /// `ts` of the last event returned.
    pub ts: i64,
    /// `id` of the last event returned.
    pub id: i64,
}

impl EventCursor {
    /// An opaque, URL-safe token (32 lowercase hex digits).
    pub fn encode(&self) -> String {
        // Bit-for-bit, so negative values round-trip.
        format!("{:016x}{:016x}", self.ts as u64, self.id as u64)
    }

    /// Reads a token made by [`EventCursor::encode`]; `None` if it is not one.
    pub fn decode(token: &str) -> Option<EventCursor> {
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let ts = u64::from_str_radix(token.get(..16)?, 16).ok()? as i64;
        let id = u64::from_str_radix(token.get(16..)?, 16).ok()? as i64;
        Some(EventCursor { ts, id })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// Events, newest first (by `ts`, then `id`).
    pub events: Vec<EventRow>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<EventCursor>,
}

const EVENT_COLUMNS: &str = "e.id, e.user_id, e.event_id, e.provider, e.model, \
    e.resolved_model, e.input_tokens, e.output_tokens, e.cached_input_tokens, \
    e.cache_write_tokens, e.reasoning_tokens, e.batch, e.cost_nanos, e.cost_source, \
    e.price_effective_from, e.ts, e.latency_ms, e.tags_json, e.created_at";

/// Up to `limit` (at least 1) events of `user_id` matching `filter`, newest first,
/// starting after `after`.
pub fn list(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    after: Option<EventCursor>,
    limit: u32,
) -> Result<EventPage, StoreError> {
    let limit = limit.max(1);
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT ")
        .push(EVENT_COLUMNS)
        .push(" FROM events e WHERE ");
    filter.push_where(&mut sql, user_id);
    if let Some(cursor) = after {
        sql.push(" AND (e.ts, e.id) < (")
            .int(cursor.ts)
            .push(", ")
            .int(cursor.id)
            .push(")");
    }
    sql.push(" ORDER BY e.ts DESC, e.id DESC LIMIT ")
        .int(i64::from(limit) + 1);
    let mut events: Vec<EventRow> = sql.load(conn)?;
    let next_cursor = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events.last().map(|e| EventCursor { ts: e.ts, id: e.id })
    } else {
        None
    };
    Ok(EventPage {
        events,
        next_cursor,
    })
}

impl Store {
    /// See [`events::insert_event`](insert_event).
    pub fn insert_event(
        &self,
        user_id: i64,
        event: &NewEvent,
    ) -> Result<(EventRow, InsertOutcome), StoreError> {
        self.write(|c| insert_event(c, user_id, event))
    }

    /// See [`events::insert_batch`](insert_batch).
    pub fn insert_batch(
        &self,
        user_id: i64,
        batch: &[NewEvent],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        self.write(|c| insert_batch(c, user_id, batch))
    }

    /// See [`events::find`](find).
    pub fn event(&self, user_id: i64, id: i64) -> Result<Option<EventRow>, StoreError> {
        self.with_conn(|c| find(c, user_id, id))
    }

    /// See [`events::list`](list).
    pub fn list_events(
        &self,
        user_id: i64,
        filter: &EventFilter,
        after: Option<EventCursor>,
        limit: u32,
    ) -> Result<EventPage, StoreError> {
        self.with_conn(|c| list(c, user_id, filter, after, limit))
    }
}
