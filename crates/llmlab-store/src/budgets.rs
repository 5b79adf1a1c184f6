//! Budgets: a spending limit per period within a scope (provider, model, tag).

use crate::{BudgetId, WorkspaceId};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::budgets;
use crate::{AnyConnection, EventFilter, StoreError, now_utc};

/// A stored budget.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = budgets)]
pub struct BudgetRow {
    /// Primary key.
    pub id: BudgetId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// What the budget is: its name, limit, period and scope, as created or last replaced.
    #[diesel(embed)]
    pub spec: NewBudget,
    /// Created (naive UTC).
    pub created_at: NaiveDateTime,
    /// Last changed (naive UTC).
    pub updated_at: NaiveDateTime,
}

impl BudgetRow {
    /// The events this budget counts between two instants (microseconds, `[start, end)`).
    pub fn filter(&self, start_micros: i64, end_micros: i64) -> EventFilter {
        let spec = &self.spec;
        let tag = spec.scope_tag_key.clone().zip(spec.scope_tag_value.clone());
        EventFilter {
            provider: spec.scope_provider.clone(),
            model: spec.scope_model.clone(),
            tags: tag.into_iter().collect(),
            ..EventFilter::between(start_micros, end_micros)
        }
    }
}

/// The fields of a budget, for creating and for replacing one.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = budgets, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct NewBudget {
    /// Name, unique per workspace.
    pub name: String,
    /// Limit, nano-dollars.
    pub amount_nanos: i64,
    /// `daily`, `weekly`, `monthly` or `total`.
    pub period: String,
    /// IANA time zone (`UTC` by default).
    pub timezone: String,
    /// Provider scope.
    pub scope_provider: Option<String>,
    /// Model scope.
    pub scope_model: Option<String>,
    /// Tag key scope.
    pub scope_tag_key: Option<String>,
    /// Tag value scope.
    pub scope_tag_value: Option<String>,
    /// Warning threshold in percent.
    pub alert_threshold_pct: i32,
    /// `alert` (it alerts) or `hard` (calls are reserved against it first; see
    /// [`crate::reservations`]).
    pub enforce: String,
}

fn name_taken(error: diesel::result::Error) -> StoreError {
    match StoreError::from(error) {
        StoreError::Conflict(_) => StoreError::Conflict("a budget with this name exists".into()),
        other => other,
    }
}

/// Creates a budget; a name the user already uses is a [`StoreError::Conflict`].
pub fn create(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    new: &NewBudget,
) -> Result<BudgetRow, StoreError> {
    let now = now_utc();
    let row = (
        budgets::workspace_id.eq(workspace_id),
        new,
        budgets::created_at.eq(now),
        budgets::updated_at.eq(now),
    );
    with_backend!(conn, |c| diesel::insert_into(budgets::table)
        .values(row)
        .returning(BudgetRow::as_returning())
        .get_result(c))
    .map_err(name_taken)
}

/// Replaces every field of budget `id` of `workspace_id`; [`StoreError::NotFound`] when the
/// user has no such budget, [`StoreError::Conflict`] when the new name is taken.
pub fn update(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: BudgetId,
    changes: &NewBudget,
) -> Result<BudgetRow, StoreError> {
    let target = budgets::table
        .filter(budgets::id.eq(id))
        .filter(budgets::workspace_id.eq(workspace_id));
    let set = (changes, budgets::updated_at.eq(now_utc()));
    with_backend!(conn, |c| diesel::update(target)
        .set(set)
        .returning(BudgetRow::as_returning())
        .get_result(c))
    .map_err(name_taken)
}

/// The user's budgets, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<BudgetRow>, StoreError> {
    Ok(budgets::table
        .filter(budgets::workspace_id.eq(workspace_id))
        .order(budgets::id)
        .select(BudgetRow::as_select())
        .load(conn)?)
}

/// Budget `id` of `workspace_id`; another user's budget is [`StoreError::NotFound`].
pub fn get(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: BudgetId,
) -> Result<BudgetRow, StoreError> {
    Ok(budgets::table
        .filter(budgets::id.eq(id))
        .filter(budgets::workspace_id.eq(workspace_id))
        .select(BudgetRow::as_select())
        .first(conn)?)
}

/// The user's budget called `name`, if any.
pub fn find_by_name(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    name: &str,
) -> Result<Option<BudgetRow>, StoreError> {
    Ok(budgets::table
        .filter(budgets::workspace_id.eq(workspace_id))
        .filter(budgets::name.eq(name))
        .select(BudgetRow::as_select())
        .first(conn)
        .optional()?)
}

/// Deletes budget `id` of `workspace_id` with its alerts and its webhook's channel; `false` if the user has no such budget.
pub fn delete(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: BudgetId,
) -> Result<bool, StoreError> {
    crate::reservations::forget_budget(conn, workspace_id, id)?;
    let deleted = diesel::delete(
        budgets::table
            .filter(budgets::id.eq(id))
            .filter(budgets::workspace_id.eq(workspace_id)),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

store_methods! {
    /// See [`budgets::create`](create).
    fn create_budget(workspace_id: WorkspaceId, new: &NewBudget) -> BudgetRow = write(create);

    /// See [`budgets::update`](update).
    fn update_budget(
        workspace_id: WorkspaceId,
        id: BudgetId,
        changes: &NewBudget,
    ) -> BudgetRow = write(update);

    /// See [`budgets::list`](list).
    fn list_budgets(workspace_id: WorkspaceId) -> Vec<BudgetRow> = with_conn(list);

    /// See [`budgets::get`](get).
    fn get_budget(workspace_id: WorkspaceId, id: BudgetId) -> BudgetRow = with_conn(get);

    /// See [`budgets::find_by_name`](find_by_name).
    fn find_budget_by_name(
        workspace_id: WorkspaceId,
        name: &str,
    ) -> Option<BudgetRow> = with_conn(find_by_name);

    /// See [`budgets::delete`](delete).
    fn delete_budget(workspace_id: WorkspaceId, id: BudgetId) -> bool = write(delete);
}
