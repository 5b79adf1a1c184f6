//! What providers billed: their cost reports imported for reconciliation (one row per
//! file, known by its content's hash) and the amounts per UTC day, provider and model
//! they state. The latest import of a day and provider is what was billed for it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::schema::{billed_costs, billing_imports};
use crate::{AnyConnection, StoreError, WorkspaceId, now_utc};

/// A stored import.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = billing_imports)]
pub struct ImportRow {
    /// Its id.
    pub id: i64,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// What it holds.
    #[diesel(embed)]
    pub spec: NewImport,
    /// When it was imported (naive UTC).
    pub created_at: NaiveDateTime,
}

/// An import's description.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = billing_imports, treat_none_as_default_value = false)]
pub struct NewImport {
    /// `openai_costs`, `anthropic_cost_report` or `focus`.
    pub format: String,
    /// The one provider it bills; `None` when several.
    pub provider: Option<String>,
    /// SHA-256 of the content, hex.
    pub content_sha256: String,
    /// First day (UTC) it covers.
    pub start_date: NaiveDate,
    /// Last day (UTC) it covers, inclusive.
    pub end_date: NaiveDate,
    /// Lines of the report read.
    pub rows_read: i32,
    /// Its total, nano-dollars.
    pub billed_nanos: i64,
}

/// One day's bill of a provider (and model).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = billed_costs)]
pub struct BilledLine {
    /// The day (UTC).
    pub day: NaiveDate,
    /// Provider id.
    pub provider: String,
    /// Model, `""` when the report does not say.
    pub model: String,
    /// Billed, nano-dollars.
    pub billed_nanos: i64,
}

/// The import of `workspace_id` with this content, if any.
pub fn find_by_hash(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    sha256: &str,
) -> Result<Option<ImportRow>, StoreError> {
    Ok(billing_imports::table
        .filter(billing_imports::workspace_id.eq(workspace_id))
        .filter(billing_imports::content_sha256.eq(sha256))
        .select(ImportRow::as_select())
        .first(conn)
        .optional()?)
}

/// The workspace's `limit` latest imports, newest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    limit: i64,
) -> Result<Vec<ImportRow>, StoreError> {
    Ok(billing_imports::table
        .filter(billing_imports::workspace_id.eq(workspace_id))
        .order(billing_imports::id.desc())
        .limit(limit)
        .select(ImportRow::as_select())
        .load(conn)?)
}

/// How many imports the workspace holds.
pub fn count(conn: &mut AnyConnection, workspace_id: WorkspaceId) -> Result<i64, StoreError> {
    Ok(billing_imports::table
        .filter(billing_imports::workspace_id.eq(workspace_id))
        .count()
        .get_result(conn)?)
}

/// Records an import and its lines (call it in a transaction): for each provider it
/// bills, the lines earlier imports had for that provider from its first day to its last
/// are replaced by its own, so a day's bill is never counted twice. A content already
/// imported is a [`StoreError::Conflict`].
pub fn record(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    new: &NewImport,
    lines: &[BilledLine],
) -> Result<ImportRow, StoreError> {
    let row = (
        billing_imports::workspace_id.eq(workspace_id),
        new,
        billing_imports::created_at.eq(now_utc()),
    );
    let import: ImportRow = with_backend!(conn, |c| diesel::insert_into(billing_imports::table)
        .values(row)
        .returning(ImportRow::as_returning())
        .get_result(c))?;
    let mut providers: Vec<&str> = lines.iter().map(|l| l.provider.as_str()).collect();
    providers.extend(new.provider.as_deref());
    providers.sort_unstable();
    providers.dedup();
    for provider in providers {
        diesel::delete(
            billed_costs::table
                .filter(billed_costs::workspace_id.eq(workspace_id))
                .filter(billed_costs::provider.eq(provider))
                .filter(billed_costs::day.between(new.start_date, new.end_date)),
        )
        .execute(conn)?;
    }
    let rows: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                billed_costs::workspace_id.eq(workspace_id),
                billed_costs::import_id.eq(import.id),
                billed_costs::day.eq(l.day),
                billed_costs::provider.eq(&l.provider),
                billed_costs::model.eq(&l.model),
                billed_costs::billed_nanos.eq(l.billed_nanos),
            )
        })
        .collect();
    // 6 parameters a row: well under SQLite's 32,766 and PostgreSQL's 65,535 a statement.
    for chunk in rows.chunks(1_000) {
        with_backend!(conn, |c| diesel::insert_into(billed_costs::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(import)
}

/// The billed lines from `start` to `end` (UTC days, inclusive), of `provider` or all,
/// per day, provider and model.
pub fn billed(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    (start, end): (NaiveDate, NaiveDate),
    provider: Option<&str>,
) -> Result<Vec<BilledLine>, StoreError> {
    let mut q = billed_costs::table
        .filter(billed_costs::workspace_id.eq(workspace_id))
        .filter(billed_costs::day.between(start, end))
        .into_boxed();
    if let Some(p) = provider {
        q = q.filter(billed_costs::provider.eq(p.to_string()));
    }
    Ok(q.order((
        billed_costs::day,
        billed_costs::provider,
        billed_costs::model,
    ))
    .select(BilledLine::as_select())
    .load(conn)?)
}

/// `lines` summed per (day, provider, model): what one import's rows become.
pub fn fold(lines: impl IntoIterator<Item = BilledLine>) -> Result<Vec<BilledLine>, StoreError> {
    let mut sums: BTreeMap<(NaiveDate, String, String), i64> = BTreeMap::new();
    for l in lines {
        let sum = sums.entry((l.day, l.provider, l.model)).or_default();
        *sum = sum
            .checked_add(l.billed_nanos)
            .ok_or_else(|| StoreError::Conflict("a billed amount out of range".into()))?;
    }
    Ok(sums
        .into_iter()
        .map(|((day, provider, model), billed_nanos)| BilledLine {
            day,
            provider,
            model,
            billed_nanos,
        })
        .collect())
}
