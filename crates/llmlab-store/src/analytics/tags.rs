//! Reports by the values of one tag key, a number the account's own data decides (any
//! values, 32 tags per event): each returns the costliest values, chosen in SQL, and
//! the rest added up as one row, so that what comes back, and the memory it takes, stay
//! bounded whatever was sent, and the rows still add up to the key's total.

use std::collections::BTreeMap;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

use super::plan::*;
use super::ranking;
use super::{DAY_MICROS, DailyTagRow, TagTotals};
use crate::sql::Sql;
use crate::{AnyConnection, EventFilter, StoreError, WorkspaceId};

/// Most values of one tag key a report lists (the costliest); the others are added up.
pub const MAX_GROUPS: u32 = 1_000;

/// The values of one tag key a report lists, and the rest added up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagBreakdown {
    /// The costliest values, costliest first (then most calls, then by value).
    pub values: Vec<TagTotals>,
    /// Every other value of the key, added up; `None` when `values` holds them all.
    pub other: Option<TagRest>,
    /// Whether building the key's ranking ([`ranking::rebuild`]) would answer this
    /// report faster next time: there is none, or it is stale, and the key has many
    /// values in a range near the window a ranking built now would cover.
    pub refresh: bool,
}

/// Values of a tag key that a report adds up as one row instead of listing them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagRest {
    /// How many values.
    pub values: i64,
    /// Their cost, nano-dollars.
    pub cost_nanos: i64,
    /// Their calls.
    pub calls: i64,
}

/// Cost and calls per value of tag `key`: the [`MAX_GROUPS`] costliest values and the
/// rest added up (events without that tag are not counted), from the key's ranking when
/// one answers the range exactly (see [`ranking`]).
pub fn by_tag(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    key: &str,
) -> Result<TagBreakdown, StoreError> {
    by_tag_top(conn, workspace_id, filter, key, MAX_GROUPS, true)
}

/// [`by_tag`] listing the `top` costliest values, from the key's ranking when
/// `use_ranking` and one answers (the same answer as adding every value up, which
/// `use_ranking: false` always does).
pub fn by_tag_top(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    key: &str,
    top: u32,
    use_ranking: bool,
) -> Result<TagBreakdown, StoreError> {
    if !use_ranking || !ranking::rankable(filter, key) || in_transaction(conn)? {
        return added_up(conn, workspace_id, filter, key, top);
    }
    snapshot(conn, |c| {
        let exists = match ranking::answer(c, workspace_id, filter, key, top)? {
            ranking::Found::Answer {
                mut breakdown,
                stale,
            } => {
                breakdown.refresh = stale && ranking::near_current_window(filter);
                return Ok(breakdown);
            }
            ranking::Found::Unusable { exists } => exists,
        };
        let mut out = added_up(c, workspace_id, filter, key, top)?;
        let counted =
            i64::try_from(out.values.len()).unwrap_or(i64::MAX) + out.other.map_or(0, |o| o.values);
        out.refresh =
            (exists || counted >= ranking::RANK_FROM) && ranking::near_current_window(filter);
        Ok(out)
    })
}

/// Whether `conn` is inside a transaction (whose isolation a report cannot choose).
fn in_transaction(conn: &mut AnyConnection) -> Result<bool, StoreError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let depth = match conn {
        AnyConnection::Postgresql(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
        }
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
        }
    };
    Ok(depth.map_err(StoreError::from)?.is_some())
}

/// Runs `f` in a read transaction whose statements all see one snapshot: `REPEATABLE
/// READ` on PostgreSQL; on SQLite every transaction reads one snapshot.
fn snapshot<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    conn.transaction(|c| {
        if let AnyConnection::Postgresql(pg) = c {
            pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        }
        f(c)
    })
}

