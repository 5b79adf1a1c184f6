//! Aggregates over the event ledger, computed in SQL and scoped by user and
//! [`EventFilter`]. Sums are exact `i64`s (`CAST(SUM(…) AS BIGINT)`); an empty selection
//! sums to zero.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::conn::MultiBackend;
use crate::rollups;
use crate::sql::Sql;
use crate::{AnyConnection, EventFilter, Store, StoreError};

/// Microseconds in a UTC day.
pub const DAY_MICROS: i64 = 86_400_000_000;

fn sum(column: &str, alias: &str) -> String {
    format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT) AS {alias}")
}

/// Totals over a selection of events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct Totals {
    /// Total cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Sum of `input_tokens`.
    #[diesel(sql_type = BigInt)]
    pub input_tokens: i64,
    /// Sum of `output_tokens`.
    #[diesel(sql_type = BigInt)]
    pub output_tokens: i64,
    /// Sum of `cached_input_tokens`.
    #[diesel(sql_type = BigInt)]
    pub cached_input_tokens: i64,
    /// Sum of `cache_write_tokens`.
    #[diesel(sql_type = BigInt)]
    pub cache_write_tokens: i64,
    /// Sum of `reasoning_tokens`.
    #[diesel(sql_type = BigInt)]
    pub reasoning_tokens: i64,
}

/// Totals of one UTC time slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct SlotRow {
    /// Start of the slot, microseconds since the epoch (a multiple of the slot width).
    #[diesel(sql_type = BigInt)]
    pub slot_start_micros: i64,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Sum of `input_tokens`.
    #[diesel(sql_type = BigInt)]
    pub input_tokens: i64,
    /// Sum of `output_tokens`.
    #[diesel(sql_type = BigInt)]
    pub output_tokens: i64,
}

/// Totals of one provider.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct GroupTotals {
    /// Provider id.
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Sum of `input_tokens`.
    #[diesel(sql_type = BigInt)]
    pub input_tokens: i64,
    /// Sum of `output_tokens`.
    #[diesel(sql_type = BigInt)]
    pub output_tokens: i64,
}

/// Totals of one `(provider, resolved_model)`.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ModelTotals {
    /// Provider id.
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// The resolved (catalog) model name.
    #[diesel(sql_type = Text)]
    pub model: String,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Sum of `input_tokens`.
    #[diesel(sql_type = BigInt)]
    pub input_tokens: i64,
    /// Sum of `output_tokens`.
    #[diesel(sql_type = BigInt)]
    pub output_tokens: i64,
}

/// Totals of one value of a tag key.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TagTotals {
    /// The tag value.
    #[diesel(sql_type = Text)]
    pub value: String,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
}

/// Cost of one `(provider, resolved_model)` on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DailyModelRow {
    /// Start of the UTC day, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub day_start_micros: i64,
    /// Provider id.
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// The resolved (catalog) model name.
    #[diesel(sql_type = Text)]
    pub model: String,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
}

/// Cost of one value of a tag key on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DailyTagRow {
    /// Start of the UTC day, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub day_start_micros: i64,
    /// The tag value.
    #[diesel(sql_type = Text)]
    pub value: String,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
}

/// How one `(provider, resolved_model)` is used with or without the batch API: the token
/// mix recommendations reprice at other models' prices.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TokenMixRow {
    /// Provider id.
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// The resolved (catalog) model name.
    #[diesel(sql_type = Text)]
    pub model: String,
    /// Whether these events went through a batch API.
    #[diesel(sql_type = Bool)]
    pub batch: bool,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Sum of `input_tokens` (cached included).
    #[diesel(sql_type = BigInt)]
    pub input_tokens: i64,
    /// Sum of `cached_input_tokens`.
    #[diesel(sql_type = BigInt)]
    pub cached_input_tokens: i64,
    /// Sum of `cache_write_tokens`.
    #[diesel(sql_type = BigInt)]
    pub cache_write_tokens: i64,
    /// Sum of `output_tokens` (reasoning included).
    #[diesel(sql_type = BigInt)]
    pub output_tokens: i64,
    /// Sum of `reasoning_tokens`.
    #[diesel(sql_type = BigInt)]
    pub reasoning_tokens: i64,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// The largest `input_tokens` of one event (to check context windows).
    #[diesel(sql_type = BigInt)]
    pub max_input_tokens: i64,
}

