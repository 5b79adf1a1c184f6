//! Rollups: the events' sums per workspace and 15-minute UTC slot — per provider, model and
//! batch flag in `event_rollups`, per tag value in `tag_rollups` — so reports over months
//! read thousands of rows instead of millions.
//!
//! They are written in the transaction that stores the events they sum ([`add`]), so a
//! report never sees an event without its sums or the reverse, and they are exact by
//! construction. Reads combine them with the raw events at unaligned range edges
//! (see `analytics`).

use crate::WorkspaceId;
use std::collections::BTreeMap;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Bool, Text};

use crate::analytics::ranking;
use crate::sql::Sql;
use crate::{AnyConnection, Backend, NewEvent, StoreError, TokenCounts, UnitCounts};

/// Width of a rollup slot: 15 minutes divides every time zone's UTC offset, so every
/// local hour, day, week and month is made of whole slots.
pub const SLOT_MICROS: i64 = 900_000_000;

/// The slot containing `ts` (floor, also before 1970).
pub fn slot_of(ts: i64) -> i64 {
    ts.div_euclid(SLOT_MICROS) * SLOT_MICROS
}

/// Rows per SQLite statement (at most 22 bound values each, under the 32,766 limit).
const SQLITE_CHUNK: usize = 1_400;

#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    calls: i64,
    cost_nanos: i64,
    tokens: TokenCounts,
    units: UnitCounts,
    unpriced_calls: i64,
    max_input_tokens: i64,
}

impl Sums {
    /// Saturating: a sum past `i64::MAX` (impossible within [`LEDGER_CEILING`]) fails
    /// the ledger's CHECK instead of wrapping or panicking the writer.
    fn add(&mut self, e: &NewEvent) {
        self.calls = self.calls.saturating_add(1);
        self.cost_nanos = self.cost_nanos.saturating_add(e.cost_nanos);
        self.tokens.add(&e.tokens);
        self.units.add(&e.units);
        self.unpriced_calls += i64::from(e.cost_source == UNPRICED);
        self.max_input_tokens = self.max_input_tokens.max(e.tokens.input_tokens);
    }
}

type ModelKey<'a> = (i64, &'a str, &'a str, bool);
type TagKey<'a> = (&'a str, i64, &'a str);

/// Adds freshly stored events of `workspace_id` to the rollups. Call inside the transaction
/// that stored them, after the events: the rows are updated in key order, so concurrent
/// transactions lock them in the same order and cannot deadlock, and late in the
/// transaction, so row locks are held only until commit.
pub(crate) fn add(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    events: &[&NewEvent],
) -> Result<(), StoreError> {
    let mut models: BTreeMap<ModelKey<'_>, Sums> = BTreeMap::new();
    let mut tags: BTreeMap<TagKey<'_>, Sums> = BTreeMap::new();
    for e in events {
        let slot = slot_of(e.ts);
        models
            .entry((slot, &e.provider, &e.resolved_model, e.batch))
            .or_default()
            .add(e);
        for (key, value) in &e.tags {
            tags.entry((key, slot, value)).or_default().add(e);
        }
    }
    upsert(conn, workspace_id, models, tags)
}

/// Adds `models` and `tags` sums to their rows (model rows first, each in key order),
/// and counts a write into a slot before today as late (see `analytics::ranking`).
fn upsert(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    models: BTreeMap<ModelKey<'_>, Sums>,
    tags: BTreeMap<TagKey<'_>, Sums>,
) -> Result<(), StoreError> {
    let models: Vec<_> = models.into_iter().collect();
    let tags: Vec<_> = tags.into_iter().collect();
    let now = ranking::now_micros();
    let late = tags
        .iter()
        .any(|((_, slot, _), _)| ranking::is_late(*slot, now));
    match conn {
        AnyConnection::Postgresql(c) => {
            pg_upsert(c, &MODELS, workspace_id, &models, |q| {
                q.bind::<Array<BigInt>, _>(column(&models, |r| r.0.0))
                    .bind::<Array<Text>, _>(column(&models, |r| r.0.1))
                    .bind::<Array<Text>, _>(column(&models, |r| r.0.2))
                    .bind::<Array<Bool>, _>(column(&models, |r| r.0.3))
            })?;
            pg_upsert(c, &TAGS, workspace_id, &tags, |q| {
                q.bind::<Array<Text>, _>(column(&tags, |r| r.0.0))
                    .bind::<Array<BigInt>, _>(column(&tags, |r| r.0.1))
                    .bind::<Array<Text>, _>(column(&tags, |r| r.0.2))
            })?;
        }
        AnyConnection::Sqlite(_) => {
            for chunk in models.chunks(SQLITE_CHUNK) {
                sqlite_upsert(conn, &MODELS, workspace_id, chunk, push_model_key)?;
            }
            for chunk in tags.chunks(SQLITE_CHUNK) {
                sqlite_upsert(conn, &TAGS, workspace_id, chunk, push_tag_key)?;
            }
        }
    }
    if late {
        ranking::note_late(conn, workspace_id)?;
    }
    Ok(())
}

