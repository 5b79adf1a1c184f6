//! Rankings: a tag key's values with their cost and calls over a window of whole UTC
//! days, stored in cost order, so that the costliest values of a range near the window
//! are read in order instead of found by adding up every value of the key. A key with
//! 100,000 values used twice a month is 200,000 rollup rows to add up for a month; from
//! its ranking, a report reads the first thousand-odd entries of an index and adds up
//! only the slots that its range and the window do not share (about a day at each end).
//!
//! Exact, or not used: a ranking is what `tag_rollups` held over `[from, to)` when it was
//! built. Those rows change afterwards only through writes into slots before `to`, and
//! every write into a slot before the start of the writer's current UTC day counts itself
//! in `tag_late_writes`, in the transaction that writes the rollup ([`note_late`]). A
//! ranking records the count it was built at and is used only while the count is the
//! same. Its window ends at the start of the day [`SETTLE_MICROS`] before it was built,
//! so a write counts itself whenever its slot could be in a window already built, as
//! long as no writer's clock or open transaction is that far behind the builder's.
//!
//! A report that could use a ranking and found none, or a stale one, says so
//! ([`TagBreakdown::refresh`](super::TagBreakdown)); building it ([`rebuild`]) is a
//! write, left to the caller (reports may run on a read replica).

use std::collections::{HashMap, HashSet};

use diesel::QueryableByName;
use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;

use super::plan::{Allow, Src, plan, rollup_source};
use super::tags::push_value_rows;
use super::{DAY_MICROS, TagBreakdown, TagRest, TagTotals};
use crate::sql::Sql;
use crate::{AnyConnection, EventFilter, StoreError, WorkspaceId, write_tx};

/// Days a ranking covers: the default range of the reports.
pub const WINDOW_DAYS: i64 = 30;

/// How far before its build a ranking's window ends: longer than any writer's clock may
/// be behind the builder's plus the life of a write transaction, so that every write
/// into a built window counts itself as late (see the module documentation).
pub const SETTLE_MICROS: i64 = 2 * 3_600_000_000;

/// Most values a report corrects a ranking by (those in the slots its range and the
/// window do not share); past it the report adds every value up instead.
pub const MAX_CHANGED: usize = 20_000;

/// Longest stretch (in total) by which a report's range may differ from the window for
/// the ranking to answer it: the day at each end that passes between builds, and a day
/// more at each end before the next build.
pub const MAX_SHIFT_MICROS: i64 = 4 * DAY_MICROS;

/// Fewest values of a key for which a report asks for a ranking to be built: below it,
/// adding the values up is as fast.
pub const RANK_FROM: i64 = 2_000;

fn day_floor(t: i64) -> i64 {
    t.div_euclid(DAY_MICROS) * DAY_MICROS
}

/// The window `[from, to)` of a ranking built at `now` (microseconds).
pub fn window_at(now: i64) -> (i64, i64) {
    let to = day_floor(now.saturating_sub(SETTLE_MICROS));
    (to - WINDOW_DAYS * DAY_MICROS, to)
}

/// Whether a rollup write at `now` into the slot of `ts` must count itself as late:
/// the slot is before the start of `now`'s UTC day.
pub(crate) fn is_late(ts: i64, now: i64) -> bool {
    ts < day_floor(now)
}

/// The wall clock, microseconds since the epoch.
pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Counts one more late write of `workspace_id` (see the module documentation): call in
/// the transaction that writes the rollups, after them (the lock order of every write
/// path: rollups, this count, the running totals).
pub(crate) fn note_late(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(conn.backend());
    sql.push("INSERT INTO tag_late_writes (workspace_id, writes) VALUES (")
        .int(workspace_id.get())
        .push(", 1) ON CONFLICT (workspace_id) DO UPDATE SET writes = tag_late_writes.writes + 1");
    sql.execute(conn)?;
    Ok(())
}

#[derive(QueryableByName, Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    #[diesel(sql_type = BigInt)]
    from_slot: i64,
    #[diesel(sql_type = BigInt)]
    to_slot: i64,
    #[diesel(sql_type = BigInt)]
    built_at_late_writes: i64,
    #[diesel(embed)]
    sums: Sums,
}

/// What a ranking adds up to: how many values, their cost and calls.
#[derive(QueryableByName, Debug, Clone, Copy, PartialEq, Eq)]
struct Sums {
    #[diesel(sql_type = BigInt)]
    values_count: i64,
    #[diesel(sql_type = BigInt)]
    cost_nanos: i64,
    #[diesel(sql_type = BigInt)]
    calls: i64,
}

