//! Many selections' spend in one statement: what a workspace's budgets have spent, read
//! together after every burst of ingestion and on every pre-flight check.
//!
//! Each selection is planned as [`spend`](super::spend) plans it (rollups for whole
//! slots, raw events for cut edges and for scopes rollups cannot answer), then the parts
//! that read the same source share one scan of it over the hull of their ranges: one
//! scan of `event_rollups`, one of `tag_rollups` per tag key (only the values asked
//! for), and one of the events per tag set and stretch of time. The scanned rows are
//! added up per scan, provider, model, tag value and *bucket* (the interval between two
//! successive range bounds of any part), which leaves a few rows per scan whatever the
//! number of events; each selection then takes the rows of its parts (same scan, buckets
//! inside the part's range, the part's provider, model or tag value) through a join with
//! a table of the parts written into the statement. The figures are the per-selection
//! ones: each part takes the same rows as when it is read alone.
//!
//! On Citus the statement is one workspace's, so it stays in that workspace's shard.

use std::collections::BTreeMap;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;

use crate::sql::Sql;
use crate::{AnyConnection, EventFilter, StoreError, WorkspaceId};

use super::plan::{Allow, Src, plan};

/// Where a scan reads from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Source<'a> {
    /// `event_rollups`.
    Models,
    /// `tag_rollups` of one key.
    Tags(&'a str),
    /// The events carrying these tags, in one of the separate stretches of time the raw
    /// parts with these tags cover (raw parts are range edges of at most 15 minutes, or
    /// whole periods that rollups cannot answer: scanning the hull of two edges far apart
    /// would read every event between them).
    Events(&'a [(String, String)], usize),
}

/// One scan: its source and the hull of the ranges of the parts that read it.
struct Scan<'a> {
    source: Source<'a>,
    start: Option<i64>,
    end: Option<i64>,
    /// `tag_rollups`: the values some part asks for.
    values: Vec<&'a str>,
}

/// One part of one selection: which scanned rows are its own.
struct Part<'a> {
    selection: usize,
    scan: usize,
    start: Option<i64>,
    end: Option<i64>,
    provider: Option<&'a str>,
    model: Option<&'a str>,
    value: Option<&'a str>,
}

/// Most selections one statement reads: its bound values stay far below SQLite's
/// 32,766 (a workspace has at most `LLMLAB_MAX_BUDGETS` budgets, 100 by default).
const PER_STATEMENT: usize = 256;

/// The spend (nano-dollars) of each of `filters`' events, in their order: for each, what
/// [`spend`](super::spend) answers, read in ONE statement (one per 256 filters). Each
/// source is scanned once over the hull of the ranges that read it, which suits ranges
/// that overlap, as the current periods of budgets all do (they all hold now). Sums
/// overflow as `spend`'s do: the database refuses a sum past `i64`.
pub fn spend_each(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filters: &[EventFilter],
) -> Result<Vec<i64>, StoreError> {
    if filters.iter().any(|f| f.sender.is_some()) {
        // The shared scans do not tell senders apart; a selection by sender (budgets
        // have none) is read on its own.
        return filters
            .iter()
            .map(|f| super::spend(conn, workspace_id, f))
            .collect();
    }
    let mut spent = Vec::with_capacity(filters.len());
    for chunk in filters.chunks(PER_STATEMENT) {
        spent.extend(one_statement(conn, workspace_id, chunk)?);
    }
    Ok(spent)
}

