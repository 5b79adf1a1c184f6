//! Workspaces, their members and roles: the tenant every resource belongs to.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{revoked_tokens, users, workspace_members, workspaces};
use crate::{AnyConnection, StoreError, UserId, WorkspaceId, now_utc};

/// What a member may do; each role includes the ones below it (the order of the
/// variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Every read.
    Viewer,
    /// + API keys, budgets, estimates, sending events.
    Member,
    /// + custom prices, the webhook secret, the audit log, members below owner.
    Admin,
    /// + owners, rename, delete.
    Owner,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// The role named `name`, if any.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The least role that may give this one, or take it away: an owner for `owner`, an
    /// admin below it. (`invitations` states the same rule in SQL.)
    pub fn granted_by(self) -> Role {
        if self == Role::Owner {
            Role::Owner
        } else {
            Role::Admin
        }
    }

    /// A stored role; the CHECK constraint admits only the four names.
    pub(crate) fn stored(name: &str) -> Result<Role, StoreError> {
        Role::parse(name).ok_or_else(|| StoreError::Query(format!("unknown role {name:?} stored")))
    }
}

/// A workspace as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRow {
    /// Its id.
    pub id: WorkspaceId,
    /// Its name.
    pub name: String,
    /// The user whose personal workspace this is; `None` for a shared one.
    pub personal_of: Option<UserId>,
    /// Creation time (naive UTC).
    pub created_at: NaiveDateTime,
    /// IANA zone of its calendar (weekly and monthly reports).
    pub timezone: String,
    /// The currency its dashboard also shows amounts in (`USD`: dollars only).
    pub display_currency: String,
    /// The member's role in it.
    pub role: Role,
}

/// A member of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// Their role.
    pub role: Role,
    /// When they joined (naive UTC).
    pub added_at: NaiveDateTime,
}

/// Where a session acts: a workspace, the user's role in it, and its custom-prices
/// version (see `prices::version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The user's role there.
    pub role: Role,
    /// The workspace's custom-prices version.
    pub prices_version: i64,
}

/// What authenticating a session token learns in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// Whether the token was revoked (logout).
    pub revoked: bool,
    /// The user's email.
    pub email: String,
    /// The workspace asked for (or the personal one) when the user is a member of it.
    pub membership: Option<Membership>,
}

/// A workspace joined with the caller's membership, as read.
#[derive(Queryable, Selectable)]
#[diesel(table_name = workspaces)]
struct Stored {
    id: WorkspaceId,
    name: String,
    personal_of: Option<UserId>,
    created_at: NaiveDateTime,
    timezone: String,
    display_currency: String,
    #[diesel(select_expression = workspace_members::role)]
    #[diesel(select_expression_type = workspace_members::role)]
    role: String,
}

fn row(s: Stored) -> Result<WorkspaceRow, StoreError> {
    Ok(WorkspaceRow {
        id: s.id,
        name: s.name,
        personal_of: s.personal_of,
        created_at: s.created_at,
        timezone: s.timezone,
        display_currency: s.display_currency,
        role: Role::stored(&s.role)?,
    })
}

/// Creates a workspace named `name` with `owner` as its owner; `personal` makes it the
/// owner's personal workspace. Call it in a transaction.
pub fn create(
    conn: &mut AnyConnection,
    owner: UserId,
    name: &str,
    personal: bool,
) -> Result<WorkspaceRow, StoreError> {
    let now = now_utc();
    let id: WorkspaceId = diesel::insert_into(workspaces::table)
        .values((
            workspaces::name.eq(name),
            workspaces::personal_of.eq(personal.then_some(owner)),
            workspaces::created_at.eq(now),
        ))
        .returning(workspaces::id)
        .get_result(conn)?;
    add_member(conn, id, owner, Role::Owner)?;
    Ok(WorkspaceRow {
        id,
        name: name.to_string(),
        personal_of: personal.then_some(owner),
        created_at: now,
        timezone: "UTC".into(),
        display_currency: "USD".into(),
        role: Role::Owner,
    })
}

/// The workspaces `user` is a member of, with their role in each, oldest first.
pub fn list_for(conn: &mut AnyConnection, user: UserId) -> Result<Vec<WorkspaceRow>, StoreError> {
    workspaces::table
        .inner_join(workspace_members::table)
        .filter(workspace_members::user_id.eq(user))
        .order(workspaces::id)
        .select(Stored::as_select())
        .load(conn)?
        .into_iter()
        .map(row)
        .collect()
}