fn mark(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    key: &str,
    lock: bool,
) -> Result<Option<Mark>, StoreError> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT from_slot, to_slot, built_at_late_writes, values_count, cost_nanos, calls \
         FROM tag_ranking_marks WHERE workspace_id = ",
    )
    .int(workspace_id.get())
    .push(" AND key = ")
    .text(key);
    if lock && conn.backend() == crate::Backend::Postgres {
        sql.push(" FOR UPDATE");
    }
    Ok(sql.load::<Mark>(conn)?.pop())
}

fn late_writes(conn: &mut AnyConnection, workspace_id: WorkspaceId) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Writes {
        #[diesel(sql_type = BigInt)]
        writes: i64,
    }
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT writes FROM tag_late_writes WHERE workspace_id = ")
        .int(workspace_id.get());
    Ok(sql.load::<Writes>(conn)?.pop().map_or(0, |w| w.writes))
}

/// Builds the ranking of tag `key` of `workspace_id` for the window of `now`, replacing
/// the one there was, unless that one is already of this window and still exact.
/// Returns whether it built. Builders of one key wait for each other.
pub fn rebuild(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    key: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let (from, to) = window_at(now);
    let ws = workspace_id.get();
    let built = write_tx(conn, |c| {
        // The mark's row is the builders' lock; -1 late writes marks it unusable.
        let mut sql = Sql::new(c.backend());
        sql.push("INSERT INTO tag_ranking_marks (workspace_id, key, from_slot, to_slot, built_at_late_writes, values_count, cost_nanos, calls) VALUES (")
            .int(ws).push(", ").text(key).push(", ").int(from).push(", ").int(to)
            .push(", -1, 0, 0, 0) ON CONFLICT (workspace_id, key) DO NOTHING");
        sql.execute(c)?;
        let held = mark(c, workspace_id, key, true)?;
        // Read before the rollups are: a late write committed in between makes the
        // ranking look stale (rebuilt again), never stale-but-used.
        let writes = late_writes(c, workspace_id)?;
        if held.is_some_and(|m| {
            m.from_slot == from && m.to_slot == to && m.built_at_late_writes == writes
        }) {
            return Ok(false);
        }
        let mut sql = Sql::new(c.backend());
        sql.push("DELETE FROM tag_rankings WHERE workspace_id = ")
            .int(ws)
            .push(" AND key = ")
            .text(key);
        sql.execute(c)?;
        let mut sql = Sql::new(c.backend());
        sql.push("INSERT INTO tag_rankings (workspace_id, key, value, cost_nanos, calls) SELECT r.workspace_id, r.key, r.value, CAST(SUM(r.cost_nanos) AS BIGINT), CAST(SUM(r.calls) AS BIGINT) FROM tag_rollups r WHERE r.workspace_id = ")
            .int(ws).push(" AND r.key = ").text(key)
            .push(" AND r.slot >= ").int(from).push(" AND r.slot < ").int(to)
            .push(" GROUP BY r.workspace_id, r.key, r.value");
        sql.execute(c)?;
        let mut sql = Sql::new(c.backend());
        sql.push("SELECT CAST(COUNT(*) AS BIGINT) AS values_count, CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT) AS cost_nanos, CAST(COALESCE(SUM(calls), 0) AS BIGINT) AS calls FROM tag_rankings WHERE workspace_id = ")
            .int(ws).push(" AND key = ").text(key);
        let sums = sql.load::<Sums>(c)?.pop().unwrap_or(Sums {
            values_count: 0,
            cost_nanos: 0,
            calls: 0,
        });
        let mut sql = Sql::new(c.backend());
        sql.push("UPDATE tag_ranking_marks SET from_slot = ")
            .int(from)
            .push(", to_slot = ")
            .int(to)
            .push(", built_at_late_writes = ")
            .int(writes)
            .push(", values_count = ")
            .int(sums.values_count)
            .push(", cost_nanos = ")
            .int(sums.cost_nanos)
            .push(", calls = ")
            .int(sums.calls)
            .push(" WHERE workspace_id = ")
            .int(ws)
            .push(" AND key = ")
            .text(key);
        sql.execute(c)?;
        Ok(true)
    })?;
    // Reports read the ranking in index order only if PostgreSQL knows how large it
    // is now, not as it was at the last analysis (maybe before it held anything).
    if built && let AnyConnection::Postgresql(pg) = conn {
        pg.batch_execute("ANALYZE tag_rankings")?;
    }
    Ok(built)
}

/// Whether a ranking could answer `filter` grouped by `key`: a bounded range and no
/// other filter (the ranking, like the tag rollups, keeps no provider, model or sender).
pub(super) fn rankable(filter: &EventFilter, key: &str) -> bool {
    filter.start_micros.is_some()
        && filter.end_micros.is_some()
        && matches!(
            rollup_source(filter, Allow::TagKey(key)),
            Some(Src::Tags { value: None, .. })
        )
}