/// Where one part of a query reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src<'a> {
    /// The events themselves (`e`).
    Events,
    /// `event_rollups` (`r`).
    Models,
    /// `tag_rollups` (`r`) of one key, optionally one value.
    Tags {
        key: &'a str,
        value: Option<&'a str>,
    },
}

impl Src<'_> {
    /// Column prefix.
    fn p(self) -> &'static str {
        match self {
            Src::Events => "e.",
            _ => "r.",
        }
    }

    /// The instant a row is bucketed by.
    fn ts(self) -> &'static str {
        match self {
            Src::Events => "e.ts",
            _ => "r.slot",
        }
    }

    /// The number of events behind the selected rows.
    fn calls(self) -> &'static str {
        match self {
            Src::Events => "COUNT(*)",
            _ => "CAST(COALESCE(SUM(r.calls), 0) AS BIGINT)",
        }
    }

    /// `SUM(column)` as `alias`.
    fn sum(self, column: &str) -> String {
        sum(&format!("{}{column}", self.p()), column)
    }

    /// Cost, calls and the token sums.
    fn totals(self) -> String {
        [
            self.sum("cost_nanos"),
            format!("{} AS calls", self.calls()),
            self.sum("input_tokens"),
            self.sum("output_tokens"),
        ]
        .join(", ")
    }
}

/// What rollups can answer an aggregate.
#[derive(Clone, Copy)]
enum Allow<'a> {
    /// Nothing: read the events.
    EventsOnly,
    /// Totals: `event_rollups` without tag filters, `tag_rollups` for one tag alone.
    Totals,
    /// Groups by provider or model: `event_rollups` without tag filters.
    Models,
    /// Groups by the values of tag `key`: `tag_rollups` without other filters.
    TagKey(&'a str),
}

/// The source for whole slots of `filter`, if rollups can answer it.
fn rollup_source<'a>(filter: &'a EventFilter, allow: Allow<'a>) -> Option<Src<'a>> {
    let unscoped = filter.provider.is_none() && filter.model.is_none();
    match (allow, filter.tags.as_slice()) {
        (Allow::Totals | Allow::Models, []) => Some(Src::Models),
        (Allow::Totals, [(key, value)]) if unscoped => Some(Src::Tags {
            key,
            value: Some(value),
        }),
        (Allow::TagKey(key), []) if unscoped => Some(Src::Tags { key, value: None }),
        _ => None,
    }
}

/// Splits `filter` into the parts that answer it: whole rollup slots in the middle, raw
/// events at range edges that cut a slot (at most 15 minutes each). One raw part when
/// rollups cannot answer it or the range is inside one slot.
fn plan<'a>(filter: &'a EventFilter, allow: Allow<'a>) -> Vec<(Src<'a>, EventFilter)> {
    let raw = || vec![(Src::Events, filter.clone())];
    let Some(source) = rollup_source(filter, allow) else {
        return raw();
    };
    let ceil = |t: i64| rollups::slot_of(t - 1) + rollups::SLOT_MICROS;
    let first = filter.start_micros.map(ceil);
    let last = filter.end_micros.map(rollups::slot_of);
    if let (Some(a), Some(b)) = (first, last)
        && a >= b
    {
        return raw();
    }
    let edge = |start: i64, end: i64| EventFilter {
        start_micros: Some(start),
        end_micros: Some(end),
        ..filter.clone()
    };
    let mut parts = vec![(
        source,
        EventFilter {
            start_micros: first,
            end_micros: last,
            ..filter.clone()
        },
    )];
    if let (Some(start), Some(first)) = (filter.start_micros, first)
        && start < first
    {
        parts.push((Src::Events, edge(start, first)));
    }
    if let (Some(end), Some(last)) = (filter.end_micros, last)
        && last < end
    {
        parts.push((Src::Events, edge(last, end)));
    }
    parts
}