/// What re-pricing one stored event changes in the sums: its cost moves by `cost`
/// nano-dollars and it leaves (-1) or joins (+1) the unpriced calls; its key, tokens
/// and call count stay.
#[derive(Debug, Clone, Copy)]
pub struct Adjustment<'a> {
    /// The event's instant (microseconds).
    pub ts: i64,
    /// Its provider.
    pub provider: &'a str,
    /// Its resolved model.
    pub resolved_model: &'a str,
    /// Its batch flag.
    pub batch: bool,
    /// Its tags.
    pub tags: &'a BTreeMap<String, String>,
    /// New cost minus old cost.
    pub cost: i64,
    /// New minus old "is unpriced" (-1, 0 or 1).
    pub unpriced: i64,
}

/// Applies re-pricing `changes` of `workspace_id` to the rollups and the running totals,
/// in the transaction that changed the events, in the lock order of ingestion (model
/// rollups, tag rollups, totals; each in key order). Adding a signed amount commutes with
/// ingestion's own additions, so both can run at once.
pub(crate) fn adjust(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    changes: &[Adjustment<'_>],
) -> Result<(), StoreError> {
    let mut models: BTreeMap<ModelKey<'_>, Sums> = BTreeMap::new();
    let mut tags: BTreeMap<TagKey<'_>, Sums> = BTreeMap::new();
    let mut total: i128 = 0;
    for c in changes {
        let slot = slot_of(c.ts);
        let shift = |s: &mut Sums| {
            s.cost_nanos = s.cost_nanos.saturating_add(c.cost);
            s.unpriced_calls += c.unpriced;
        };
        shift(
            models
                .entry((slot, c.provider, c.resolved_model, c.batch))
                .or_default(),
        );
        for (key, value) in c.tags {
            shift(tags.entry((key, slot, value)).or_default());
        }
        total += i128::from(c.cost);
    }
    upsert(conn, workspace_id, models, tags)?;
    use crate::schema::ledger_totals as lt;
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    diesel::update(lt::table.find(workspace_id))
        .set(lt::cost_nanos.eq(lt::cost_nanos + total))
        .execute(conn)?;
    Ok(())
}

/// Largest running total an account may reach (`ledger_totals`' CHECK constraints):
/// its cost in nano-dollars ($9,000,000,000) and its input and output tokens. Every SQL
/// sum the store computes is over one account's events or rollups, all non-negative, so
/// it is at most the account's total and fits a BIGINT (2^63 - 1 ≈ 9.22e18). The other
/// token counts are parts of the input or output ones.
pub const LEDGER_CEILING: i64 = 9_000_000_000_000_000_000;

/// Adds freshly stored events of `workspace_id` to the account's running totals, in the
/// transaction that stored them and after their rollups (the lock order of every write
/// path). Crossing [`LEDGER_CEILING`] fails the statement: the transaction stores nothing
/// and the caller gets [`StoreError::LimitExceeded`].
pub(crate) fn add_totals(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    events: &[&NewEvent],
) -> Result<(), StoreError> {
    use crate::schema::ledger_totals as lt;
    use diesel::upsert::excluded;
    if events.is_empty() {
        return Ok(());
    }
    // Per event: cost <= 1e15 nanos and tokens <= 1e12 (checked at the edge), and a
    // transaction holds at most a few thousand events, so these i128 sums fit an i64; a
    // larger value still cannot wrap: it saturates and fails the CHECK.
    let total = |f: fn(&NewEvent) -> i64| {
        let sum: i128 = events.iter().map(|e| i128::from(f(e))).sum();
        i64::try_from(sum).unwrap_or(i64::MAX)
    };
    let (cost, input, output) = (
        total(|e| e.cost_nanos),
        total(|e| e.tokens.input_tokens),
        total(|e| e.tokens.output_tokens),
    );
    with_backend!(conn, |c| diesel::insert_into(lt::table)
        .values((
            lt::workspace_id.eq(workspace_id),
            lt::cost_nanos.eq(cost),
            lt::input_tokens.eq(input),
            lt::output_tokens.eq(output),
        ))
        .on_conflict(lt::workspace_id)
        .do_update()
        .set((
            lt::cost_nanos.eq(lt::cost_nanos + excluded(lt::cost_nanos)),
            lt::input_tokens.eq(lt::input_tokens + excluded(lt::input_tokens)),
            lt::output_tokens.eq(lt::output_tokens + excluded(lt::output_tokens)),
        ))
        .execute(c))?;
    Ok(())
}

/// One rollup table as every write path upserts it: the key columns, then the summed
/// columns (and for the model rollup the largest prompt). The SQLite batch path, the
/// PostgreSQL batch path and PostgreSQL's single-event statement all build their
/// `INSERT … ON CONFLICT … DO UPDATE` from it.
pub(crate) struct Rollup {
    /// Table name.
    pub table: &'static str,
    /// The conflict target: the columns that identify a row (`workspace_id` first).
    pub keys: &'static [&'static str],
    /// Whether the row keeps `max_input_tokens`.
    pub keeps_max: bool,
}