/// The stretches of `[a, b)` outside `[from, to)` (added to a ranking) and of
/// `[from, to)` outside `[a, b)` (taken from it).
type Stretches = Vec<(i64, i64, bool)>;

fn differences(a: i64, b: i64, from: i64, to: i64) -> Stretches {
    let mut out = Vec::new();
    let mut push = |s: i64, e: i64, add: bool| {
        if s < e {
            out.push((s, e, add));
        }
    };
    push(a, b.min(from), true);
    push(a.max(to), b, true);
    push(from, to.min(a), false);
    push(from.max(b), to, false);
    out
}

fn length(stretches: &Stretches) -> i64 {
    stretches
        .iter()
        .fold(0i64, |n, (s, e, _)| n.saturating_add(e - s))
}

/// Whether `[a, b)` is near enough the window of a ranking built now for one to answer it.
pub(super) fn near_current_window(filter: &EventFilter) -> bool {
    let (from, to) = window_at(now_micros());
    let (Some(a), Some(b)) = (filter.start_micros, filter.end_micros) else {
        return false;
    };
    length(&differences(a, b, from, to)) <= MAX_SHIFT_MICROS
}

/// What [`answer`] found.
pub(super) enum Found {
    /// The ranking answered; `stale` when a newer window could be built.
    Answer {
        breakdown: TagBreakdown,
        stale: bool,
    },
    /// No ranking could answer; `exists` when there is one (stale or too far away).
    Unusable { exists: bool },
}

/// The costliest `top` values of `key` in `filter` (which [`rankable`] accepts) from
/// its ranking, corrected by the stretches the range and the window do not share. Run it
/// where every statement sees one snapshot (the ranking, its mark and the rollups).
pub(super) fn answer(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    key: &str,
    top: u32,
) -> Result<Found, StoreError> {
    let (Some(a), Some(b)) = (filter.start_micros, filter.end_micros) else {
        return Ok(Found::Unusable { exists: false });
    };
    let Some(m) = mark(conn, workspace_id, key, false)? else {
        return Ok(Found::Unusable { exists: false });
    };
    let stretches = differences(a, b, m.from_slot, m.to_slot);
    if m.built_at_late_writes != late_writes(conn, workspace_id)?
        || length(&stretches) > MAX_SHIFT_MICROS
    {
        return Ok(Found::Unusable { exists: true });
    }
    let Some(changed) = changes(conn, workspace_id, filter, key, &stretches)? else {
        return Ok(Found::Unusable { exists: true });
    };
    let breakdown = merge(conn, workspace_id, key, top, &m, changed)?;
    let stale = window_at(now_micros()) != (m.from_slot, m.to_slot);
    Ok(Found::Answer { breakdown, stale })
}

/// A value whose sum the stretches change, and by how much.
type Change = TagTotals;

/// The values the `stretches` change, at most [`MAX_CHANGED`] (`None` past it).
fn changes(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    key: &str,
    stretches: &Stretches,
) -> Result<Option<Vec<Change>>, StoreError> {
    if stretches.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT d.value AS value, CAST(SUM(d.cost_nanos) AS BIGINT) AS cost_nanos, CAST(SUM(d.calls) AS BIGINT) AS calls FROM (");
    let mut first = true;
    for &(start, end, add) in stretches {
        let stretch = EventFilter {
            start_micros: Some(start),
            end_micros: Some(end),
            ..filter.clone()
        };
        for (src, part) in plan(&stretch, Allow::TagKey(key)) {
            if !first {
                sql.push(" UNION ALL ");
            }
            first = false;
            let sign = if add { "" } else { "0 - " };
            sql.push("SELECT x.value AS value, ")
                .push(sign)
                .push("x.cost_nanos AS cost_nanos, ")
                .push(sign)
                .push("x.calls AS calls FROM (");
            push_value_rows(&mut sql, src, workspace_id, &part, key, None);
            sql.push(") x");
        }
    }
    sql.push(") d GROUP BY d.value LIMIT ")
        .int(i64::try_from(MAX_CHANGED).unwrap_or(i64::MAX) + 1);
    let rows: Vec<Change> = sql.load(conn)?;
    Ok((rows.len() <= MAX_CHANGED).then_some(rows))
}

/// Values looked up in the ranking per statement.
const LOOKUP_CHUNK: usize = 2_000;

/// What the ranking holds for each of `values` that it holds, by primary key. Not a
/// join in the statement that adds the stretches up: planned with the statistics of a
/// ranking table analyzed before the build, PostgreSQL joined 1,500 changed values to
/// 100,000 entries by a nested loop over all of them (4 s).
fn ranked_of(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    key: &str,
    values: &[&str],
) -> Result<HashMap<String, (i64, i64)>, StoreError> {
    let mut out = HashMap::with_capacity(values.len());
    for chunk in values.chunks(LOOKUP_CHUNK) {
        let mut sql = Sql::new(conn.backend());
        sql.push("SELECT value, cost_nanos, calls FROM tag_rankings WHERE workspace_id = ")
            .int(workspace_id.get())
            .push(" AND key = ")
            .text(key)
            .push(" AND value IN (");
        for (i, v) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.text(v);
        }
        sql.push(")");
        let rows: Vec<TagTotals> = sql.load(conn)?;
        out.extend(rows.into_iter().map(|r| (r.value, (r.cost_nanos, r.calls))));
    }
    Ok(out)
}