/// Appends `FROM … WHERE …` selecting `filter`'s rows of `src` (with `group_key`, the
/// events joined to that tag key's rows as `g`).
fn push_from(
    sql: &mut Sql,
    src: Src<'_>,
    user_id: i64,
    filter: &EventFilter,
    group_key: Option<&str>,
) {
    match src {
        Src::Events => {
            sql.push(" FROM events e ");
            match group_key {
                Some(key) => push_tag_join(sql, key),
                None => {
                    sql.push("WHERE ");
                }
            }
            filter.push_where(sql, user_id);
        }
        Src::Models => {
            sql.push(" FROM event_rollups r WHERE r.user_id = ")
                .int(user_id);
            push_slot_range(sql, filter);
            if let Some(provider) = &filter.provider {
                sql.push(" AND r.provider = ").text(provider);
            }
            if let Some(model) = &filter.model {
                sql.push(" AND r.resolved_model = ").text(model);
            }
        }
        Src::Tags { key, value } => {
            sql.push(" FROM tag_rollups r WHERE r.user_id = ")
                .int(user_id)
                .push(" AND r.key = ")
                .text(key);
            if let Some(value) = value {
                sql.push(" AND r.value = ").text(value);
            }
            push_slot_range(sql, filter);
        }
    }
}

fn push_slot_range(sql: &mut Sql, filter: &EventFilter) {
    if let Some(start) = filter.start_micros {
        sql.push(" AND r.slot >= ").int(start);
    }
    if let Some(end) = filter.end_micros {
        sql.push(" AND r.slot < ").int(end);
    }
}

/// `JOIN event_tags g … WHERE `: each selected event's row for tag `key`, found by the
/// tag table's primary key `(event_id, key)`, so the events' `(user_id, ts)` index drives
/// the query (a tag-index scan over all of a key's values is far slower).
fn push_tag_join(sql: &mut Sql, key: &str) {
    sql.push("JOIN event_tags g ON g.event_id = e.id AND g.key = ")
        .text(key)
        .push(" WHERE ");
}

/// `ts` rounded down to a multiple of `width` (floor, also before 1970).
fn push_floor(sql: &mut Sql, ts: &str, width: i64) {
    sql.push(ts).push(" - (((").push(ts).push(" % ").int(width);
    sql.push(") + ")
        .int(width)
        .push(") % ")
        .int(width)
        .push(")");
}

/// Runs `query` for every part of `filter`'s plan and concatenates the rows.
fn run<T: QueryableByName<MultiBackend> + 'static>(
    conn: &mut AnyConnection,
    filter: &EventFilter,
    allow: Allow<'_>,
    query: impl Fn(Src<'_>, &EventFilter) -> Sql,
) -> Result<Vec<T>, StoreError> {
    let mut rows = Vec::new();
    for (src, part) in plan(filter, allow) {
        rows.extend(query(src, &part).load::<T>(conn)?);
    }
    Ok(rows)
}

/// Adds rows with equal keys, in key order.
fn merge<K: Ord, T>(rows: Vec<T>, key: impl Fn(&T) -> K, add: impl Fn(&mut T, &T)) -> Vec<T> {
    let mut merged: BTreeMap<K, T> = BTreeMap::new();
    for row in rows {
        match merged.entry(key(&row)) {
            Entry::Occupied(mut slot) => add(slot.get_mut(), &row),
            Entry::Vacant(slot) => {
                slot.insert(row);
            }
        }
    }
    merged.into_values().collect()
}

/// Costliest first, then most calls, then by `name`.
fn costliest_first<T>(
    rows: &mut [T],
    sums: impl Fn(&T) -> (i64, i64),
    name: impl Fn(&T) -> String,
) {
    rows.sort_by(|a, b| {
        let ((ca, na), (cb, nb)) = (sums(a), sums(b));
        cb.cmp(&ca)
            .then(nb.cmp(&na))
            .then_with(|| name(a).cmp(&name(b)))
    });
}

