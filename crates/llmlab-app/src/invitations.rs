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
//!
//! A workspace sends at most `LLMLAB_INVITATIONS_PER_HOUR` invitations an hour, counted
//! in the database in the transaction that sends them (so every instance shares one
//! allowance, and a refused invitation costs none), and holds at most
//! `LLMLAB_MAX_PENDING_INVITATIONS` live ones; past either, [`AppError::RateLimited`].

use chrono::{Duration, NaiveDateTime};
use llmlab_store::invitations as store;
use llmlab_store::workspaces as members;
use llmlab_store::{
    AnyConnection, InvitationId, InvitationRow, NewInvitation, Role, Store, WorkspaceId,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::workspaces::{Caller, record, require, transaction};
use crate::{AppError, Audit, ensure_room};

/// How long an invitation can be accepted.
pub const VALID_FOR: Duration = Duration::days(7);

/// The most invitations a person's own list shows, newest first: anyone may invite
/// anyone, so the list is bounded like every other answer.
pub const MAX_LISTED: i64 = 100;

/// What bounds a workspace's invitations and members (docs/SECURITY.md).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Invitations sent per hour; 0 = unlimited.
    pub per_hour: u32,
    /// Live invitations at once.
    pub pending: usize,
    /// Members: inviting, and accepting, stop at it.
    pub members: usize,
}

impl Limits {
    /// The limits `settings` set.
    pub fn of(settings: &crate::config::Settings) -> Limits {
        Limits {
            per_hour: settings.invitations_per_hour,
            pending: settings.max_pending_invitations,
            members: settings.limits.members,
        }
    }
}

/// The hourly window invitations are counted in.
const HOUR_MICROS: i64 = 3_600_000_000;

/// Counts one invitation sent by workspace `id` at `now` in its hourly allowance of
/// `per_hour`; `Some(seconds)` to wait when it is spent. The counter is the login
/// limiter's table (`llmlab_store::login_attempts`), under a hash of the workspace.
fn count_sent(
    c: &mut AnyConnection,
    id: WorkspaceId,
    now: NaiveDateTime,
    per_hour: u32,
) -> Result<Option<u64>, AppError> {
    if per_hour == 0 {
        return Ok(None);
    }
    let subject = hex::encode(Sha256::digest(format!("invitations:{id}").as_bytes()));
    let now = now.and_utc().timestamp_micros();
    let window = llmlab_store::login_attempts::count(c, &subject, now, HOUR_MICROS)?;
    let over = u32::try_from(window.attempts).unwrap_or(u32::MAX) > per_hour;
    Ok(over.then(|| window.seconds_left(now, HOUR_MICROS)))
}

/// `Err` when workspace `id` already holds `limit` live invitations: retry when the
/// first of them expires (or once one is answered or revoked).
fn ensure_pending_room(
    c: &mut AnyConnection,
    id: WorkspaceId,
    now: NaiveDateTime,
    limit: usize,
) -> Result<(), AppError> {
    let (live, first_expiry) = store::count(c, id, now)?;
    if usize::try_from(live).unwrap_or(usize::MAX) < limit {
        return Ok(());
    }
    let left = first_expiry.map_or(0, |at| (at - now).num_seconds());
    Err(AppError::RateLimited {
        retry_after: u64::try_from(left + 1).unwrap_or(1),
        message: format!(
            "this workspace has {limit} invitations waiting for an answer, the most it may \
             hold; revoke one, or retry when the first expires"
        ),
    })
}

/// Invites `email` (whoever holds it) to workspace `id` with `role`: admins invite
/// below owner, owners anyone. A live invitation of the same email is replaced (its
/// role too must be within the caller's reach). 409 when the email is a member's.
pub fn invite(
    s: &Store,
    who: &Caller<'_>,
    id: WorkspaceId,
    (email, role): (&str, Role),
    limits: Limits,
    now: NaiveDateTime,
) -> Result<InvitationRow, AppError> {
    let email = crate::accounts::parse_email(email)?;
    transaction(s, |c| {
        members::lock(c, id)?;
        require(c, id, who.user, role.granted_by())?;
        let current = members::members(c, id)?;
        if current.iter().any(|m| m.email == email) {
            return Err(AppError::Conflict("already a member of this workspace"));
        }
        ensure_room("members", current.len(), limits.members)?;
        let replaced = store::find(c, id, &email, now)?;
        if let Some(old) = &replaced {
            require(c, id, who.user, old.role.granted_by())?;
        } else {
            ensure_pending_room(c, id, now, limits.pending)?;
        }
        // Last, so only an invitation that is sent counts (an error rolls it back).
        if let Some(retry_after) = count_sent(c, id, now, limits.per_hour)? {
            return Err(AppError::RateLimited {
                retry_after,
                message: format!(
                    "this workspace has sent {} invitations in the past hour, the most it \
                     may; retry later",
                    limits.per_hour
                ),
            });
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
    let email = crate::accounts::normalize_email(email);
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
    let email = crate::accounts::normalize_email(email);
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
    let email = crate::accounts::normalize_email(email);
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