/// [`by_tag_top`] by adding every value up. One statement adds every value up once and
/// returns the costliest, each row with the number of values and the sums over all of
/// them, from which the rest follows exactly.
fn added_up(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    key: &str,
    top: u32,
) -> Result<TagBreakdown, StoreError> {
    #[derive(QueryableByName)]
    struct Ranked {
        #[diesel(sql_type = Text)]
        value: String,
        #[diesel(sql_type = BigInt)]
        cost_nanos: i64,
        #[diesel(sql_type = BigInt)]
        calls: i64,
        #[diesel(sql_type = BigInt)]
        all_values: i64,
        #[diesel(sql_type = BigInt)]
        all_cost_nanos: i64,
        #[diesel(sql_type = BigInt)]
        all_calls: i64,
    }
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT u.value AS value, CAST(SUM(u.cost_nanos) AS BIGINT) AS cost_nanos, \
         CAST(SUM(u.calls) AS BIGINT) AS calls, CAST(COUNT(*) OVER () AS BIGINT) AS all_values, \
         CAST(SUM(SUM(u.cost_nanos)) OVER () AS BIGINT) AS all_cost_nanos, \
         CAST(SUM(SUM(u.calls)) OVER () AS BIGINT) AS all_calls FROM (",
    );
    for (i, (src, part)) in plan(filter, Allow::TagKey(key)).iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        push_value_rows(&mut sql, *src, workspace_id, part, key, None);
    }
    sql.push(
        ") u GROUP BY u.value \
         ORDER BY SUM(u.cost_nanos) DESC, SUM(u.calls) DESC, u.value LIMIT ",
    )
    .int(i64::from(top));
    let rows: Vec<Ranked> = sql.load(conn)?;
    let mut out = TagBreakdown::default();
    let mut rest = TagRest::default();
    for r in rows {
        rest = TagRest {
            values: r.all_values,
            cost_nanos: r.all_cost_nanos,
            calls: r.all_calls,
        };
        out.values.push(TagTotals {
            value: r.value,
            cost_nanos: r.cost_nanos,
            calls: r.calls,
        });
    }
    for v in &out.values {
        rest.values -= 1;
        rest.cost_nanos = rest.cost_nanos.saturating_sub(v.cost_nanos);
        rest.calls = rest.calls.saturating_sub(v.calls);
    }
    if rest.values > 0 {
        out.other = Some(rest);
    }
    costliest_first(
        &mut out.values,
        |r| (r.cost_nanos, r.calls),
        |r| r.value.clone(),
    );
    Ok(out)
}

/// Cost and calls per UTC day of the values of tag `key` that anomaly attribution looks
/// at, oldest day first: the `top` costliest values of each of the `focus` days (UTC day
/// starts; of the whole range when there are none), with their spend on every day of
/// `filter`, and, as a row with `value: None` per day, every other value of the key
/// added up. One statement; however many values the key has, it returns at most
/// `(focus days × top + 1)` rows a day, and each day's rows add up to the key's spend.
pub fn daily_by_tag(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    key: &str,
    focus: &[i64],
    top: u32,
) -> Result<Vec<DailyTagRow>, StoreError> {
    let parts = plan(filter, Allow::TagKey(key));
    let focus_filters: Vec<EventFilter> = if focus.is_empty() {
        vec![filter.clone()]
    } else {
        focus
            .iter()
            .map(|&day| EventFilter {
                start_micros: Some(day),
                end_micros: Some(day.saturating_add(DAY_MICROS)),
                ..filter.clone()
            })
            .collect()
    };
    let mut sql = Sql::new(conn.backend());
    // The chosen values: on each focus day, the `top` values that spent most that day
    // (then the most calls, then by value).
    sql.push("WITH chosen AS MATERIALIZED (SELECT DISTINCT d.value AS value FROM (SELECT f.value AS value, ROW_NUMBER() OVER (PARTITION BY f.day ORDER BY SUM(f.cost_nanos) DESC, SUM(f.calls) DESC, f.value) AS pos FROM (");
    let mut first = true;
    for (i, day) in focus_filters.iter().enumerate() {
        for (src, part) in plan(day, Allow::TagKey(key)) {
            if !first {
                sql.push(" UNION ALL ");
            }
            first = false;
            sql.push("SELECT ")
                .int(i64::try_from(i).unwrap_or(i64::MAX))
                .push(" AS day, x.value AS value, x.cost_nanos AS cost_nanos, x.calls AS calls FROM (");
            push_value_rows(&mut sql, src, workspace_id, &part, key, None);
            sql.push(") x");
        }
    }
    sql.push(") f GROUP BY f.day, f.value) d WHERE d.pos <= ")
        .int(i64::from(top))
        .push(") SELECT ");
    push_floor(&mut sql, "u.t", DAY_MICROS);
    sql.push(
        " AS day_start_micros, u.value AS value, \
         CAST(COALESCE(SUM(u.cost_nanos), 0) AS BIGINT) AS cost_nanos, \
         CAST(COALESCE(SUM(u.calls), 0) AS BIGINT) AS calls FROM (",
    );
    for (i, (src, part)) in parts.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        // The chosen values' rows, then the key's total per slot (or event): two reads
        // in the order of the index, where one grouping by (day, chosen value or not)
        // would sort every row.
        push_value_rows(
            &mut sql,
            *src,
            workspace_id,
            part,
            key,
            Some("SELECT value FROM chosen"),
        );
        sql.push(" UNION ALL ");
        push_totals(&mut sql, *src, workspace_id, part, key);
    }
    sql.push(") u GROUP BY 1, 2");
    let rows: Vec<DailyTagRow> = sql.load(conn)?;
    Ok(rest_per_day(rows))
}

