//! The addresses of email channels and their consent.
//!
//! An email channel mails an address only once its owner has confirmed it: until then
//! the address gets one confirmation message and nothing else. Consent is per channel
//! (what the confirmation showed: this channel of this workspace), so a row goes with
//! its channel. Ids are never reused (`AUTOINCREMENT` on SQLite, a sequence on
//! PostgreSQL): a confirmation link signed over one can never confirm a later row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::outbox::held;
use crate::schema::{channel_recipients as r, notifications};
use crate::{AnyConnection, ChannelId, StoreError, WorkspaceId};
use crate::{now_utc, outbox::delivery, truncate_micros, write_tx};

/// One address of an email channel.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = r)]
pub struct RecipientRow {
    /// Its id (what a confirmation link names).
    pub id: i64,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The channel.
    pub channel_id: ChannelId,
    /// The address, as the channel lists it.
    pub address: String,
    /// Whether its confirmation message has been recorded in the outbox.
    pub asked: bool,
    /// When its owner confirmed (naive UTC); `None` until then.
    pub confirmed_at: Option<NaiveDateTime>,
    /// Added (naive UTC).
    pub created_at: NaiveDateTime,
}

/// Adds `addresses` to the email channel `channel_id`, each unconfirmed, `asked` as
/// given; the new rows in the same order.
pub fn add(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    channel_id: ChannelId,
    addresses: &[String],
    asked: bool,
) -> Result<Vec<RecipientRow>, StoreError> {
    let now = now_utc();
    addresses
        .iter()
        .map(|address| {
            let row = (
                r::workspace_id.eq(workspace_id),
                r::channel_id.eq(channel_id),
                r::address.eq(address),
                r::asked.eq(asked),
                r::created_at.eq(now),
            );
            Ok(with_backend!(conn, |c| diesel::insert_into(r::table)
                .values(row)
                .returning(RecipientRow::as_returning())
                .get_result(c))?)
        })
        .collect()
}

/// The recipients of the workspace's email channels, by channel, in the channel's order.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
) -> Result<Vec<RecipientRow>, StoreError> {
    Ok(r::table
        .filter(r::workspace_id.eq(workspace_id))
        .order((r::channel_id, r::id))
        .select(RecipientRow::as_select())
        .load(conn)?)
}

/// The addresses of `channel_id` that have confirmed, in the channel's order.
pub fn confirmed(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    channel_id: ChannelId,
) -> Result<Vec<String>, StoreError> {
    Ok(r::table
        .filter(r::workspace_id.eq(workspace_id))
        .filter(r::channel_id.eq(channel_id))
        .filter(r::confirmed_at.is_not_null())
        .order(r::id)
        .select(r::address)
        .load(conn)?)
}

/// The recipient `id`, whichever workspace it belongs to: a confirmation link names it
/// to someone without an account, and the caller checks the link's signature first.
/// (On a sharded PostgreSQL this read asks every shard: a click on a link is rare.)
pub fn get(conn: &mut AnyConnection, id: i64) -> Result<RecipientRow, StoreError> {
    Ok(r::table
        .find(id)
        .select(RecipientRow::as_select())
        .first(conn)?)
}

/// Confirms recipient `id` at `now` (a second confirmation keeps the first's time) and
/// wakes its channel's notifications held for a confirmation, in one transaction;
/// whether it was newly confirmed.
pub fn confirm(conn: &mut AnyConnection, id: i64, now: NaiveDateTime) -> Result<bool, StoreError> {
    let now = truncate_micros(now);
    write_tx(conn, |conn| {
        let row = get(conn, id)?;
        let changed = diesel::update(
            r::table
                .filter(r::workspace_id.eq(row.workspace_id))
                .filter(r::id.eq(id))
                .filter(r::confirmed_at.is_null()),
        )
        .set(r::confirmed_at.eq(now))
        .execute(conn)?;
        diesel::update(
            notifications::table
                .filter(notifications::workspace_id.eq(row.workspace_id))
                .filter(notifications::channel_id.eq(row.channel_id))
                .filter(notifications::status.eq(delivery::PENDING))
                .filter(notifications::held.eq(held::CONFIRMATION)),
        )
        .set(notifications::next_attempt_at.eq(now))
        .execute(conn)?;
        Ok(changed == 1)
    })
}

/// Up to `limit` recipients whose confirmation has not been recorded yet (those of
/// channels made before confirmation existed), oldest first.
pub fn unasked(conn: &mut AnyConnection, limit: u32) -> Result<Vec<RecipientRow>, StoreError> {
    Ok(r::table
        .filter(r::asked.eq(false))
        .order(r::id)
        .limit(i64::from(limit))
        .select(RecipientRow::as_select())
        .load(conn)?)
}

/// Marks `recipient` asked: its confirmation is recorded, or it will never get one.
pub fn mark_asked(conn: &mut AnyConnection, recipient: &RecipientRow) -> Result<(), StoreError> {
    diesel::update(
        r::table
            .filter(r::workspace_id.eq(recipient.workspace_id))
            .filter(r::id.eq(recipient.id)),
    )
    .set(r::asked.eq(true))
    .execute(conn)?;
    Ok(())
}

store_methods! {
    /// See [`recipients::list`](list).
    fn list_recipients(workspace_id: WorkspaceId) -> Vec<RecipientRow> = with_conn(list);
    /// See [`recipients::confirmed`](confirmed).
    fn confirmed_recipients(
        workspace_id: WorkspaceId,
        channel_id: ChannelId,
    ) -> Vec<String> = with_conn(confirmed);
    /// See [`recipients::get`](get).
    fn get_recipient(id: i64) -> RecipientRow = with_conn(get);
    /// See [`recipients::confirm`](confirm).
    fn confirm_recipient(id: i64, now: NaiveDateTime) -> bool = write(confirm);
    /// See [`recipients::unasked`](unasked).
    fn unasked_recipients(limit: u32) -> Vec<RecipientRow> = with_conn(unasked);
}
