//! Notification channels: the ones a workspace manages, and each budget's own.
//!
//! A budget's webhook is a channel of its own (`budget_id` set): a `webhook` channel that
//! hears of its budget's alerts only, made when the budget first gets a webhook and kept
//! with the budget, its target `''` while the budget has none, so the alerts' delivery
//! history outlives a removed webhook. The workspace does not manage it as a channel:
//! [`list`], [`get`], [`delete`] and a budget's chosen channels see only the others,
//! whose names are unique among themselves. What channels are sent is in
//! [`crate::outbox`].

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{budget_channels, budgets, channels};
use crate::{AnyConnection, BudgetId, ChannelId, StoreError, UserId, WorkspaceId};
use crate::{now_utc, write_tx};

/// A stored channel.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = channels)]
pub struct ChannelRow {
    /// Its id.
    pub id: ChannelId,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// Unique among the workspace's managed channels.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// The URL, or the comma-separated email addresses; `''` for a budget's own channel
    /// while the budget has no webhook.
    pub target: String,
    /// Comma-separated subscriptions.
    pub events: String,
    /// Who created it.
    pub created_by: Option<UserId>,
    /// Created (naive UTC).
    pub created_at: NaiveDateTime,
}

impl ChannelRow {
    /// Whether it subscribes to `event`.
    pub fn subscribes(&self, event: &str) -> bool {
        self.events.split(',').any(|e| e == event)
    }
}

/// A channel to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    /// Unique per workspace.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// The URL, or the comma-separated email addresses.
    pub target: String,
    /// Comma-separated subscriptions.
    pub events: String,
    /// Who creates it.
    pub created_by: Option<UserId>,
}

/// Creates a channel the workspace manages; a name already used by another of them is
/// [`StoreError::Conflict`].
pub fn create(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    new: &NewChannel,
) -> Result<ChannelRow, StoreError> {
    let row = (
        channels::workspace_id.eq(workspace_id),
        channels::name.eq(&new.name),
        channels::kind.eq(&new.kind),
        channels::target.eq(&new.target),
        channels::events.eq(&new.events),
        channels::created_by.eq(new.created_by),
        channels::created_at.eq(now_utc()),
    );
    let channel = with_backend!(conn, |c| diesel::insert_into(channels::table)
        .values(row)
        .returning(ChannelRow::as_returning())
        .get_result(c))?;
    // Its workspace now has something for the notification scheduler to look at.
    crate::schedule::enrol(conn, workspace_id, now_utc().and_utc().timestamp_micros())?;
    Ok(channel)
}

/// The channels the workspace manages, oldest first.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<ChannelRow>, StoreError> {
    Ok(channels::table
        .filter(channels::workspace_id.eq(workspace_id))
        .filter(channels::budget_id.is_null())
        .order(channels::id)
        .select(ChannelRow::as_select())
        .load(conn)?)
}

/// One of the channels the workspace manages.
pub fn get(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: ChannelId,
) -> Result<ChannelRow, StoreError> {
    Ok(one(workspace_id, id)
        .filter(channels::budget_id.is_null())
        .first(conn)?)
}

/// Channel `id` of `workspace_id`, whoever manages it.
fn one(
    workspace_id: WorkspaceId,
    id: ChannelId,
) -> channels::BoxedQuery<
    'static,
    crate::conn::MultiBackend,
    diesel::dsl::AsSelect<ChannelRow, crate::conn::MultiBackend>,
> {
    channels::table
        .filter(channels::workspace_id.eq(workspace_id))
        .filter(channels::id.eq(id))
        .select(ChannelRow::as_select())
        .into_boxed()
}

/// One of the workspace's channels, a budget's own included: where the outbox delivers.
pub fn for_delivery(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: ChannelId,
) -> Result<ChannelRow, StoreError> {
    Ok(one(workspace_id, id).first(conn)?)
}

