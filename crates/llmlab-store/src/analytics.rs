//! Aggregates over the event ledger, computed in SQL and scoped by user and
//! [`EventFilter`]. Sums are exact `i64`s (`CAST(SUM(…) AS BIGINT)`); an empty selection
//! sums to zero.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::sql::Sql;
use crate::{AnyConnection, EventFilter, Store, StoreError};

/// Microseconds in a UTC day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// `e.ts` rounded down to a multiple of `width` (floor, also for instants before 1970).
fn push_slot(sql: &mut Sql, width: i64) {
    sql.push("e.ts - (((e.ts % ")
        .int(width)
        .push(") + ")
        .int(width);
    sql.push(") % ").int(width).push(")");
}

fn sum(column: &str, alias: &str) -> String {
    format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT) AS {alias}")
}

/// Cost, calls and the token sums.
fn totals_columns() -> String {
    [
        sum("e.cost_nanos", "cost_nanos"),
        "COUNT(*) AS calls".into(),
        sum("e.input_tokens", "input_tokens"),
        sum("e.output_tokens", "output_tokens"),
    ]
    .join(", ")
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

/// `JOIN event_tags g … WHERE `: the tag rows of `key`, bounded like the events (user
/// and time range repeated on `g`, so the tag index can drive the join).
fn push_tag_join(sql: &mut Sql, user_id: i64, filter: &EventFilter, key: &str) {
    sql.push("JOIN event_tags g ON g.event_id = e.id AND g.user_id = ")
        .int(user_id)
        .push(" AND g.key = ")
        .text(key);
    if let Some(start) = filter.start_micros {
        sql.push(" AND g.ts >= ").int(start);
    }
    if let Some(end) = filter.end_micros {
        sql.push(" AND g.ts < ").int(end);
    }
    sql.push(" WHERE ");
}

/// Starts `SELECT {columns} FROM events e WHERE {filter}`.
fn select(conn: &AnyConnection, columns: &str, user_id: i64, filter: &EventFilter) -> Sql {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT ")
        .push(columns)
        .push(" FROM events e WHERE ");
    filter.push_where(&mut sql, user_id);
    sql
}

/// Cost, calls and token sums of the matching events.
pub fn totals(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
) -> Result<Totals, StoreError> {
    let columns = [
        totals_columns(),
        sum("e.cached_input_tokens", "cached_input_tokens"),
        sum("e.cache_write_tokens", "cache_write_tokens"),
        sum("e.reasoning_tokens", "reasoning_tokens"),
    ]
    .join(", ");
    let rows: Vec<Totals> = select(conn, &columns, user_id, filter).load(conn)?;
    Ok(rows.into_iter().next().unwrap_or_default())
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
    let rows: Vec<Spend> =
        select(conn, &sum("e.cost_nanos", "cost_nanos"), user_id, filter).load(conn)?;
    Ok(rows.first().map_or(0, |r| r.cost_nanos))
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
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT ");
    push_slot(&mut sql, width);
    sql.push(" AS slot_start_micros, ")
        .push(&totals_columns())
        .push(" FROM events e WHERE ");
    filter.push_where(&mut sql, user_id);
    sql.push(" GROUP BY 1 ORDER BY 1");
    Ok(sql.load(conn)?)
}

/// Totals per provider, costliest first.
pub fn by_provider(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
) -> Result<Vec<GroupTotals>, StoreError> {
    let columns = format!("e.provider AS provider, {}", totals_columns());
    let mut sql = select(conn, &columns, user_id, filter);
    sql.push(" GROUP BY e.provider ORDER BY cost_nanos DESC, calls DESC, provider");
    Ok(sql.load(conn)?)
}

/// Totals per `(provider, resolved_model)`, costliest first, at most `limit` rows.
pub fn top_models(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    limit: u32,
) -> Result<Vec<ModelTotals>, StoreError> {
    let columns = format!(
        "e.provider AS provider, e.resolved_model AS model, {}",
        totals_columns()
    );
    let mut sql = select(conn, &columns, user_id, filter);
    sql.push(" GROUP BY e.provider, e.resolved_model")
        .push(" ORDER BY cost_nanos DESC, calls DESC, provider, model LIMIT ")
        .int(i64::from(limit));
    Ok(sql.load(conn)?)
}

/// Cost and calls per value of tag `key`, costliest first; events without that tag are
/// not counted.
pub fn by_tag(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    key: &str,
) -> Result<Vec<TagTotals>, StoreError> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT g.value AS value, ")
        .push(&sum("e.cost_nanos", "cost_nanos"))
        .push(", COUNT(*) AS calls FROM events e ");
    push_tag_join(&mut sql, user_id, filter, key);
    filter.push_where(&mut sql, user_id);
    sql.push(" GROUP BY g.value ORDER BY cost_nanos DESC, calls DESC, value");
    Ok(sql.load(conn)?)
}

