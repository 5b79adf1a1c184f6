//! Workspaces and their members: who may act where, with which role (people join by
//! accepting an invitation: `app::invitations`). Every change is recorded in the
//! workspace's audit log in its own transaction. A workspace the caller is not a member
//! of is "not found", never "forbidden", so ids reveal nothing.

use llmlab_store::workspaces::{self as store, WorkspaceChanges};
use llmlab_store::{
    Actor, AnyConnection, MemberRow, Role, Store, StoreError, UserId, WorkspaceId, WorkspaceRow,
};

use crate::credentials::KeyCache;
use crate::{AppError, Audit, ensure_room};

/// Who asks: a signed-in user, and how the audit log names them.
pub struct Caller<'a> {
    /// The user.
    pub user: UserId,
    /// As the audit log records them.
    pub actor: &'a Actor,
}

/// Most characters in a workspace's name.
const MAX_NAME: usize = 100;

/// A workspace name, trimmed: 1 to 100 characters, no control characters.
pub fn parse_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    crate::input::check_text("name", name)?;
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(AppError::invalid(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(name.to_string())
}

fn parse_zone(name: &str) -> Result<llmlab_engine::period::Zone, AppError> {
    Ok(llmlab_engine::period::Zone::parse(name)?)
}

/// The caller's role in `id`, when it is at least `least`: else not found (not a member)
/// or [`AppError::RoleTooLow`].
pub(crate) fn require(
    c: &mut AnyConnection,
    id: WorkspaceId,
    user: UserId,
    least: Role,
) -> Result<Role, AppError> {
    let role = store::role_of(c, id, user)?.ok_or(AppError::NotFound("workspace"))?;
    if role < least {
        return Err(AppError::RoleTooLow(least));
    }
    Ok(role)
}

/// Runs `f` in a transaction: errors of the use case roll back like the store's do.
pub(crate) fn transaction<T>(
    s: &Store,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    let mut outcome = None;
    let stored = s.transaction(|c| match f(c) {
        Ok(v) => Ok(v),
        Err(e) => {
            outcome = Some(e);
            Err(StoreError::NotFound)
        }
    });
    match (stored, outcome) {
        (_, Some(e)) => Err(e),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(e.into()),
    }
}

/// Writes `audit` to workspace `id`'s log as done by `who`, in the change's transaction.
pub(crate) fn record(
    c: &mut AnyConnection,
    id: WorkspaceId,
    who: &Caller<'_>,
    audit: Audit,
) -> Result<(), AppError> {
    Ok(crate::record_audit(c, id, who.actor, audit)?)
}

/// The caller's workspaces.
pub fn list(s: &Store, user: UserId) -> Result<Vec<WorkspaceRow>, AppError> {
    Ok(s.with_conn(|c| store::list_for(c, user))?)
}

/// A workspace's name, calendar zone and display currency as sent, checked.
fn settings(
    name: &str,
    timezone: Option<&str>,
    currency: Option<&str>,
) -> Result<
    (
        String,
        Option<llmlab_engine::period::Zone>,
        Option<crate::fx::Currency>,
    ),
    AppError,
> {
    let currency = currency
        .map(|c| crate::fx::Currency::parse("display_currency", c))
        .transpose()?;
    Ok((
        parse_name(name)?,
        timezone.map(parse_zone).transpose()?,
        currency,
    ))
}

/// Creates a workspace owned by the caller, within `limit` owned workspaces.
pub fn create(
    s: &Store,
    who: &Caller<'_>,
    (name, timezone, currency): (&str, Option<&str>, Option<&str>),
    limit: usize,
) -> Result<WorkspaceRow, AppError> {
    let (name, timezone, currency) = settings(name, timezone, currency)?;
    let owned = s.with_conn(|c| store::count_owned(c, who.user))?;
    ensure_room(
        "workspaces",
        usize::try_from(owned).unwrap_or(usize::MAX),
        limit,
    )?;
    transaction(s, |c| {
        let mut row = store::create(c, who.user, &name, false)?;
        if let Some(zone) = timezone {
            let changes = WorkspaceChanges {
                timezone: Some(zone.name()),
                ..Default::default()
            };
            store::update(c, row.id, changes)?;
            row.timezone = zone.name().to_string();
        }
        if let Some(currency) = &currency {
            let changes = WorkspaceChanges {
                display_currency: Some(currency.as_str()),
                ..Default::default()
            };
            store::update(c, row.id, changes)?;
            row.display_currency = currency.as_str().to_string();
        }
        let audit = Audit {
            action: "workspace.create",
            target_kind: "workspace",
            target_id: row.id.to_string(),
            details: serde_json::json!({"name": row.name}),
        };
        record(c, row.id, who, audit)?;
        Ok(row)
    })
}

/// Renames workspace `id`, and sets its calendar's zone and its display currency when
/// given (owners).
pub fn rename(
    s: &Store,
    who: &Caller<'_>,
    id: WorkspaceId,
    (name, timezone, currency): (&str, Option<&str>, Option<&str>),
) -> Result<WorkspaceRow, AppError> {
    let (name, timezone, currency) = settings(name, timezone, currency)?;
    transaction(s, |c| {
        require(c, id, who.user, Role::Owner)?;
        let changes = WorkspaceChanges {
            name: Some(&name),
            timezone: timezone.as_ref().map(|z| z.name()),
            display_currency: currency.as_ref().map(|c| c.as_str()),
        };
        store::update(c, id, changes)?;
        if timezone.is_some() {
            // Its reports fall due at another hour: the scheduler reckons again.
            let now = chrono::Utc::now().timestamp_micros();
            llmlab_store::schedule::mark_due(c, id, now)?;
        }
        let audit = Audit {
            action: "workspace.rename",
            target_kind: "workspace",
            target_id: id.to_string(),
            details: serde_json::json!({
                "name": name,
                "timezone": timezone.map(|z| z.name()),
                "display_currency": currency.as_ref().map(|c| c.as_str()),
            }),
        };
        record(c, id, who, audit)?;
        store::get_for(c, who.user, id)?.ok_or(AppError::NotFound("workspace"))
    })
}

/// Deletes workspace `id` and everything in it, its audit log included (owners; never a
/// personal workspace).
pub fn delete(
    s: &Store,
    keys: &KeyCache,
    who: &Caller<'_>,
    id: WorkspaceId,
) -> Result<(), AppError> {
    transaction(s, |c| {
        require(c, id, who.user, Role::Owner)?;
        let row = store::get_for(c, who.user, id)?.ok_or(AppError::NotFound("workspace"))?;
        if row.personal_of.is_some() {
            return Err(AppError::Conflict("a personal workspace cannot be deleted"));
        }
        store::delete(c, id)?;
        Ok(())
    })?;
    // Its keys are gone with it; this instance refuses them from the next request on.
    keys.forget_workspace(id);
    Ok(())
}

/// The members of workspace `id` (any member may see them).
pub fn members(s: &Store, user: UserId, id: WorkspaceId) -> Result<Vec<MemberRow>, AppError> {
    transaction(s, |c| {
        require(c, id, user, Role::Viewer)?;
        Ok(store::members(c, id)?)
    })
}

/// Gives member `user` of workspace `id` the role `role`; the last owner keeps theirs.
pub fn set_role(
    s: &Store,
    who: &Caller<'_>,
    id: WorkspaceId,
    user: UserId,
    role: Role,
) -> Result<MemberRow, AppError> {
    transaction(s, |c| {
        store::lock(c, id)?;
        let current = store::role_of(c, id, user)?;
        // A member's current role must be within the caller's reach too (an admin cannot
        // demote an owner).
        let needed = role.max(current.unwrap_or(Role::Viewer)).granted_by();
        require(c, id, who.user, needed)?;
        let current = current.ok_or(AppError::NotFound("member"))?;
        if current == Role::Owner && role != Role::Owner && store::member_counts(c, id)?.1 <= 1 {
            return Err(AppError::LastOwner);
        }
        store::set_role(c, id, user, role)?;
        let audit = Audit {
            action: "member.role_change",
            target_kind: "member",
            target_id: user.to_string(),
            details: serde_json::json!({"from": current.as_str(), "to": role.as_str()}),
        };
        record(c, id, who, audit)?;
        store::members(c, id)?
            .into_iter()
            .find(|m| m.user_id == user)
            .ok_or(AppError::NotFound("member"))
    })
}

/// Removes member `user` from workspace `id`: anyone may leave; admins remove members
/// below owner, owners anyone; the last owner stays.
pub fn remove_member(
    s: &Store,
    who: &Caller<'_>,
    id: WorkspaceId,
    user: UserId,
) -> Result<(), AppError> {
    transaction(s, |c| {
        store::lock(c, id)?;
        let current = store::role_of(c, id, user)?;
        if user == who.user {
            require(c, id, who.user, Role::Viewer)?;
        } else {
            require(
                c,
                id,
                who.user,
                current.unwrap_or(Role::Viewer).granted_by(),
            )?;
        }
        let current = current.ok_or(AppError::NotFound("member"))?;
        if current == Role::Owner && store::member_counts(c, id)?.1 <= 1 {
            return Err(AppError::LastOwner);
        }
        store::remove_member(c, id, user)?;
        let audit = Audit {
            action: "member.remove",
            target_kind: "member",
            target_id: user.to_string(),
            details: serde_json::json!({"role": current.as_str()}),
        };
        record(c, id, who, audit)?;
        Ok(())
    })
}

/// A page of workspace `id`'s audit log, newest first, before entry `before`.
pub fn audit_log(
    s: &Store,
    id: WorkspaceId,
    limit: u32,
    before: Option<i64>,
    action: Option<&str>,
) -> Result<Vec<llmlab_store::AuditRow>, AppError> {
    Ok(s.with_conn(|c| llmlab_store::audit::list(c, id, i64::from(limit), before, action))?)
}