/// Cost, calls and token sums of the matching events.
pub fn totals(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
) -> Result<Totals, StoreError> {
    let backend = conn.backend();
    let parts: Vec<Totals> = run(conn, filter, Allow::Totals, |src, part| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT ").push(&src.totals()).push(", ");
        sql.push(&src.sum("cached_input_tokens")).push(", ");
        sql.push(&src.sum("cache_write_tokens")).push(", ");
        sql.push(&src.sum("reasoning_tokens"));
        push_from(&mut sql, src, user_id, part, None);
        sql
    })?;
    Ok(parts.into_iter().fold(Totals::default(), |mut t, p| {
        t.cost_nanos += p.cost_nanos;
        t.calls += p.calls;
        t.input_tokens += p.input_tokens;
        t.output_tokens += p.output_tokens;
        t.cached_input_tokens += p.cached_input_tokens;
        t.cache_write_tokens += p.cache_write_tokens;
        t.reasoning_tokens += p.reasoning_tokens;
        t
    }))
}

/// Total cost (nano-dollars) of the matching events; a budget's spend is this over its
/// scope and period.
pub fn spend(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Spend {
        #[diesel(sql_type = BigInt)]
        cost_nanos: i64,
    }
    let backend = conn.backend();
    let parts: Vec<Spend> = run(conn, filter, Allow::Totals, |src, part| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT ").push(&src.sum("cost_nanos"));
        push_from(&mut sql, src, user_id, part, None);
        sql
    })?;
    Ok(parts.iter().map(|p| p.cost_nanos).sum())
}

/// Totals per UTC slot of `slot_secs` seconds (slots aligned on the Unix epoch), oldest
/// first; empty slots are absent. 900-second slots fold into calendar buckets of any
/// time zone.
pub fn slots(
    conn: &mut AnyConnection,
    user_id: i64,
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
    let backend = conn.backend();
    let rows = run(conn, filter, allow, |src, part| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT ");
        push_floor(&mut sql, src.ts(), width);
        sql.push(" AS slot_start_micros, ").push(&src.totals());
        push_from(&mut sql, src, user_id, part, None);
        sql.push(" GROUP BY 1");
        sql
    })?;
    Ok(merge(
        rows,
        |r: &SlotRow| r.slot_start_micros,
        |a, b| {
            a.cost_nanos += b.cost_nanos;
            a.calls += b.calls;
            a.input_tokens += b.input_tokens;
            a.output_tokens += b.output_tokens;
        },
    ))
}

/// Totals per provider, costliest first.
pub fn by_provider(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
) -> Result<Vec<GroupTotals>, StoreError> {
    let backend = conn.backend();
    let rows = run(conn, filter, Allow::Models, |src, part| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT ")
            .push(src.p())
            .push("provider AS provider, ");
        sql.push(&src.totals());
        push_from(&mut sql, src, user_id, part, None);
        sql.push(" GROUP BY 1");
        sql
    })?;
    let mut rows = merge(
        rows,
        |r: &GroupTotals| r.provider.clone(),
        |a, b| {
            a.cost_nanos += b.cost_nanos;
            a.calls += b.calls;
            a.input_tokens += b.input_tokens;
            a.output_tokens += b.output_tokens;
        },
    );
    costliest_first(
        &mut rows,
        |r| (r.cost_nanos, r.calls),
        |r| r.provider.clone(),
    );
    Ok(rows)
}

/// Totals per `(provider, resolved_model)`, costliest first, at most `limit` rows.
pub fn top_models(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    limit: u32,
) -> Result<Vec<ModelTotals>, StoreError> {
    let backend = conn.backend();
    let rows = run(conn, filter, Allow::Models, |src, part| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT ")
            .push(src.p())
            .push("provider AS provider, ");
        sql.push(src.p()).push("resolved_model AS model, ");
        sql.push(&src.totals());
        push_from(&mut sql, src, user_id, part, None);
        sql.push(" GROUP BY 1, 2");
        sql
    })?;
    let mut rows = merge(
        rows,
        |r: &ModelTotals| (r.provider.clone(), r.model.clone()),
        |a, b| {
            a.cost_nanos += b.cost_nanos;
            a.calls += b.calls;
            a.input_tokens += b.input_tokens;
            a.output_tokens += b.output_tokens;
        },
    );
    costliest_first(
        &mut rows,
        |r| (r.cost_nanos, r.calls),
        |r| format!("{}\u{0}{}", r.provider, r.model),
    );
    rows.truncate(limit as usize);
    Ok(rows)
}