/// The `cost_source` of an event stored without a price (cost 0), counted apart.
pub const UNPRICED: &str = "unpriced";

/// The columns a rollup sums, in the order every statement lists them.
const SUMMED: [&str; 16] = [
    "calls",
    "cost_nanos",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "unpriced_calls",
    "cache_write_1h_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "images",
    "audio_input_seconds",
    "output_characters",
    "web_search_calls",
    "code_sessions",
];

/// Per user, slot, provider, model and batch flag.
pub(crate) const MODELS: Rollup = Rollup {
    table: "event_rollups",
    keys: &[
        "workspace_id",
        "slot",
        "provider",
        "resolved_model",
        "batch",
    ],
    keeps_max: true,
};

/// Per user, tag key, slot and tag value.
pub(crate) const TAGS: Rollup = Rollup {
    table: "tag_rollups",
    keys: &["workspace_id", "key", "slot", "value"],
    keeps_max: false,
};

impl Rollup {
    /// `INSERT INTO t (keys, sums[, max_input_tokens]) ` — the rows follow.
    pub(crate) fn insert_into(&self) -> String {
        let mut columns: Vec<&str> = self.keys.to_vec();
        columns.extend(SUMMED);
        if self.keeps_max {
            columns.push("max_input_tokens");
        }
        format!("INSERT INTO {} ({}) ", self.table, columns.join(", "))
    }

    /// ` ON CONFLICT (keys) DO UPDATE SET c = t.c + excluded.c, …`, the larger prompt
    /// kept with `max` (`MAX` on SQLite, `GREATEST` on PostgreSQL).
    pub(crate) fn on_conflict(&self, max: &str) -> String {
        let t = self.table;
        let mut set: Vec<String> = SUMMED
            .iter()
            .map(|c| format!("{c} = {t}.{c} + excluded.{c}"))
            .collect();
        if self.keeps_max {
            set.push(format!(
                "max_input_tokens = {max}({t}.max_input_tokens, excluded.max_input_tokens)"
            ));
        }
        format!(
            " ON CONFLICT ({}) DO UPDATE SET {}",
            self.keys.join(", "),
            set.join(", ")
        )
    }
}

