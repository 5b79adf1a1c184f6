//! Invitations: the one way into a workspace. An admin invites an email; the person who
//! holds it (now, or once they sign up with it) accepts into the role it names, or
//! declines. Invitations expire after [`VALID_FOR`].
//!
//! Inviting answers the same, after the same work, whether or not anyone has signed up
//! with the email: nothing here looks a user up by the invited email (a member is told
//! apart by the workspace's own member list), so neither the answer nor its timing says
//! which emails exist. The role is granted when the invitee accepts, and only while the
//! sender may still grant it (`llmlab_store::invitations`): an admin since removed or
//! demoted leaves no way back in behind them. Each step is written to the workspace's
//! audit log with it.

use chrono::{Duration, NaiveDateTime};
use llmlab_store::invitations as store;
use llmlab_store::workspaces as members;
use llmlab_store::{InvitationId, InvitationRow, NewInvitation, Role, Store, WorkspaceId};
use serde_json::json;

use crate::app::workspaces::{Caller, record, require, transaction};
use crate::app::{AppError, Audit, ensure_room};

/// How long an invitation can be accepted.
pub const VALID_FOR: Duration = Duration::days(7);

/// The most invitations a person's own list shows, newest first: anyone may invite
/// anyone, so the list is bounded like every other answer.
pub const MAX_LISTED: i64 = 100;

/// Invites `email` (whoever holds it) to workspace `id` with `role`: admins invite
/// below owner, owners anyone. A live invitation of the same email is replaced (its
/// role too must be within the caller's reach). 409 when the email is a member's.
pub fn invite(
    s: &Store,
    who: &Caller<'_>,
    id: WorkspaceId,
    (email, role): (&str, Role),
    member_limit: usize,
    now: NaiveDateTime,
) -> Result<InvitationRow, AppError> {
    let email = crate::app::accounts::parse_email(email)?;
    transaction(s, |c| {
        members::lock(c, id)?;
        require(c, id, who.user, role.granted_by())?;
        let current = members::members(c, id)?;
        if current.iter().any(|m| m.email == email) {
            return Err(AppError::Conflict("already a member of this workspace"));
        }
        ensure_room("members", current.len(), member_limit)?;
        let replaced = store::find(c, id, &email, now)?;
        if let Some(old) = &replaced {
            require(c, id, who.user, old.role.granted_by())?;
        }
        store::clear(c, id, &email, now)?;
        let new = NewInvitation {
            workspace_id: id,
            email: &email,
            role,
            invited_by: who.user,
            created_at: now,
            expires_at: now + VALID_FOR,
        };
        let invitation = store::insert(c, &new)?;
        let audit = Audit {
            action: "invitation.create",
            target_kind: "invitation",
            target_id: invitation.to_string(),
            details: json!({
                "email": email,
                "role": role.as_str(),
                "replaces": replaced.map(|r| r.id.get()),
            }),
        };
        record(c, id, who, audit)?;
        store::get(c, invitation, now)?.ok_or(AppError::NotFound("invitation"))
    })
}

/// The live invitations of workspace `id` (admins).
pub fn pending(
    s: &Store,
    who: &Caller<'_>,
    id: WorkspaceId,
    now: NaiveDateTime,
) -> Result<Vec<InvitationRow>, AppError> {
    transaction(s, |c| {
        require(c, id, who.user, Role::Admin)?;
        Ok(store::in_workspace(c, id, now)?)
    })
}

/// Withdraws invitation `invitation` of workspace `id` (admins; owners for an
/// invitation to be owner).
pub fn revoke(
    s: &Store,
    who: &Caller<'_>,
    id: WorkspaceId,
    invitation: InvitationId,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    transaction(s, |c| {
        members::lock(c, id)?;
        require(c, id, who.user, Role::Admin)?;
        let found = store::get(c, invitation, now)?
            .filter(|i| i.workspace_id == id)
            .ok_or(AppError::NotFound("invitation"))?;
        require(c, id, who.user, found.role.granted_by())?;
        store::delete(c, invitation)?;
        let audit = Audit {
            action: "invitation.revoke",
            target_kind: "invitation",
            target_id: invitation.to_string(),
            details: json!({"email": found.email, "role": found.role.as_str()}),
        };
        record(c, id, who, audit)
    })
}

/// The live invitations for the person whose account's email is `email`, newest first.
pub fn for_person(
    s: &Store,
    email: &str,
    now: NaiveDateTime,
) -> Result<Vec<InvitationRow>, AppError> {
    let email = crate::app::accounts::normalize_email(email);
    Ok(s.with_conn(|c| store::for_email(c, &email, now, MAX_LISTED))?)
}

/// Invitation `invitation` when it is live and for `email`: else not found, whether it
/// is someone else's, expired, answered or never was.
fn theirs(
    c: &mut llmlab_store::AnyConnection,
    invitation: InvitationId,
    email: &str,
    now: NaiveDateTime,
) -> Result<InvitationRow, AppError> {
    store::get(c, invitation, now)?
        .filter(|i| i.email == email)
        .ok_or(AppError::NotFound("invitation"))
}

/// The invitee `who` (signed up as `email`) accepts `invitation`: they become a member
/// with its role, within `member_limit` members.
pub fn accept(
    s: &Store,
    (who, email): (&Caller<'_>, &str),
    invitation: InvitationId,
    member_limit: usize,
    now: NaiveDateTime,
) -> Result<InvitationRow, AppError> {
    let email = crate::app::accounts::normalize_email(email);
    transaction(s, |c| {
        let ws = theirs(c, invitation, &email, now)?.workspace_id;
        members::lock(c, ws)?;
        // Read again under the workspace's lock: a revocation or a change to the sender's
        // role committed meanwhile counts.
        let found = theirs(c, invitation, &email, now)?;
        let current = members::members(c, ws)?;
        if current.iter().any(|m| m.user_id == who.user) {
            return Err(AppError::Conflict("already a member of this workspace"));
        }
        ensure_room("members", current.len(), member_limit)?;
        members::add_member(c, ws, who.user, found.role)?;
        store::delete(c, invitation)?;
        let audit = Audit {
            action: "invitation.accept",
            target_kind: "member",
            target_id: who.user.to_string(),
            details: json!({
                "invitation": invitation.get(),
                "role": found.role.as_str(),
                "invited_by": found.invited_by_email,
            }),
        };
        record(c, ws, who, audit)?;
        Ok(found)
    })
}

/// The invitee `who` (signed up as `email`) declines `invitation`.
pub fn decline(
    s: &Store,
    (who, email): (&Caller<'_>, &str),
    invitation: InvitationId,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let email = crate::app::accounts::normalize_email(email);
    transaction(s, |c| {
        let found = theirs(c, invitation, &email, now)?;
        store::delete(c, invitation)?;
        let audit = Audit {
            action: "invitation.decline",
            target_kind: "invitation",
            target_id: invitation.to_string(),
            details: json!({"email": found.email, "role": found.role.as_str()}),
        };
        record(c, found.workspace_id, who, audit)
    })
}