/// Rows of the chosen values and each day's total (`value: None`) as the chosen values'
/// rows and each day's rest: the total less the chosen values (absent when nothing is
/// left), oldest day first.
fn rest_per_day(rows: Vec<DailyTagRow>) -> Vec<DailyTagRow> {
    let mut days: BTreeMap<i64, (Vec<DailyTagRow>, i64, i64)> = BTreeMap::new();
    for r in rows {
        let day = days.entry(r.day_start_micros).or_default();
        match r.value {
            Some(_) => {
                day.1 = day.1.saturating_sub(r.cost_nanos);
                day.2 = day.2.saturating_sub(r.calls);
                day.0.push(r);
            }
            None => {
                day.1 = day.1.saturating_add(r.cost_nanos);
                day.2 = day.2.saturating_add(r.calls);
            }
        }
    }
    let mut out = Vec::new();
    for (day_start_micros, (mut values, cost_nanos, calls)) in days {
        values.sort_by(|a, b| a.value.cmp(&b.value));
        out.extend(values);
        if cost_nanos != 0 || calls != 0 {
            out.push(DailyTagRow {
                day_start_micros,
                value: None,
                cost_nanos,
                calls,
            });
        }
    }
    out
}

/// `SELECT t, value, cost_nanos, calls` of every row of `src` with tag `key` in
/// `filter` (a rollup slot, or an event joined to its value), optionally only of the
/// values `only` (a subquery) selects.
pub(super) fn push_value_rows(
    sql: &mut Sql,
    src: Src<'_>,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    key: &str,
    only: Option<&str>,
) {
    let (t, value, cost, calls) = if src == Src::Events {
        ("e.ts", "g.value", "e.cost_nanos", "1")
    } else {
        ("r.slot", "r.value", "r.cost_nanos", "r.calls")
    };
    sql.push("SELECT ").push(t).push(" AS t, ");
    sql.push(value).push(" AS value, ");
    sql.push(cost).push(" AS cost_nanos, ");
    sql.push(calls).push(" AS calls");
    push_from(sql, src, workspace_id, filter, Some(key));
    if let Some(only) = only {
        sql.push(" AND ")
            .push(value)
            .push(" IN (")
            .push(only)
            .push(")");
    }
}

/// `SELECT t, NULL, cost_nanos, calls`: the spend of tag `key` per rollup slot (in the
/// order of the rollups' key, so nothing is sorted) or per event.
fn push_totals(
    sql: &mut Sql,
    src: Src<'_>,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    key: &str,
) {
    if src == Src::Events {
        sql.push(
            "SELECT e.ts AS t, CAST(NULL AS TEXT) AS value, e.cost_nanos AS cost_nanos, 1 AS calls",
        );
        push_from(sql, src, workspace_id, filter, Some(key));
    } else {
        sql.push("SELECT r.slot AS t, CAST(NULL AS TEXT) AS value, SUM(r.cost_nanos) AS cost_nanos, SUM(r.calls) AS calls");
        push_from(sql, src, workspace_id, filter, Some(key));
        sql.push(" GROUP BY r.slot");
    }
}