/// The answer: the ranking's first `top + changed` entries that the stretches do not
/// change, and the changed values with their corrected sums, costliest first. Exact: a
/// value left out of those entries has `top + changed` entries before it, at least `top`
/// of them unchanged and so ahead of it in the range too.
fn merge(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    key: &str,
    top: u32,
    m: &Mark,
    changed: Vec<Change>,
) -> Result<TagBreakdown, StoreError> {
    let read = i64::from(top) + i64::try_from(changed.len()).unwrap_or(i64::MAX);
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT value, cost_nanos, calls FROM tag_rankings WHERE workspace_id = ")
        .int(workspace_id.get())
        .push(" AND key = ")
        .text(key)
        .push(" ORDER BY cost_nanos DESC, calls DESC, value LIMIT ")
        .int(read);
    let ranked: Vec<TagTotals> = sql.load(conn)?;
    let names: Vec<&str> = changed.iter().map(|c| c.value.as_str()).collect();
    let held = ranked_of(conn, workspace_id, key, &names)?;
    let mut all = TagRest {
        values: m.sums.values_count,
        cost_nanos: m.sums.cost_nanos,
        calls: m.sums.calls,
    };
    let mut values: Vec<TagTotals> = Vec::with_capacity(ranked.len());
    let mut is_changed = HashSet::with_capacity(changed.len());
    for c in changed {
        let was = held.get(&c.value).copied();
        let (cost, calls) = was.map_or((c.cost_nanos, c.calls), |(cost, calls)| {
            (
                cost.saturating_add(c.cost_nanos),
                calls.saturating_add(c.calls),
            )
        });
        all.cost_nanos = all.cost_nanos.saturating_add(c.cost_nanos);
        all.calls = all.calls.saturating_add(c.calls);
        match (was.is_some(), calls > 0) {
            (true, false) => all.values -= 1,
            (false, true) => all.values += 1,
            _ => {}
        }
        if calls > 0 {
            values.push(TagTotals {
                value: c.value.clone(),
                cost_nanos: cost,
                calls,
            });
        }
        is_changed.insert(c.value);
    }
    values.extend(
        ranked
            .into_iter()
            .filter(|r| !is_changed.contains(&r.value)),
    );
    super::plan::costliest_first(
        &mut values,
        |r| (r.cost_nanos, r.calls),
        |r| r.value.clone(),
    );
    values.truncate(usize::try_from(top).unwrap_or(usize::MAX));
    let mut rest = all;
    for v in &values {
        rest.values -= 1;
        rest.cost_nanos = rest.cost_nanos.saturating_sub(v.cost_nanos);
        rest.calls = rest.calls.saturating_sub(v.calls);
    }
    Ok(TagBreakdown {
        values,
        other: (rest.values > 0).then_some(rest),
        refresh: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = DAY_MICROS;

    #[test]
    fn windows_end_a_settling_time_before_the_build() {
        assert_eq!(window_at(10 * D + 3 * 3_600_000_000), (-20 * D, 10 * D));
        assert_eq!(window_at(10 * D + 3_600_000_000), (-21 * D, 9 * D));
        assert!(is_late(10 * D - 1, 10 * D + 5));
        assert!(!is_late(10 * D, 10 * D + 5));
    }

    #[test]
    fn differences_add_what_the_range_has_more_and_take_what_it_has_less() {
        // The range starts 6 hours into the window and runs 6 hours past its end.
        let h = 3_600_000_000;
        assert_eq!(
            differences(6 * h, 30 * D + 6 * h, 0, 30 * D),
            vec![(30 * D, 30 * D + 6 * h, true), (0, 6 * h, false)]
        );
        // A range inside the window, and one around it.
        assert_eq!(
            differences(D, 2 * D, 0, 30 * D),
            vec![(0, D, false), (2 * D, 30 * D, false)]
        );
        assert_eq!(
            differences(-D, 31 * D, 0, 30 * D),
            vec![(-D, 0, true), (30 * D, 31 * D, true)]
        );
        // Disjoint: everything of both.
        assert_eq!(length(&differences(40 * D, 41 * D, 0, 30 * D)), 31 * D);
        assert_eq!(differences(0, 30 * D, 0, 30 * D), vec![]);
    }
}