/// Cost and calls per value of tag `key`, costliest first; events without that tag are
/// not counted.
pub fn by_tag(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    key: &str,
) -> Result<Vec<TagTotals>, StoreError> {
    let backend = conn.backend();
    let rows = run(conn, filter, Allow::TagKey(key), |src, part| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT ")
            .push(if src == Src::Events { "g." } else { "r." })
            .push("value AS value, ")
            .push(&src.sum("cost_nanos"))
            .push(", ")
            .push(src.calls())
            .push(" AS calls");
        push_from(&mut sql, src, user_id, part, Some(key));
        sql.push(" GROUP BY 1");
        sql
    })?;
    let mut rows = merge(
        rows,
        |r: &TagTotals| r.value.clone(),
        |a, b| {
            a.cost_nanos += b.cost_nanos;
            a.calls += b.calls;
        },
    );
    costliest_first(&mut rows, |r| (r.cost_nanos, r.calls), |r| r.value.clone());
    Ok(rows)
}

/// Cost and calls per UTC day and `(provider, resolved_model)`, oldest day first: the
/// series anomaly attribution reads.
pub fn daily_by_model(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
) -> Result<Vec<DailyModelRow>, StoreError> {
    let backend = conn.backend();
    let rows = run(conn, filter, Allow::Models, |src, part| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT ");
        push_floor(&mut sql, src.ts(), DAY_MICROS);
        sql.push(" AS day_start_micros, ")
            .push(src.p())
            .push("provider AS provider, ");
        sql.push(src.p()).push("resolved_model AS model, ");
        sql.push(&src.sum("cost_nanos")).push(", ");
        sql.push(src.calls()).push(" AS calls");
        push_from(&mut sql, src, user_id, part, None);
        sql.push(" GROUP BY 1, 2, 3");
        sql
    })?;
    Ok(merge(
        rows,
        |r: &DailyModelRow| (r.day_start_micros, r.provider.clone(), r.model.clone()),
        |a, b| {
            a.cost_nanos += b.cost_nanos;
            a.calls += b.calls;
        },
    ))
}

/// Cost and calls per UTC day and value of tag `key`, oldest day first.
pub fn daily_by_tag(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    key: &str,
) -> Result<Vec<DailyTagRow>, StoreError> {
    let backend = conn.backend();
    let rows = run(conn, filter, Allow::TagKey(key), |src, part| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT ");
        let ts = if src == Src::Events { "g.ts" } else { "r.slot" };
        push_floor(&mut sql, ts, DAY_MICROS);
        sql.push(" AS day_start_micros, ")
            .push(if src == Src::Events { "g." } else { "r." })
            .push("value AS value, ")
            .push(&src.sum("cost_nanos"))
            .push(", ")
            .push(src.calls())
            .push(" AS calls");
        push_from(&mut sql, src, user_id, part, Some(key));
        sql.push(" GROUP BY 1, 2");
        sql
    })?;
    Ok(merge(
        rows,
        |r: &DailyTagRow| (r.day_start_micros, r.value.clone()),
        |a, b| {
            a.cost_nanos += b.cost_nanos;
            a.calls += b.calls;
        },
    ))
}

