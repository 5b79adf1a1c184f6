//! Invitations to workspaces: who is invited, with which role, by whom, until when.
//!
//! An invitation is *live* while it has not expired and its sender may still grant its
//! role there ([`Role::granted_by`]): it is its sender's grant, so one sent by a member
//! since removed or demoted grants nothing. Every read here sees live invitations only;
//! the others wait to be replaced or purged ([`clear`]). A person's invitations are
//! found by their email's normal form, the form `users.email` holds.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::schema::{invitations, users, workspace_members, workspaces};
use crate::{AnyConnection, InvitationId, Role, StoreError, UserId, WorkspaceId};

/// An invitation to store.
#[derive(Debug, Clone)]
pub struct NewInvitation<'a> {
    /// Where to.
    pub workspace_id: WorkspaceId,
    /// Whom: an email in its normal form, whether or not anyone has signed up with it.
    pub email: &'a str,
    /// The role accepting grants.
    pub role: Role,
    /// Who sent it.
    pub invited_by: UserId,
    /// When (naive UTC).
    pub created_at: NaiveDateTime,
    /// When it stops being valid (naive UTC).
    pub expires_at: NaiveDateTime,
}

/// A live invitation, with what its reader is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    /// Its id.
    pub id: InvitationId,
    /// The workspace it is to.
    pub workspace_id: WorkspaceId,
    /// That workspace's name.
    pub workspace_name: String,
    /// Whom it is for.
    pub email: String,
    /// The role accepting grants.
    pub role: Role,
    /// Who sent it.
    pub invited_by: UserId,
    /// Their email.
    pub invited_by_email: String,
    /// When it was sent (naive UTC).
    pub created_at: NaiveDateTime,
    /// When it stops being valid (naive UTC).
    pub expires_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = invitations)]
struct Stored {
    id: InvitationId,
    workspace_id: WorkspaceId,
    #[diesel(select_expression = workspaces::name)]
    #[diesel(select_expression_type = workspaces::name)]
    workspace_name: String,
    email: String,
    role: String,
    invited_by: UserId,
    #[diesel(select_expression = users::email)]
    #[diesel(select_expression_type = users::email)]
    invited_by_email: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

fn row(s: Stored) -> Result<InvitationRow, StoreError> {
    Ok(InvitationRow {
        id: s.id,
        workspace_id: s.workspace_id,
        workspace_name: s.workspace_name,
        email: s.email,
        role: Role::stored(&s.role)?,
        invited_by: s.invited_by,
        invited_by_email: s.invited_by_email,
        created_at: s.created_at,
        expires_at: s.expires_at,
    })
}

/// The invitations live at `$now`, joined with their workspace, their sender and the
/// sender's membership (a macro: the query's type is diesel's to name). The role
/// condition is [`Role::granted_by`] in SQL: an owner grants any role, an admin any
/// below owner.
macro_rules! live {
    ($now:expr) => {
        invitations::table
            .inner_join(workspaces::table)
            .inner_join(users::table)
            .inner_join(
                workspace_members::table.on(workspace_members::workspace_id
                    .eq(invitations::workspace_id)
                    .and(workspace_members::user_id.eq(invitations::invited_by))),
            )
            .filter(invitations::expires_at.gt($now))
            .filter(
                workspace_members::role
                    .eq(Role::Owner.as_str())
                    .or(workspace_members::role
                        .eq(Role::Admin.as_str())
                        .and(invitations::role.ne(Role::Owner.as_str()))),
            )
    };
}

/// The live invitations of workspace `ws`, oldest first.
pub fn in_workspace(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    now: NaiveDateTime,
) -> Result<Vec<InvitationRow>, StoreError> {
    live!(now)
        .filter(invitations::workspace_id.eq(ws))
        .order(invitations::id)
        .select(Stored::as_select())
        .load(conn)?
        .into_iter()
        .map(row)
        .collect()
}

/// The live invitations for `email` (its normal form), newest first, at most `limit`.
pub fn for_email(
    conn: &mut AnyConnection,
    email: &str,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<InvitationRow>, StoreError> {
    live!(now)
        .filter(invitations::email.eq(email))
        .order(invitations::id.desc())
        .limit(limit)
        .select(Stored::as_select())
        .load(conn)?
        .into_iter()
        .map(row)
        .collect()
}

/// Invitation `id`, when live.
pub fn get(
    conn: &mut AnyConnection,
    id: InvitationId,
    now: NaiveDateTime,
) -> Result<Option<InvitationRow>, StoreError> {
    live!(now)
        .filter(invitations::id.eq(id))
        .select(Stored::as_select())
        .first(conn)
        .optional()?
        .map(row)
        .transpose()
}

/// The live invitation of `email` to workspace `ws`, if any.
pub fn find(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    email: &str,
    now: NaiveDateTime,
) -> Result<Option<InvitationRow>, StoreError> {
    live!(now)
        .filter(invitations::workspace_id.eq(ws))
        .filter(invitations::email.eq(email))
        .select(Stored::as_select())
        .first(conn)
        .optional()?
        .map(row)
        .transpose()
}

/// How many invitations of workspace `ws` are live, and when the first of them expires.
pub fn count(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    now: NaiveDateTime,
) -> Result<(i64, Option<NaiveDateTime>), StoreError> {
    Ok(live!(now)
        .filter(invitations::workspace_id.eq(ws))
        .select((count_star(), min(invitations::expires_at)))
        .first(conn)?)
}

/// Stores `new`; call [`clear`] for its workspace and email first (one invitation per
/// workspace and email).
pub fn insert(
    conn: &mut AnyConnection,
    new: &NewInvitation<'_>,
) -> Result<InvitationId, StoreError> {
    Ok(diesel::insert_into(invitations::table)
        .values((
            invitations::workspace_id.eq(new.workspace_id),
            invitations::email.eq(new.email),
            invitations::role.eq(new.role.as_str()),
            invitations::invited_by.eq(new.invited_by),
            invitations::created_at.eq(new.created_at),
            invitations::expires_at.eq(new.expires_at),
        ))
        .returning(invitations::id)
        .get_result(conn)?)
}

/// Deletes invitation `id` (accepted, declined or revoked); `false` when there is none.
pub fn delete(conn: &mut AnyConnection, id: InvitationId) -> Result<bool, StoreError> {
    Ok(diesel::delete(invitations::table.find(id)).execute(conn)? > 0)
}

/// Deletes workspace `ws`'s invitation of `email`, live or not, and those of its
/// invitations that expired before `now`; returns how many.
pub fn clear(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    email: &str,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        invitations::table
            .filter(invitations::workspace_id.eq(ws))
            .filter(
                invitations::email
                    .eq(email)
                    .or(invitations::expires_at.le(now)),
            ),
    )
    .execute(conn)?)
}
