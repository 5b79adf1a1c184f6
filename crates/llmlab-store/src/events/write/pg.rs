//! PostgreSQL: each chunk is ONE `INSERT … SELECT … FROM unnest(arrays)` with one array
//! parameter per column, instead of a `VALUES` list with a parameter per cell, which
//! PostgreSQL parses and plans several times slower.

use std::sync::LazyLock;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Integer, Nullable, Text, Timestamp};

use super::{EventInsert, IdRow, TagInsert};
use crate::events::{COLUMNS, column_list};
use crate::rollups;

fn column<'r, T, U>(rows: &'r [T], f: impl Fn(&'r T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

/// The multi-row insert: one array parameter per column ($1 the ids, $2.. the columns),
/// `created_at` the last parameter.
static INSERT_EVENTS: LazyLock<String> = LazyLock::new(|| {
    let n = COLUMNS.len();
    let arrays: Vec<String> = (1..=n + 1).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO events (id, {cols}, created_at) \
         SELECT COALESCE(u.id, nextval('events_id_seq')), {ucols}, ${created} \
         FROM unnest({arrays}) AS u (id, {cols}) \
         ON CONFLICT (workspace_id, event_id) DO NOTHING RETURNING id",
        cols = column_list(""),
        ucols = column_list("u."),
        created = n + 2,
        arrays = arrays.join(", "),
    )
});

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
    let inserted: Vec<IdRow> = diesel::sql_query(INSERT_EVENTS.as_str())
        .into_boxed()
        .bind::<Array<Nullable<BigInt>>, _>(ids)
        .bind::<Array<BigInt>, _>(column(rows, |r| r.workspace_id))
        .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.event_id))
        .bind::<Array<Text>, _>(column(rows, |r| r.provider))
        .bind::<Array<Text>, _>(column(rows, |r| r.model))
        .bind::<Array<Text>, _>(column(rows, |r| r.resolved_model))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.tokens.input_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.tokens.output_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.tokens.cached_input_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.tokens.cache_write_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.tokens.reasoning_tokens))
        .bind::<Array<Bool>, _>(column(rows, |r| r.batch))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.cost_nanos))
        .bind::<Array<Text>, _>(column(rows, |r| r.cost_source))
        .bind::<Array<Nullable<Date>>, _>(column(rows, |r| r.price_effective_from))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.ts))
        .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.latency_ms))
        .bind::<Array<Text>, _>(column(rows, |r| r.tags_json.as_str()))
        .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.price_revision))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.tokens.cache_write_1h_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.tokens.input_audio_tokens))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.tokens.output_audio_tokens))
        .bind::<Array<Text>, _>(column(rows, |r| r.service_tier))
        .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.api_key_id))
        .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.contract_id))
        .bind::<Array<Nullable<Integer>>, _>(column(rows, |r| r.contract_discount_bp))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.units.images))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.units.audio_input_seconds))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.units.output_characters))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.units.web_search_calls))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.units.code_sessions))
        .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.image))
        .bind::<Timestamp, _>(first.created_at)
        .load(c)?;
    Ok(inserted.into_iter().map(|r| r.id).collect())
}

