//! Workspaces, members, the audit log, and `/api/auth/me`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A role in a workspace; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    /// Every read.
    Viewer,
    /// + API keys, budgets, estimates, sending events.
    Member,
    /// + custom prices, the webhook secret, the audit log, members below owner.
    Admin,
    /// + owners, rename, delete.
    Owner,
}

impl From<llmlab_app::Role> for RoleDto {
    fn from(r: llmlab_app::Role) -> RoleDto {
        match r {
            llmlab_app::Role::Viewer => RoleDto::Viewer,
            llmlab_app::Role::Member => RoleDto::Member,
            llmlab_app::Role::Admin => RoleDto::Admin,
            llmlab_app::Role::Owner => RoleDto::Owner,
        }
    }
}

impl From<RoleDto> for llmlab_app::Role {
    fn from(r: RoleDto) -> llmlab_app::Role {
        match r {
            RoleDto::Viewer => llmlab_app::Role::Viewer,
            RoleDto::Member => llmlab_app::Role::Member,
            RoleDto::Admin => llmlab_app::Role::Admin,
            RoleDto::Owner => llmlab_app::Role::Owner,
        }
    }
}

/// A workspace as the caller sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceOut {
    /// Its id (send it as `X-LLMLab-Workspace` to act there).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The caller's role in it.
    pub role: RoleDto,
    /// Whether it is the caller's personal workspace (it cannot be deleted).
    pub personal: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// IANA zone of its calendar: weekly and monthly reports go out at 09:00 there.
    pub timezone: String,
    /// ISO 4217 code its dashboard also shows amounts in, at its exchange rates (`USD`:
    /// dollars only).
    pub display_currency: String,
}

impl From<llmlab_app::WorkspaceRow> for WorkspaceOut {
    fn from(w: llmlab_app::WorkspaceRow) -> WorkspaceOut {
        WorkspaceOut {
            id: w.id.get(),
            name: w.name,
            role: w.role.into(),
            personal: w.personal_of.is_some(),
            created_at: w.created_at.and_utc(),
            timezone: w.timezone,
            display_currency: w.display_currency,
        }
    }
}

/// `{workspaces: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceList {
    /// The caller's workspaces, oldest first.
    pub workspaces: Vec<WorkspaceOut>,
}

/// `{name, timezone?}` of a workspace to create or change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WorkspaceIn {
    /// 1 to 100 characters.
    pub name: String,
    /// IANA zone of the workspace's calendar (weekly and monthly reports); default UTC,
    /// unchanged when absent.
    pub timezone: Option<String>,
    /// ISO 4217 code the dashboard also shows amounts in (`USD`, the default: dollars
    /// only); unchanged when absent.
    pub display_currency: Option<String>,
}

/// A member of a workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    /// The user.
    pub user_id: i64,
    /// Their email.
    pub email: String,
    /// Their role.
    pub role: RoleDto,
    /// When they were added.
    pub added_at: DateTime<Utc>,
}

impl From<llmlab_app::MemberRow> for MemberOut {
    fn from(m: llmlab_app::MemberRow) -> MemberOut {
        MemberOut {
            user_id: m.user_id.get(),
            email: m.email,
            role: m.role.into(),
            added_at: m.added_at.and_utc(),
        }
    }
}

/// `{members: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    /// In the order they joined.
    pub members: Vec<MemberOut>,
}

/// `{email, role}` of a person to invite.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMemberIn {
    /// Their email, whether or not they have signed up yet.
    pub email: String,
    /// The role accepting the invitation grants.
    pub role: RoleDto,
}

/// `{role}` to give a member.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleIn {
    /// The new role.
    pub role: RoleDto,
}

/// The signed-in user and their workspaces.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    /// User id.
    pub id: i64,
    /// Email, lower-cased.
    pub email: String,
    /// Sign-up time.
    pub created_at: DateTime<Utc>,
    /// Every workspace they are a member of, with their role.
    pub workspaces: Vec<WorkspaceOut>,
}

/// `?limit&cursor&action` of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1 to 500 entries (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only entries of this action, e.g. `budget.create`.
    pub action: Option<String>,
}

/// Who did it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// `user` or `api_key`.
    pub kind: String,
    /// The user's or key's id.
    pub id: i64,
    /// The user's email or the key's name, when it happened.
    pub label: String,
}

/// What it was done to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTarget {
    /// e.g. `budget`, `api_key`, `member`.
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryOut {
    /// Entry id.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: AuditActor,
    /// What, e.g. `member.add`.
    pub action: String,
    /// To what.
    pub target: AuditTarget,
    /// What changed.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<llmlab_app::AuditRow> for AuditEntryOut {
    fn from(a: llmlab_app::AuditRow) -> AuditEntryOut {
        AuditEntryOut {
            id: a.id,
            at: a.at.and_utc(),
            actor: AuditActor {
                kind: a.actor_kind,
                id: a.actor_id,
                label: a.actor_label,
            },
            action: a.action,
            target: AuditTarget {
                kind: a.target_kind,
                id: a.target_id,
            },
            details: serde_json::from_str(&a.details_json).unwrap_or_default(),
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntryOut>,
    /// Pass as `cursor` for the next (older) page; `null` at the end.
    pub next_cursor: Option<String>,
}