/// `SET c = ledger_totals.c + excluded.c, …` for the account's running totals.
pub(crate) fn add_to_totals() -> String {
    ["cost_nanos", "input_tokens", "output_tokens"]
        .iter()
        .map(|c| format!("{c} = ledger_totals.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite: one multi-row `INSERT … VALUES … ON CONFLICT DO UPDATE`; `push_key` writes
/// the key columns after `workspace_id`, in `rollup.keys` order.
fn sqlite_upsert<K>(
    conn: &mut AnyConnection,
    rollup: &Rollup,
    workspace_id: WorkspaceId,
    rows: &[(K, Sums)],
    push_key: fn(&mut Sql, &K),
) -> Result<(), StoreError> {
    let mut sql = Sql::new(Backend::Sqlite);
    sql.push(&rollup.insert_into()).push("VALUES ");
    for (i, (key, s)) in rows.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.int(workspace_id.get()).push(", ");
        push_key(&mut sql, key);
        sql.push(", ");
        push_sums(&mut sql, s);
        if rollup.keeps_max {
            sql.push(", ").int(s.max_input_tokens);
        }
        sql.push(")");
    }
    sql.push(&rollup.on_conflict("MAX"));
    sql.execute(conn)?;
    Ok(())
}

fn push_model_key(sql: &mut Sql, (slot, provider, model, batch): &ModelKey<'_>) {
    sql.int(*slot).push(", ").text(provider).push(", ");
    sql.text(model).push(", ").bool(*batch);
}

fn push_tag_key(sql: &mut Sql, (key, slot, value): &TagKey<'_>) {
    sql.text(key).push(", ").int(*slot).push(", ").text(value);
}

fn push_sums(sql: &mut Sql, s: &Sums) {
    let t = &s.tokens;
    sql.int(s.calls).push(", ").int(s.cost_nanos).push(", ");
    sql.int(t.input_tokens)
        .push(", ")
        .int(t.output_tokens)
        .push(", ");
    sql.int(t.cached_input_tokens).push(", ");
    sql.int(t.cache_write_tokens).push(", ");
    sql.int(t.reasoning_tokens).push(", ");
    sql.int(s.unpriced_calls).push(", ");
    sql.int(t.cache_write_1h_tokens).push(", ");
    sql.int(t.input_audio_tokens).push(", ");
    sql.int(t.output_audio_tokens);
    for n in s.units.counts() {
        sql.push(", ").int(n);
    }
}

fn column<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

/// A statement bound so far (the key arrays borrow from the rows).
type PgQuery<'a> = BoxedSqlQuery<'a, Pg, SqlQuery>;

/// PostgreSQL: one `INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE` of `rows`
/// into `rollup`. `$1` is the workspace, then come one array per key column after
/// `workspace_id` (bound by `keys`, in `rollup.keys` order), one per summed column, and
/// for the model rollup the largest prompts.
fn pg_upsert<'a, K>(
    c: &mut PgConnection,
    rollup: &Rollup,
    workspace_id: WorkspaceId,
    rows: &'a [(K, Sums)],
    keys: impl FnOnce(PgQuery<'a>) -> PgQuery<'a>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let arrays = rollup.keys.len() - 1 + SUMMED.len() + usize::from(rollup.keeps_max);
    let params: Vec<String> = (2..=arrays + 1).map(|i| format!("${i}")).collect();
    let query = diesel::sql_query(format!(
        "{}SELECT $1, * FROM unnest({}){}",
        rollup.insert_into(),
        params.join(", "),
        rollup.on_conflict("GREATEST")
    ))
    .into_boxed::<Pg>()
    .bind::<BigInt, _>(workspace_id);
    let sum = |f: fn(&Sums) -> i64| column(rows, |r| f(&r.1));
    let mut query = keys(query)
        .bind::<Array<BigInt>, _>(sum(|s| s.calls))
        .bind::<Array<BigInt>, _>(sum(|s| s.cost_nanos))
        .bind::<Array<BigInt>, _>(sum(|s| s.tokens.input_tokens))
        .bind::<Array<BigInt>, _>(sum(|s| s.tokens.output_tokens))
        .bind::<Array<BigInt>, _>(sum(|s| s.tokens.cached_input_tokens))
        .bind::<Array<BigInt>, _>(sum(|s| s.tokens.cache_write_tokens))
        .bind::<Array<BigInt>, _>(sum(|s| s.tokens.reasoning_tokens))
        .bind::<Array<BigInt>, _>(sum(|s| s.unpriced_calls))
        .bind::<Array<BigInt>, _>(sum(|s| s.tokens.cache_write_1h_tokens))
        .bind::<Array<BigInt>, _>(sum(|s| s.tokens.input_audio_tokens))
        .bind::<Array<BigInt>, _>(sum(|s| s.tokens.output_audio_tokens))
        .bind::<Array<BigInt>, _>(sum(|s| s.units.images))
        .bind::<Array<BigInt>, _>(sum(|s| s.units.audio_input_seconds))
        .bind::<Array<BigInt>, _>(sum(|s| s.units.output_characters))
        .bind::<Array<BigInt>, _>(sum(|s| s.units.web_search_calls))
        .bind::<Array<BigInt>, _>(sum(|s| s.units.code_sessions));
    if rollup.keeps_max {
        query = query.bind::<Array<BigInt>, _>(sum(|s| s.max_input_tokens));
    }
    query.execute(c)?;
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn rollup_statements_name_every_column_once() {
        assert_eq!(
            MODELS.insert_into(),
            "INSERT INTO event_rollups (workspace_id, slot, provider, resolved_model, batch, calls, \
             cost_nanos, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, \
             reasoning_tokens, unpriced_calls, cache_write_1h_tokens, input_audio_tokens, \
             output_audio_tokens, images, audio_input_seconds, output_characters, \
             web_search_calls, code_sessions, max_input_tokens) "
        );
        let tags = TAGS.on_conflict("MAX");
        assert!(
            tags.starts_with(
                " ON CONFLICT (workspace_id, key, slot, value) DO UPDATE SET \
                 calls = tag_rollups.calls + excluded.calls, "
            ),
            "{tags}"
        );
        assert!(!tags.contains("max_input_tokens"));
        assert!(
            MODELS
                .on_conflict("GREATEST")
                .ends_with("GREATEST(event_rollups.max_input_tokens, excluded.max_input_tokens)")
        );
    }

    use super::*;

    #[test]
    fn slots_floor_also_before_1970() {
        assert_eq!(slot_of(0), 0);
        assert_eq!(slot_of(SLOT_MICROS - 1), 0);
        assert_eq!(slot_of(SLOT_MICROS), SLOT_MICROS);
        assert_eq!(slot_of(-1), -SLOT_MICROS);
        assert_eq!(slot_of(-SLOT_MICROS), -SLOT_MICROS);
    }
}
