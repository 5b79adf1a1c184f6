//! A workspace's exchange rates: units of a currency per US dollar, each in effect from
//! its day until the next day that has one.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::schema::fx_rates;
use crate::{AnyConnection, StoreError, WorkspaceId};

/// One rate.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = fx_rates)]
pub struct FxRate {
    /// ISO 4217 code, upper-case.
    pub currency: String,
    /// The day it takes effect.
    pub day: NaiveDate,
    /// Units of the currency per dollar, in billionths.
    pub units_per_usd_nanos: i64,
}

/// Stores `rates` (a rate already set for its currency and day is replaced); call it in
/// a transaction.
pub fn put(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    rates: &[FxRate],
) -> Result<usize, StoreError> {
    let rows: Vec<_> = rates
        .iter()
        .map(|r| {
            (
                fx_rates::workspace_id.eq(workspace_id),
                fx_rates::currency.eq(&r.currency),
                fx_rates::day.eq(r.day),
                fx_rates::units_per_usd_nanos.eq(r.units_per_usd_nanos),
            )
        })
        .collect();
    let mut stored = 0;
    // 4 parameters a row: well under either backend's limit a statement.
    for chunk in rows.chunks(1_000) {
        stored += with_backend!(conn, |c| diesel::insert_into(fx_rates::table)
            .values(chunk)
            .on_conflict((fx_rates::workspace_id, fx_rates::currency, fx_rates::day))
            .do_update()
            .set(fx_rates::units_per_usd_nanos.eq(excluded(fx_rates::units_per_usd_nanos)))
            .execute(c))?;
    }
    Ok(stored)
}

/// How many rates the workspace holds.
pub fn count(conn: &mut AnyConnection, workspace_id: WorkspaceId) -> Result<i64, StoreError> {
    Ok(fx_rates::table
        .filter(fx_rates::workspace_id.eq(workspace_id))
        .count()
        .get_result(conn)?)
}

/// The workspace's rates (of `currency`, or all), newest day first, at most `limit`.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    currency: Option<&str>,
    limit: i64,
) -> Result<Vec<FxRate>, StoreError> {
    let mut q = fx_rates::table
        .filter(fx_rates::workspace_id.eq(workspace_id))
        .into_boxed();
    if let Some(c) = currency {
        q = q.filter(fx_rates::currency.eq(c.to_string()));
    }
    Ok(q.order((fx_rates::day.desc(), fx_rates::currency))
        .limit(limit)
        .select(FxRate::as_select())
        .load(conn)?)
}

/// The rates of `currency` in effect from `start` to `end` (inclusive): the latest from
/// on or before `start`, then every one after it up to `end`, oldest first.
pub fn in_effect(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    currency: &str,
    (start, end): (NaiveDate, NaiveDate),
) -> Result<Vec<FxRate>, StoreError> {
    let mine = || {
        fx_rates::table
            .filter(fx_rates::workspace_id.eq(workspace_id))
            .filter(fx_rates::currency.eq(currency.to_string()))
            .into_boxed()
    };
    let first: Option<FxRate> = mine()
        .filter(fx_rates::day.le(start))
        .order(fx_rates::day.desc())
        .select(FxRate::as_select())
        .first(conn)
        .optional()?;
    let rest: Vec<FxRate> = mine()
        .filter(fx_rates::day.gt(start))
        .filter(fx_rates::day.le(end))
        .order(fx_rates::day)
        .select(FxRate::as_select())
        .load(conn)?;
    Ok(first.into_iter().chain(rest).collect())
}