/// Deletes a channel with its notifications and their attempts (foreign-key cascade);
/// `false` when it was not one the workspace manages.
pub fn delete(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: ChannelId,
) -> Result<bool, StoreError> {
    let n = diesel::delete(
        channels::table
            .filter(channels::workspace_id.eq(workspace_id))
            .filter(channels::id.eq(id))
            .filter(channels::budget_id.is_null()),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Sets the channels a budget's alerts also go to (replacing the previous set). Every
/// channel must be one the budget's workspace manages: otherwise
/// [`StoreError::NotFound`].
pub fn set_budget_channels(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    budget_id: BudgetId,
    ids: &[ChannelId],
) -> Result<(), StoreError> {
    write_tx(conn, |conn| {
        budgets::table
            .filter(budgets::id.eq(budget_id))
            .filter(budgets::workspace_id.eq(workspace_id))
            .select(budgets::id)
            .first::<i64>(conn)?;
        let owned: i64 = channels::table
            .filter(channels::workspace_id.eq(workspace_id))
            .filter(channels::id.eq_any(ids))
            .filter(channels::budget_id.is_null())
            .count()
            .get_result(conn)?;
        if usize::try_from(owned).ok() != Some(ids.len()) {
            return Err(StoreError::NotFound);
        }
        diesel::delete(
            budget_channels::table
                .filter(budget_channels::workspace_id.eq(workspace_id))
                .filter(budget_channels::budget_id.eq(budget_id)),
        )
        .execute(conn)?;
        for id in ids {
            diesel::insert_into(budget_channels::table)
                .values((
                    budget_channels::workspace_id.eq(workspace_id),
                    budget_channels::budget_id.eq(budget_id),
                    budget_channels::channel_id.eq(id),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The channels chosen for each of the workspace's budgets, by budget.
pub fn budget_channels(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<(BudgetId, ChannelId)>, StoreError> {
    Ok(budget_channels::table
        .filter(budget_channels::workspace_id.eq(workspace_id))
        .order((budget_channels::budget_id, budget_channels::channel_id))
        .select((budget_channels::budget_id, budget_channels::channel_id))
        .load(conn)?)
}

/// Points the webhook of budget `budget_id` of `workspace_id` at `url`, or removes it
/// (`None`): the budget's own channel takes `url` as its target (`''` for none), and is
/// made the first time the budget has a webhook. An alert already waiting goes where
/// the webhook points when it is attempted, or is cancelled if there is none then.
pub fn set_budget_webhook(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    budget_id: BudgetId,
    url: Option<&str>,
) -> Result<(), StoreError> {
    let Some(url) = url else {
        diesel::update(
            channels::table
                .filter(channels::workspace_id.eq(workspace_id))
                .filter(channels::budget_id.eq(budget_id)),
        )
        .set(channels::target.eq(""))
        .execute(conn)?;
        return Ok(());
    };
    let row = (
        channels::workspace_id.eq(workspace_id),
        // Names are unique among managed channels only: this one collides with none.
        channels::name.eq(format!("webhook of budget {budget_id}")),
        channels::kind.eq("webhook"),
        channels::target.eq(url),
        channels::events.eq("budget"),
        channels::created_by.eq(None::<UserId>),
        channels::created_at.eq(now_utc()),
        channels::budget_id.eq(budget_id),
    );
    with_backend!(conn, |c| diesel::insert_into(channels::table)
        .values(row)
        .on_conflict((channels::workspace_id, channels::budget_id))
        .do_update()
        .set(channels::target.eq(url))
        .execute(c))?;
    Ok(())
}

/// The webhooks of the workspace's budgets that have one: each budget's own channel's
/// target, by budget.
pub fn budget_webhooks(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<(BudgetId, String)>, StoreError> {
    Ok(channels::table
        .filter(channels::workspace_id.eq(workspace_id))
        .filter(channels::budget_id.is_not_null())
        .filter(channels::target.ne(""))
        .order(channels::budget_id)
        .select((channels::budget_id.assume_not_null(), channels::target))
        .load(conn)?)
}

store_methods! {
    /// See [`channels::create`](create).
    fn create_channel(workspace_id: WorkspaceId, new: &NewChannel) -> ChannelRow = write(create);
    /// See [`channels::list`](list).
    fn list_channels(workspace_id: WorkspaceId) -> Vec<ChannelRow> = with_conn(list);
    /// See [`channels::get`](get).
    fn get_channel(workspace_id: WorkspaceId, id: ChannelId) -> ChannelRow = with_conn(get);
    /// See [`channels::for_delivery`](for_delivery).
    fn channel_for_delivery(workspace_id: WorkspaceId, id: ChannelId) -> ChannelRow = with_conn(for_delivery);
    /// See [`channels::delete`](delete).
    fn delete_channel(workspace_id: WorkspaceId, id: ChannelId) -> bool = write(delete);
    /// See [`channels::set_budget_channels`](set_budget_channels).
    fn set_budget_channels(
        workspace_id: WorkspaceId,
        budget_id: BudgetId,
        ids: &[ChannelId],
    ) -> () = write(set_budget_channels);
    /// See [`channels::budget_channels`](budget_channels).
    fn budget_channels(workspace_id: WorkspaceId) -> Vec<(BudgetId, ChannelId)> = with_conn(budget_channels);
    /// See [`channels::set_budget_webhook`](set_budget_webhook).
    fn set_budget_webhook(
        workspace_id: WorkspaceId,
        budget_id: BudgetId,
        url: Option<&str>,
    ) -> () = write(set_budget_webhook);
    /// See [`channels::budget_webhooks`](budget_webhooks).
    fn budget_webhooks(workspace_id: WorkspaceId) -> Vec<(BudgetId, String)> = with_conn(budget_webhooks);
}
