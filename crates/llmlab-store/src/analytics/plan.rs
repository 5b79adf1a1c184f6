//! Planning: which parts of a range rollups answer and which the raw events, and the
//! SQL fragments every aggregate shares.

use crate::WorkspaceId;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use diesel::QueryableByName;

use super::rows::Summed;
use crate::UnitCounts;
use crate::conn::MultiBackend;
use crate::rollups;
use crate::sql::Sql;
use crate::{AnyConnection, EventFilter, StoreError};

pub(super) fn sum(column: &str, alias: &str) -> String {
    format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT) AS {alias}")
}

/// Where one part of a query reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Src<'a> {
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
    pub(super) fn p(self) -> &'static str {
        match self {
            Src::Events => "e.",
            _ => "r.",
        }
    }

    /// The instant a row is bucketed by.
    pub(super) fn ts(self) -> &'static str {
        match self {
            Src::Events => "e.ts",
            _ => "r.slot",
        }
    }

    /// The number of events behind the selected rows.
    pub(super) fn calls(self) -> &'static str {
        match self {
            Src::Events => "COUNT(*)",
            _ => "CAST(COALESCE(SUM(r.calls), 0) AS BIGINT)",
        }
    }

    /// `SUM(column)` as `alias`.
    pub(super) fn sum(self, column: &str) -> String {
        sum(&format!("{}{column}", self.p()), column)
    }

    /// Cost, calls, the input and output token sums, the calls stored without a price
    /// and the sums of the units billed beside tokens.
    pub(super) fn totals(self) -> String {
        let mut columns = vec![
            self.sum("cost_nanos"),
            format!("{} AS calls", self.calls()),
            self.sum("input_tokens"),
            self.sum("output_tokens"),
            self.unpriced(),
        ];
        columns.extend(UnitCounts::COLUMNS.iter().map(|c| self.sum(c)));
        columns.join(", ")
    }

    /// `unpriced_calls`: events stored without a price (`cost_source = 'unpriced'`).
    pub(super) fn unpriced(self) -> String {
        match self {
            Src::Events => sum(
                "CASE WHEN e.cost_source = 'unpriced' THEN 1 ELSE 0 END",
                "unpriced_calls",
            ),
            _ => self.sum("unpriced_calls"),
        }
    }
}

/// What rollups can answer an aggregate.
#[derive(Clone, Copy)]
pub(super) enum Allow<'a> {
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
pub(super) fn rollup_source<'a>(filter: &'a EventFilter, allow: Allow<'a>) -> Option<Src<'a>> {
    if filter.sender.is_some() {
        return None; // rollups do not keep the sender
    }
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
pub(super) fn plan<'a>(filter: &'a EventFilter, allow: Allow<'a>) -> Vec<(Src<'a>, EventFilter)> {
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
pub(super) fn push_from(
    sql: &mut Sql,
    src: Src<'_>,
    workspace_id: WorkspaceId,
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
            filter.push_where(sql, workspace_id);
        }
        Src::Models => {
            sql.push(" FROM event_rollups r WHERE r.workspace_id = ")
                .int(workspace_id.get());
            push_slot_range(sql, filter);
            if let Some(provider) = &filter.provider {
                sql.push(" AND r.provider = ").text(provider);
            }
            if let Some(model) = &filter.model {
                sql.push(" AND r.resolved_model = ").text(model);
            }
        }
        Src::Tags { key, value } => {
            sql.push(" FROM tag_rollups r WHERE r.workspace_id = ")
                .int(workspace_id.get())
                .push(" AND r.key = ")
                .text(key);
            if let Some(value) = value {
                sql.push(" AND r.value = ").text(value);
            }
            push_slot_range(sql, filter);
        }
    }
}

pub(super) fn push_slot_range(sql: &mut Sql, filter: &EventFilter) {
    if let Some(start) = filter.start_micros {
        sql.push(" AND r.slot >= ").int(start);
    }
    if let Some(end) = filter.end_micros {
        sql.push(" AND r.slot < ").int(end);
    }
}

/// `JOIN event_tags g … WHERE `: each selected event's row for tag `key`, found by the
/// tag table's primary key `(event_id, key)`, so the events' `(workspace_id, ts)` index drives
/// the query (a tag-index scan over all of a key's values is far slower). The workspace
/// is part of the key: on a sharded PostgreSQL it keeps the join in one shard.
pub(super) fn push_tag_join(sql: &mut Sql, key: &str) {
    sql.push(
        "JOIN event_tags g ON g.workspace_id = e.workspace_id AND g.event_id = e.id AND g.key = ",
    )
    .text(key)
    .push(" WHERE ");
}

/// `ts` rounded down to a multiple of `width` (floor, also before 1970).
pub(super) fn push_floor(sql: &mut Sql, ts: &str, width: i64) {
    sql.push(ts).push(" - (((").push(ts).push(" % ").int(width);
    sql.push(") + ")
        .int(width)
        .push(") % ")
        .int(width)
        .push(")");
}

/// Runs the statement `query` writes for every part of `filter`'s plan and concatenates
/// the rows.
pub(super) fn run<T: QueryableByName<MultiBackend> + 'static>(
    conn: &mut AnyConnection,
    filter: &EventFilter,
    allow: Allow<'_>,
    query: impl Fn(&mut Sql, Src<'_>, &EventFilter),
) -> Result<Vec<T>, StoreError> {
    let mut rows = Vec::new();
    for (src, part) in plan(filter, allow) {
        let mut sql = Sql::new(conn.backend());
        query(&mut sql, src, &part);
        rows.extend(sql.load::<T>(conn)?);
    }
    Ok(rows)
}

/// Adds rows with equal keys, in key order.
pub(super) fn merge<K: Ord, T: Summed>(rows: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut merged: BTreeMap<K, T> = BTreeMap::new();
    for row in rows {
        match merged.entry(key(&row)) {
            Entry::Occupied(mut slot) => slot.get_mut().add(&row),
            Entry::Vacant(slot) => {
                slot.insert(row);
            }
        }
    }
    merged.into_values().collect()
}

/// Costliest first, then most calls, then by `name`.
pub(super) fn costliest_first<T>(
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