/// The single-event statement (see [`insert_one`]): the event's columns are $1..$n
/// in [`COLUMNS`] order, then `created_at`, the tag keys, the tag values and the slot;
/// an `unpriced` event ($13) counts in the rollups' `unpriced_calls`.
static INSERT_ONE: LazyLock<String> = LazyLock::new(|| {
    let n = COLUMNS.len();
    let values: Vec<String> = (1..=n + 1).map(|i| format!("${i}")).collect();
    let (keys, vals, slot) = (
        format!("${}", n + 2),
        format!("${}", n + 3),
        format!("${}", n + 4),
    );
    format!(
        "WITH ins AS (\
           INSERT INTO events ({cols}, created_at) VALUES ({values}) \
           ON CONFLICT (workspace_id, event_id) DO NOTHING RETURNING id), \
         tags AS (\
           INSERT INTO event_tags (event_id, workspace_id, key, value, ts) \
           SELECT ins.id, $1, k.key, k.value, $15 FROM ins, unnest({keys}, {vals}) AS k (key, value)), \
         models AS ({models_insert}\
           SELECT $1, {slot}, $3, $5, $11, 1, $12, $6, $7, $8, $9, $10, {unpriced}, $19, $20, $21, \
           $26, $27, $28, $29, $30, $6 \
           FROM ins\
           {models_conflict} RETURNING 1 AS done), \
         tag_sums AS ({tags_insert}\
           SELECT $1, k.key, {slot}, k.value, 1, $12, $6, $7, $8, $9, $10, {unpriced}, $19, $20, $21, \
           $26, $27, $28, $29, $30 \
           FROM models, unnest({keys}, {vals}) AS k (key, value)\
           {tags_conflict} RETURNING 1 AS done), \
         totals AS (\
           INSERT INTO ledger_totals (workspace_id, cost_nanos, input_tokens, output_tokens) \
           SELECT $1, $12, $6, $7 FROM models WHERE (SELECT count(*) FROM tag_sums) >= 0 \
           ON CONFLICT (workspace_id) DO UPDATE SET {totals_set}) \
         SELECT id FROM ins",
        cols = column_list(""),
        values = values.join(", "),
        models_insert = rollups::MODELS.insert_into(),
        models_conflict = rollups::MODELS.on_conflict("GREATEST"),
        tags_insert = rollups::TAGS.insert_into(),
        tags_conflict = rollups::TAGS.on_conflict("GREATEST"),
        totals_set = rollups::add_to_totals(),
        unpriced = "CASE WHEN $13 = 'unpriced' THEN 1 ELSE 0 END",
    )
});

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
    let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
    let values: Vec<&str> = tags.values().map(String::as_str).collect();
    let ids: Vec<IdRow> = diesel::sql_query(INSERT_ONE.as_str())
        .into_boxed()
        .bind::<BigInt, _>(row.workspace_id)
        .bind::<Nullable<Text>, _>(row.event_id)
        .bind::<Text, _>(row.provider)
        .bind::<Text, _>(row.model)
        .bind::<Text, _>(row.resolved_model)
        .bind::<BigInt, _>(row.tokens.input_tokens)
        .bind::<BigInt, _>(row.tokens.output_tokens)
        .bind::<BigInt, _>(row.tokens.cached_input_tokens)
        .bind::<BigInt, _>(row.tokens.cache_write_tokens)
        .bind::<BigInt, _>(row.tokens.reasoning_tokens)
        .bind::<Bool, _>(row.batch)
        .bind::<BigInt, _>(row.cost_nanos)
        .bind::<Text, _>(row.cost_source)
        .bind::<Nullable<Date>, _>(row.price_effective_from)
        .bind::<BigInt, _>(row.ts)
        .bind::<Nullable<BigInt>, _>(row.latency_ms)
        .bind::<Text, _>(row.tags_json.as_str())
        .bind::<Nullable<BigInt>, _>(row.price_revision)
        .bind::<BigInt, _>(row.tokens.cache_write_1h_tokens)
        .bind::<BigInt, _>(row.tokens.input_audio_tokens)
        .bind::<BigInt, _>(row.tokens.output_audio_tokens)
        .bind::<Text, _>(row.service_tier)
        .bind::<Nullable<BigInt>, _>(row.api_key_id)
        .bind::<Nullable<BigInt>, _>(row.contract_id)
        .bind::<Nullable<Integer>, _>(row.contract_discount_bp)
        .bind::<BigInt, _>(row.units.images)
        .bind::<BigInt, _>(row.units.audio_input_seconds)
        .bind::<BigInt, _>(row.units.output_characters)
        .bind::<BigInt, _>(row.units.web_search_calls)
        .bind::<BigInt, _>(row.units.code_sessions)
        .bind::<Nullable<Text>, _>(row.image)
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
        "INSERT INTO event_tags (event_id, workspace_id, key, value, ts) \
         SELECT * FROM unnest($1, $2, $3, $4, $5)",
    )
    .into_boxed()
    .bind::<Array<BigInt>, _>(column(rows, |r| r.event_id))
    .bind::<Array<BigInt>, _>(column(rows, |r| r.workspace_id))
    .bind::<Array<Text>, _>(column(rows, |r| r.key))
    .bind::<Array<Text>, _>(column(rows, |r| r.value))
    .bind::<Array<BigInt>, _>(column(rows, |r| r.ts))
    .execute(c)?;
    Ok(())
}