/// Cost and calls per UTC day and `(provider, resolved_model)`, oldest day first: the
/// series anomaly attribution reads.
pub fn daily_by_model(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
) -> Result<Vec<DailyModelRow>, StoreError> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT ");
    push_slot(&mut sql, DAY_MICROS);
    sql.push(" AS day_start_micros, e.provider AS provider, e.resolved_model AS model, ")
        .push(&sum("e.cost_nanos", "cost_nanos"))
        .push(", COUNT(*) AS calls FROM events e WHERE ");
    filter.push_where(&mut sql, user_id);
    sql.push(" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    Ok(sql.load(conn)?)
}

/// Cost and calls per UTC day and value of tag `key`, oldest day first.
pub fn daily_by_tag(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    key: &str,
) -> Result<Vec<DailyTagRow>, StoreError> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT ");
    push_slot(&mut sql, DAY_MICROS);
    sql.push(" AS day_start_micros, g.value AS value, ")
        .push(&sum("e.cost_nanos", "cost_nanos"))
        .push(", COUNT(*) AS calls FROM events e ");
    push_tag_join(&mut sql, user_id, filter, key);
    filter.push_where(&mut sql, user_id);
    sql.push(" GROUP BY 1, 2 ORDER BY 1, 2");
    Ok(sql.load(conn)?)
}

/// The token mix per `(provider, resolved_model, batch)`, ordered by those. With
/// `prompts_above`, only the events whose `input_tokens` exceed it: the calls a
/// long-context tier reprices.
pub fn token_mix(
    conn: &mut AnyConnection,
    user_id: i64,
    filter: &EventFilter,
    prompts_above: Option<i64>,
) -> Result<Vec<TokenMixRow>, StoreError> {
    let columns = [
        "e.provider AS provider, e.resolved_model AS model, e.batch AS batch, COUNT(*) AS calls"
            .to_owned(),
        sum("e.input_tokens", "input_tokens"),
        sum("e.cached_input_tokens", "cached_input_tokens"),
        sum("e.cache_write_tokens", "cache_write_tokens"),
        sum("e.output_tokens", "output_tokens"),
        sum("e.reasoning_tokens", "reasoning_tokens"),
        sum("e.cost_nanos", "cost_nanos"),
        "CAST(MAX(e.input_tokens) AS BIGINT) AS max_input_tokens".to_owned(),
    ]
    .join(", ");
    let mut sql = select(conn, &columns, user_id, filter);
    if let Some(threshold) = prompts_above {
        sql.push(" AND e.input_tokens > ").int(threshold);
    }
    sql.push(" GROUP BY e.provider, e.resolved_model, e.batch ORDER BY 1, 2, 3");
    Ok(sql.load(conn)?)
}

/// The distinct tag keys of the user's events in the filter's time range (provider, model
/// and tag filters are not applied), alphabetical, at most `limit`.
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
    sql.push("SELECT DISTINCT g.key AS key FROM event_tags g WHERE g.user_id = ")
        .int(user_id);
    if let Some(start) = filter.start_micros {
        sql.push(" AND g.ts >= ").int(start);
    }
    if let Some(end) = filter.end_micros {
        sql.push(" AND g.ts < ").int(end);
    }
    sql.push(" ORDER BY 1 LIMIT ").int(i64::from(limit));
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