fn one_statement(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filters: &[EventFilter],
) -> Result<Vec<i64>, StoreError> {
    #[derive(QueryableByName)]
    struct Spent {
        #[diesel(sql_type = BigInt)]
        selection: i64,
        #[diesel(sql_type = BigInt)]
        cost_nanos: i64,
    }
    let planned: Vec<Vec<(Src<'_>, EventFilter)>> =
        filters.iter().map(|f| plan(f, Allow::Totals)).collect();
    let (scans, parts) = layout(&planned);
    if parts.is_empty() {
        return Ok(vec![0; filters.len()]);
    }
    let bounds = bounds(&parts);
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT d.selection AS selection, CAST(COALESCE(SUM(b.c), 0) AS BIGINT) AS cost_nanos FROM (SELECT u.s AS s, u.p AS p, u.m AS m, u.v AS v, ");
    push_bucket(&mut sql, "u.t", &bounds);
    sql.push(" AS k, SUM(u.c) AS c FROM (");
    for (i, scan) in scans.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        push_scan(&mut sql, workspace_id, i, scan);
    }
    sql.push(") u GROUP BY 1, 2, 3, 4, 5) b JOIN (");
    for (i, part) in parts.iter().enumerate() {
        sql.push(if i == 0 {
            "SELECT "
        } else {
            " UNION ALL SELECT "
        });
        push_part(&mut sql, part, &bounds);
    }
    sql.push(
        ") d ON b.s = d.s AND b.k >= d.lo AND b.k < d.hi \
         AND (d.p IS NULL OR b.p = d.p) AND (d.m IS NULL OR b.m = d.m) \
         AND (d.v IS NULL OR b.v = d.v) GROUP BY d.selection",
    );
    let mut spent = vec![0; filters.len()];
    for row in sql.load::<Spent>(conn)? {
        if let Some(slot) = usize::try_from(row.selection)
            .ok()
            .and_then(|i| spent.get_mut(i))
        {
            *slot = row.cost_nanos;
        }
    }
    Ok(spent)
}

/// The scans the planned parts need, and each part as the scanned rows it takes.
fn layout<'a>(planned: &'a [Vec<(Src<'a>, EventFilter)>]) -> (Vec<Scan<'a>>, Vec<Part<'a>>) {
    let flat: Vec<(usize, Src<'a>, &'a EventFilter)> = planned
        .iter()
        .enumerate()
        .flat_map(|(i, parts)| parts.iter().map(move |(src, f)| (i, *src, f)))
        .collect();
    let stretch = stretches(&flat);
    let mut scans: Vec<Scan<'a>> = Vec::new();
    let mut index: BTreeMap<Source<'a>, usize> = BTreeMap::new();
    let mut parts = Vec::new();
    for (n, &(selection, src, filter)) in flat.iter().enumerate() {
        let (source, value) = match src {
            Src::Models => (Source::Models, None),
            Src::Tags { key, value } => (Source::Tags(key), value),
            Src::Events => (Source::Events(&filter.tags, stretch[n]), None),
        };
        let scan = *index.entry(source.clone()).or_insert_with(|| {
            scans.push(Scan {
                source,
                start: filter.start_micros,
                end: filter.end_micros,
                values: Vec::new(),
            });
            scans.len() - 1
        });
        let s = &mut scans[scan];
        s.start = s.start.zip(filter.start_micros).map(|(a, b)| a.min(b));
        s.end = s.end.zip(filter.end_micros).map(|(a, b)| a.max(b));
        if let Some(v) = value
            && !s.values.contains(&v)
        {
            s.values.push(v);
        }
        parts.push(Part {
            selection,
            scan,
            start: filter.start_micros,
            end: filter.end_micros,
            provider: filter.provider.as_deref(),
            model: filter.model.as_deref(),
            value,
        });
    }
    (scans, parts)
}

/// For each raw part (0 for the others), which stretch of time it is in among the raw
/// parts with the same tags: overlapping or touching ranges make one stretch.
fn stretches(flat: &[(usize, Src<'_>, &EventFilter)]) -> Vec<usize> {
    let mut groups: BTreeMap<&[(String, String)], Vec<usize>> = BTreeMap::new();
    for (n, (_, src, f)) in flat.iter().enumerate() {
        if *src == Src::Events {
            groups.entry(&f.tags).or_default().push(n);
        }
    }
    let mut stretch = vec![0; flat.len()];
    for mut members in groups.into_values() {
        members.sort_by_key(|&n| flat[n].2.start_micros.unwrap_or(i64::MIN));
        // The end of the current stretch; `None` once it reaches the end of time.
        let mut reach: Option<Option<i64>> = None;
        let mut current = 0;
        for n in members {
            let f = flat[n].2;
            let start = f.start_micros.unwrap_or(i64::MIN);
            match reach {
                Some(end) if end.is_none_or(|end| start <= end) => {
                    reach = Some(end.zip(f.end_micros).map(|(a, b)| a.max(b)));
                }
                Some(_) => {
                    current += 1;
                    reach = Some(f.end_micros);
                }
                None => reach = Some(f.end_micros),
            }
            stretch[n] = current;
        }
    }
    stretch
}

/// Every bound of a part's range, ascending, once: row `t`'s bucket is the number of
/// them at or before `t`, so a range `[a, b)` is the buckets `[rank(a) + 1, rank(b) + 1)`.
fn bounds(parts: &[Part<'_>]) -> Vec<i64> {
    let mut bounds: Vec<i64> = parts
        .iter()
        .flat_map(|p| p.start.into_iter().chain(p.end))
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    bounds
}

/// Row `t`'s bucket (see [`bounds`]).
fn push_bucket(sql: &mut Sql, t: &str, bounds: &[i64]) {
    if bounds.is_empty() {
        sql.push("0");
        return;
    }
    sql.push("CASE");
    for (i, b) in bounds.iter().enumerate() {
        sql.push(" WHEN ")
            .push(t)
            .push(" < ")
            .int(*b)
            .push(" THEN ");
        sql.int(i64::try_from(i).unwrap_or(i64::MAX));
    }
    sql.push(" ELSE ")
        .int(i64::try_from(bounds.len()).unwrap_or(i64::MAX))
        .push(" END");
}

/// `SELECT s, t, p, m, v, c` of one scan: its index, the row's instant, provider, model,
/// tag value (`''` where the source has none) and cost.
fn push_scan(sql: &mut Sql, workspace_id: WorkspaceId, i: usize, scan: &Scan<'_>) {
    sql.push("SELECT ")
        .int(i64::try_from(i).unwrap_or(i64::MAX))
        .push(" AS s, ");
    let hull = EventFilter {
        start_micros: scan.start,
        end_micros: scan.end,
        ..EventFilter::default()
    };
    match scan.source {
        Source::Models => {
            sql.push("r.slot AS t, r.provider AS p, r.resolved_model AS m, '' AS v, r.cost_nanos AS c FROM event_rollups r WHERE r.workspace_id = ")
                .int(workspace_id.get());
            super::plan::push_slot_range(sql, &hull);
        }
        Source::Tags(key) => {
            sql.push("r.slot AS t, '' AS p, '' AS m, r.value AS v, r.cost_nanos AS c FROM tag_rollups r WHERE r.workspace_id = ")
                .int(workspace_id.get())
                .push(" AND r.key = ")
                .text(key);
            super::plan::push_slot_range(sql, &hull);
            // Every part of a tag-rollup scan names its value (rollups answer one tag
            // alone); the list keeps the scan to the values asked for.
            if !scan.values.is_empty() {
                sql.push(" AND r.value IN (");
                for (j, v) in scan.values.iter().enumerate() {
                    if j > 0 {
                        sql.push(", ");
                    }
                    sql.text(v);
                }
                sql.push(")");
            }
        }
        Source::Events(tags, _) => {
            sql.push("e.ts AS t, e.provider AS p, e.resolved_model AS m, '' AS v, e.cost_nanos AS c FROM ");
            match tags {
                // One tag (a budget's): from that value's tag rows (their index), each
                // joined to its event, rather than every event of the range tested
                // against the value's list; same rows, a fraction of the reads.
                [(key, value)] => {
                    sql.push("event_tags g JOIN events e ON e.workspace_id = g.workspace_id AND e.id = g.event_id WHERE g.workspace_id = ")
                        .int(workspace_id.get())
                        .push(" AND g.key = ")
                        .text(key)
                        .push(" AND g.value = ")
                        .text(value);
                    if let Some(start) = hull.start_micros {
                        sql.push(" AND g.ts >= ").int(start);
                    }
                    if let Some(end) = hull.end_micros {
                        sql.push(" AND g.ts < ").int(end);
                    }
                    sql.push(" AND ");
                    hull.push_where(sql, workspace_id);
                }
                _ => {
                    sql.push("events e WHERE ");
                    let filter = EventFilter {
                        tags: tags.to_vec(),
                        ..hull
                    };
                    filter.push_where(sql, workspace_id);
                }
            }
        }
    }
}

/// One row of the parts' table: `selection, s, lo, hi, p, m, v` (NULL: any).
fn push_part(sql: &mut Sql, part: &Part<'_>, bounds: &[i64]) {
    let rank = |b: i64| bounds.partition_point(|x| *x < b) + 1;
    let lo = part.start.map_or(0, rank);
    let hi = part.end.map_or(bounds.len() + 1, rank);
    let int = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    sql.int(int(part.selection))
        .push(" AS selection, ")
        .int(int(part.scan))
        .push(" AS s, ")
        .int(int(lo))
        .push(" AS lo, ")
        .int(int(hi))
        .push(" AS hi");
    for (value, name) in [(part.provider, "p"), (part.model, "m"), (part.value, "v")] {
        sql.push(", ");
        match value {
            Some(v) => sql.text(v),
            None => sql.push("CAST(NULL AS TEXT)"),
        };
        sql.push(" AS ").push(name);
    }
}