/// Workspace `id` as `user` sees it; `None` when it does not exist or `user` is not a
/// member (the two are not told apart).
pub fn get_for(
    conn: &mut AnyConnection,
    user: UserId,
    id: WorkspaceId,
) -> Result<Option<WorkspaceRow>, StoreError> {
    workspaces::table
        .inner_join(workspace_members::table)
        .filter(workspace_members::user_id.eq(user))
        .filter(workspaces::id.eq(id))
        .select(Stored::as_select())
        .first(conn)
        .optional()?
        .map(row)
        .transpose()
}

/// How many workspaces `user` owns.
pub fn count_owned(conn: &mut AnyConnection, user: UserId) -> Result<i64, StoreError> {
    Ok(workspace_members::table
        .filter(workspace_members::user_id.eq(user))
        .filter(workspace_members::role.eq(Role::Owner.as_str()))
        .count()
        .get_result(conn)?)
}

/// What [`update`] changes in a workspace; a `None` field is kept.
#[derive(Debug, Clone, Copy, Default, AsChangeset)]
#[diesel(table_name = workspaces)]
pub struct WorkspaceChanges<'a> {
    /// A new name.
    pub name: Option<&'a str>,
    /// A new zone for its calendar (IANA name).
    pub timezone: Option<&'a str>,
    /// A new display currency (ISO 4217).
    pub display_currency: Option<&'a str>,
}

/// Changes workspace `id`'s name or zone; `false` when it does not exist or nothing is
/// to change.
pub fn update(
    conn: &mut AnyConnection,
    id: WorkspaceId,
    changes: WorkspaceChanges<'_>,
) -> Result<bool, StoreError> {
    if changes.name.is_none() && changes.timezone.is_none() && changes.display_currency.is_none() {
        return Ok(false);
    }
    let n = diesel::update(workspaces::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(n > 0)
}

/// The name and calendar zone of workspace `id` (for notifications, which have no
/// member to look it up as).
pub fn name_and_zone(
    conn: &mut AnyConnection,
    id: WorkspaceId,
) -> Result<(String, String), StoreError> {
    Ok(workspaces::table
        .find(id)
        .select((workspaces::name, workspaces::timezone))
        .first(conn)?)
}

/// Deletes workspace `id` and, through the foreign keys, everything in it.
pub fn delete(conn: &mut AnyConnection, id: WorkspaceId) -> Result<bool, StoreError> {
    Ok(diesel::delete(workspaces::table.find(id)).execute(conn)? > 0)
}

/// The members of workspace `id`, in the order they joined.
pub fn members(conn: &mut AnyConnection, id: WorkspaceId) -> Result<Vec<MemberRow>, StoreError> {
    workspace_members::table
        .inner_join(users::table)
        .filter(workspace_members::workspace_id.eq(id))
        .order((workspace_members::added_at, workspace_members::user_id))
        .select((
            workspace_members::user_id,
            users::email,
            workspace_members::role,
            workspace_members::added_at,
        ))
        .load::<(UserId, String, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(user_id, email, role, added_at)| {
            Ok(MemberRow {
                user_id,
                email,
                role: Role::stored(&role)?,
                added_at,
            })
        })
        .collect()
}

/// How many members workspace `id` has, and how many of them are owners.
pub fn member_counts(conn: &mut AnyConnection, id: WorkspaceId) -> Result<(i64, i64), StoreError> {
    let roles: Vec<String> = workspace_members::table
        .filter(workspace_members::workspace_id.eq(id))
        .select(workspace_members::role)
        .load(conn)?;
    let owners = roles.iter().filter(|r| *r == Role::Owner.as_str()).count();
    Ok((roles.len() as i64, owners as i64))
}

/// `user`'s role in workspace `id`, if a member.
pub fn role_of(
    conn: &mut AnyConnection,
    id: WorkspaceId,
    user: UserId,
) -> Result<Option<Role>, StoreError> {
    workspace_members::table
        .find((id, user))
        .select(workspace_members::role)
        .first::<String>(conn)
        .optional()?
        .map(|r| Role::stored(&r))
        .transpose()
}

/// Adds `user` to workspace `id`; already a member is a [`StoreError::Conflict`].
pub fn add_member(
    conn: &mut AnyConnection,
    id: WorkspaceId,
    user: UserId,
    role: Role,
) -> Result<MemberRow, StoreError> {
    let added_at = now_utc();
    diesel::insert_into(workspace_members::table)
        .values((
            workspace_members::workspace_id.eq(id),
            workspace_members::user_id.eq(user),
            workspace_members::role.eq(role.as_str()),
            workspace_members::added_at.eq(added_at),
        ))
        .execute(conn)
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("already a member".into()),
            other => other,
        })?;
    let email = users::table.find(user).select(users::email).first(conn)?;
    Ok(MemberRow {
        user_id: user,
        email,
        role,
        added_at,
    })
}

