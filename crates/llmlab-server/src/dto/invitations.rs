//! Invitations: what sending one answers, the lists of admins and of invitees, and what
//! accepting one answers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::RoleDto;

/// Who sent an invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviterOut {
    /// Their user id.
    pub user_id: i64,
    /// Their email.
    pub email: String,
}

/// An invitation as its workspace's admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationOut {
    /// Its id.
    pub id: i64,
    /// Whom it is for (the normal form: trimmed, NFKC, lowercase).
    pub email: String,
    /// The role accepting it grants.
    pub role: RoleDto,
    /// Who sent it.
    pub invited_by: InviterOut,
    /// Until when it can be accepted (7 days after it was sent).
    pub expires_at: DateTime<Utc>,
}

impl From<llmlab_app::InvitationRow> for InvitationOut {
    fn from(i: llmlab_app::InvitationRow) -> InvitationOut {
        InvitationOut {
            id: i.id.get(),
            email: i.email,
            role: i.role.into(),
            invited_by: InviterOut {
                user_id: i.invited_by.get(),
                email: i.invited_by_email,
            },
            expires_at: i.expires_at.and_utc(),
        }
    }
}

/// `{invitation}`: what adding a member answers, the same whether or not anyone has
/// signed up with the email.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationSent {
    /// The invitation sent (replacing a pending one of the same email).
    pub invitation: InvitationOut,
}

/// `{invitations: [...]}` of a workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    /// Its pending invitations, oldest first.
    pub invitations: Vec<InvitationOut>,
}

/// A workspace as an invitation names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceRef {
    /// Its id (send it as `X-LLMLab-Workspace` to act there once a member).
    pub id: i64,
    /// Its name.
    pub name: String,
}

impl WorkspaceRef {
    /// The workspace `i` is to.
    fn of(i: &llmlab_app::InvitationRow) -> WorkspaceRef {
        WorkspaceRef {
            id: i.workspace_id.get(),
            name: i.workspace_name.clone(),
        }
    }
}

/// An invitation as the person invited sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyInvitationOut {
    /// Its id: accept with `POST /api/invitations/{inv_id}/accept`.
    pub id: i64,
    /// The workspace it is to.
    pub workspace: WorkspaceRef,
    /// The role accepting it grants.
    pub role: RoleDto,
    /// Who sent it.
    pub invited_by: InviterOut,
    /// Until when it can be accepted.
    pub expires_at: DateTime<Utc>,
}

impl From<llmlab_app::InvitationRow> for MyInvitationOut {
    fn from(i: llmlab_app::InvitationRow) -> MyInvitationOut {
        let workspace = WorkspaceRef::of(&i);
        let InvitationOut {
            id,
            role,
            invited_by,
            expires_at,
            ..
        } = i.into();
        MyInvitationOut {
            id,
            workspace,
            role,
            invited_by,
            expires_at,
        }
    }
}

/// `{invitations: [...]}` of the signed-in person.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyInvitationList {
    /// Their pending invitations, newest first (at most 100).
    pub invitations: Vec<MyInvitationOut>,
}

/// What accepting an invitation answers: where the person is now a member, and as what.
#[derive(Debug, Serialize, ToSchema)]
pub struct Joined {
    /// The workspace joined.
    pub workspace: WorkspaceRef,
    /// Their role there.
    pub role: RoleDto,
}

impl From<llmlab_app::InvitationRow> for Joined {
    fn from(i: llmlab_app::InvitationRow) -> Joined {
        Joined {
            workspace: WorkspaceRef::of(&i),
            role: i.role.into(),
        }
    }
}