/// The token mix per `(provider, resolved_model, batch)`, ordered by those. With
/// `prompts_above`, only the events whose `input_tokens` exceed it: the calls a
/// long-context tier reprices (read from the events: rollups do not split by prompt size).
pub fn token_mix(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    prompts_above: Option<i64>,
) -> Result<Vec<TokenMixRow>, StoreError> {
    let allow = if prompts_above.is_some() {
        Allow::EventsOnly
    } else {
        Allow::Models
    };
    let backend = conn.backend();
    let rows = run(conn, filter, allow, |src, part| {
        let p = src.p();
        let mut sql = Sql::new(backend);
        sql.push("SELECT ").push(p).push("provider AS provider, ");
        sql.push(p).push("resolved_model AS model, ");
        sql.push(p)
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
        ] {
            sql.push(&src.sum(column)).push(", ");
        }
        sql.push(if src == Src::Events {
            "CAST(MAX(e.input_tokens) AS BIGINT)"
        } else {
            "CAST(MAX(r.max_input_tokens) AS BIGINT)"
        })
        .push(" AS max_input_tokens");
        push_from(&mut sql, src, user_id, part, None);
        if let Some(threshold) = prompts_above {
            sql.push(" AND e.input_tokens > ").int(threshold);
        }
        sql.push(" GROUP BY 1, 2, 3");
        sql
    })?;
    Ok(merge(
        rows,
        |r: &TokenMixRow| (r.provider.clone(), r.model.clone(), r.batch),
        |a, b| {
            a.calls += b.calls;
            a.input_tokens += b.input_tokens;
            a.cached_input_tokens += b.cached_input_tokens;
            a.cache_write_tokens += b.cache_write_tokens;
            a.output_tokens += b.output_tokens;
            a.reasoning_tokens += b.reasoning_tokens;
            a.cost_nanos += b.cost_nanos;
            a.max_input_tokens = a.max_input_tokens.max(b.max_input_tokens);
        },
    ))
}

/// The distinct tag keys of the user's events in the filter's time range (by whole
/// 15-minute slots; provider, model and tag filters are not applied), alphabetical, at
/// most `limit`. A loose index scan over the tag rollups' key: one index probe per key,
/// however many rows each key has.
pub fn tag_keys(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        key: String,
    }
    let mut sql = Sql::new(conn.backend());
    sql.push("WITH RECURSIVE k (key) AS (SELECT MIN(key) FROM tag_rollups WHERE user_id = ")
        .int(user_id)
        .push(" UNION ALL SELECT (SELECT MIN(t.key) FROM tag_rollups t WHERE t.user_id = ")
        .int(user_id)
        .push(" AND t.key > k.key) FROM k WHERE k.key IS NOT NULL) ")
        .push("SELECT k.key AS key FROM k WHERE k.key IS NOT NULL AND EXISTS (SELECT 1 FROM tag_rollups r WHERE r.user_id = ")
        .int(user_id)
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

impl Store {
    /// See [`analytics::totals`](totals).
    pub fn totals(&self, user_id: i64, filter: &EventFilter) -> Result<Totals, StoreError> {
        self.with_conn(|c| totals(c, user_id, filter))
    }

    /// See [`analytics::spend`](spend).
    pub fn spend(&self, user_id: i64, filter: &EventFilter) -> Result<i64, StoreError> {
        self.with_conn(|c| spend(c, user_id, filter))
    }

    /// See [`analytics::slots`](slots).
    pub fn slots(
        &self,
        user_id: i64,
        filter: &EventFilter,
        slot_secs: u32,
    ) -> Result<Vec<SlotRow>, StoreError> {
        self.with_conn(|c| slots(c, user_id, filter, slot_secs))
    }

    /// See [`analytics::by_provider`](by_provider).
    pub fn cost_by_provider(
        &self,
        user_id: i64,
        filter: &EventFilter,
    ) -> Result<Vec<GroupTotals>, StoreError> {
        self.with_conn(|c| by_provider(c, user_id, filter))
    }

    /// See [`analytics::top_models`](top_models).
    pub fn top_models(
        &self,
        user_id: i64,
        filter: &EventFilter,
        limit: u32,
    ) -> Result<Vec<ModelTotals>, StoreError> {
        self.with_conn(|c| top_models(c, user_id, filter, limit))
    }

    /// See [`analytics::by_tag`](by_tag).
    pub fn cost_by_tag(
        &self,
        user_id: i64,
        filter: &EventFilter,
        key: &str,
    ) -> Result<Vec<TagTotals>, StoreError> {
        self.with_conn(|c| by_tag(c, user_id, filter, key))
    }