/// Sets `user`'s role in workspace `id`; `false` when not a member.
pub fn set_role(
    conn: &mut AnyConnection,
    id: WorkspaceId,
    user: UserId,
    role: Role,
) -> Result<bool, StoreError> {
    let n = diesel::update(workspace_members::table.find((id, user)))
        .set(workspace_members::role.eq(role.as_str()))
        .execute(conn)?;
    Ok(n > 0)
}

/// Removes `user` from workspace `id`; `false` when not a member.
pub fn remove_member(
    conn: &mut AnyConnection,
    id: WorkspaceId,
    user: UserId,
) -> Result<bool, StoreError> {
    Ok(diesel::delete(workspace_members::table.find((id, user))).execute(conn)? > 0)
}

/// For a session token `jti` of `user` acting in `workspace` (else in the personal
/// workspace): whether the token is revoked, and the membership, in one round trip;
/// `None` when the user does not exist. A member removed or demoted on any instance is
/// seen here on their next request.
pub fn session_state(
    conn: &mut AnyConnection,
    jti: &str,
    user: UserId,
    workspace: Option<WorkspaceId>,
) -> Result<Option<SessionState>, StoreError> {
    type Found = (
        bool,
        String,
        Option<WorkspaceId>,
        Option<String>,
        Option<i64>,
    );
    // The same columns from either join; a macro because the expression's type is
    // diesel's to name, not ours.
    macro_rules! found {
        () => {
            (
                diesel::dsl::exists(revoked_tokens::table.find(jti.to_string())),
                users::email,
                workspaces::id.nullable(),
                workspace_members::role.nullable(),
                workspaces::prices_version.nullable(),
            )
        };
    }
    let found: Option<Found> = match workspace {
        Some(id) => users::table
            .left_join(
                workspace_members::table.on(workspace_members::user_id
                    .eq(users::id)
                    .and(workspace_members::workspace_id.eq(id))),
            )
            .left_join(workspaces::table.on(workspaces::id.eq(workspace_members::workspace_id)))
            .filter(users::id.eq(user))
            .select(found!())
            .first(conn)
            .optional()?,
        None => users::table
            .left_join(workspaces::table.on(workspaces::personal_of.eq(users::id.nullable())))
            .left_join(
                workspace_members::table.on(workspace_members::workspace_id
                    .eq(workspaces::id)
                    .and(workspace_members::user_id.eq(users::id))),
            )
            .filter(users::id.eq(user))
            .select(found!())
            .first(conn)
            .optional()?,
    };
    let Some((revoked, email, id, role, prices_version)) = found else {
        return Ok(None);
    };
    let membership = match (id, role, prices_version) {
        (Some(workspace), Some(role), Some(prices_version)) => Some(Membership {
            workspace,
            role: Role::stored(&role)?,
            prices_version,
        }),
        _ => None,
    };
    Ok(Some(SessionState {
        revoked,
        email,
        membership,
    }))
}

/// The personal workspace of `user`.
pub fn personal(conn: &mut AnyConnection, user: UserId) -> Result<WorkspaceId, StoreError> {
    Ok(workspaces::table
        .filter(workspaces::personal_of.eq(user))
        .select(workspaces::id)
        .first(conn)?)
}

/// Serialises changes to workspace `id`'s members (PostgreSQL row lock until the
/// transaction ends; SQLite writers are serialised already), so two owners demoting each
/// other at once cannot leave it without one. `FOR NO KEY UPDATE`: it excludes the other
/// writers of the row without holding up inserts that merely name the workspace
/// (their foreign-key checks).
pub fn lock(conn: &mut AnyConnection, id: WorkspaceId) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        workspaces::table
            .find(id)
            .select(workspaces::id)
            .for_no_key_update()
            .load::<WorkspaceId>(pg)?;
    }
    Ok(())
}