    /// See [`analytics::daily_by_model`](daily_by_model).
    pub fn daily_by_model(
        &self,
        user_id: i64,
        filter: &EventFilter,
    ) -> Result<Vec<DailyModelRow>, StoreError> {
        self.with_conn(|c| daily_by_model(c, user_id, filter))
    }

    /// See [`analytics::daily_by_tag`](daily_by_tag).
    pub fn daily_by_tag(
        &self,
        user_id: i64,
        filter: &EventFilter,
        key: &str,
    ) -> Result<Vec<DailyTagRow>, StoreError> {
        self.with_conn(|c| daily_by_tag(c, user_id, filter, key))
    }

    /// See [`analytics::token_mix`](token_mix).
    pub fn token_mix(
        &self,
        user_id: i64,
        filter: &EventFilter,
        prompts_above: Option<i64>,
    ) -> Result<Vec<TokenMixRow>, StoreError> {
        self.with_conn(|c| token_mix(c, user_id, filter, prompts_above))
    }

    /// See [`analytics::tag_keys`](tag_keys).
    pub fn tag_keys(
        &self,
        user_id: i64,
        filter: &EventFilter,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.with_conn(|c| tag_keys(c, user_id, filter, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = rollups::SLOT_MICROS;

    fn sources(
        filter: &EventFilter,
        allow: Allow<'_>,
    ) -> Vec<(&'static str, Option<i64>, Option<i64>)> {
        plan(filter, allow)
            .into_iter()
            .map(|(src, f)| {
                let name = match src {
                    Src::Events => "events",
                    Src::Models => "models",
                    Src::Tags { .. } => "tags",
                };
                (name, f.start_micros, f.end_micros)
            })
            .collect()
    }

    #[test]
    fn whole_slots_come_from_rollups_and_cut_edges_from_events() {
        let aligned = EventFilter::between(10 * S, 20 * S);
        assert_eq!(
            sources(&aligned, Allow::Totals),
            [("models", Some(10 * S), Some(20 * S))]
        );
        let cut = EventFilter::between(10 * S + 1, 20 * S - 1);
        assert_eq!(
            sources(&cut, Allow::Models),
            [
                ("models", Some(11 * S), Some(19 * S)),
                ("events", Some(10 * S + 1), Some(11 * S)),
                ("events", Some(19 * S), Some(20 * S - 1)),
            ]
        );
        // Inside one slot, or two cut slots: the events alone.
        let inside = EventFilter::between(10 * S + 1, 10 * S + 2);
        assert_eq!(
            sources(&inside, Allow::Totals),
            [("events", Some(10 * S + 1), Some(10 * S + 2))]
        );
        let two = EventFilter::between(10 * S + 1, 11 * S + 2);
        assert_eq!(sources(&two, Allow::Totals).len(), 1);
        // Unbounded ends stay unbounded.
        assert_eq!(
            sources(&EventFilter::default(), Allow::Models),
            [("models", None, None)]
        );
    }

    #[test]
    fn filters_rollups_cannot_answer_read_the_events() {
        let tag = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let one_tag = EventFilter {
            tags: vec![tag("team", "a")],
            ..EventFilter::default()
        };
        assert_eq!(sources(&one_tag, Allow::Totals)[0].0, "tags");
        assert_eq!(sources(&one_tag, Allow::Models)[0].0, "events");
        let scoped_tag = EventFilter {
            provider: Some("openai".into()),
            ..one_tag.clone()
        };
        assert_eq!(sources(&scoped_tag, Allow::Totals)[0].0, "events");
        let two_tags = EventFilter {
            tags: vec![tag("a", "1"), tag("b", "2")],
            ..EventFilter::default()
        };
        assert_eq!(sources(&two_tags, Allow::Totals)[0].0, "events");
        assert_eq!(
            sources(&EventFilter::default(), Allow::TagKey("team"))[0].0,
            "tags"
        );
        let by_model = EventFilter {
            model: Some("gpt-4o".into()),
            ..EventFilter::default()
        };
        assert_eq!(sources(&by_model, Allow::TagKey("team"))[0].0, "events");
        assert_eq!(
            sources(&EventFilter::default(), Allow::EventsOnly)[0].0,
            "events"
        );
    }
}
