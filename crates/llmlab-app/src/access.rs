//! Access: what a credential may do. A session (a person) may do what their role in the
//! workspace allows; an API key only what its scopes name, and never manage anything.
//! Each need is a type ([`Requirement`]), so the server's handlers can state theirs in
//! their signatures and the matrix in docs/SECURITY.md can be read off the routes.

use serde::{Deserialize, Serialize};

use llmlab_store::Role;

use crate::AppError;
use crate::auth::{Acting, Credential, Identity, Unresolved};

/// What an API key may do. A session (a person) may do everything; a key only what its
/// scopes name, and never manage the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyScope {
    /// Send events, ask the pre-flight budget check, estimate, read the catalog.
    Ingest,
    /// Read the reports: costs, events and exports, budgets and alerts, recommendations.
    Read,
}

impl KeyScope {
    /// Every scope, in the order they are stored.
    pub const ALL: [KeyScope; 2] = [KeyScope::Ingest, KeyScope::Read];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Ingest => "ingest",
            KeyScope::Read => "read",
        }
    }
}

/// A set of [`KeyScope`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    ingest: bool,
    read: bool,
}

impl Scopes {
    /// The scopes a new key gets when none are asked for.
    pub const DEFAULT: Scopes = Scopes {
        ingest: true,
        read: false,
    };

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: KeyScope) -> bool {
        match scope {
            KeyScope::Ingest => self.ingest,
            KeyScope::Read => self.read,
        }
    }

    /// The set of `scopes`.
    pub fn of(scopes: &[KeyScope]) -> Scopes {
        Scopes {
            ingest: scopes.contains(&KeyScope::Ingest),
            read: scopes.contains(&KeyScope::Read),
        }
    }

    /// The members, in [`KeyScope::ALL`] order.
    pub fn list(self) -> Vec<KeyScope> {
        KeyScope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .collect()
    }

    /// The stored form (`ingest,read`); unknown names in it are ignored.
    pub fn parse_stored(stored: &str) -> Scopes {
        let names: Vec<&str> = stored.split(',').map(str::trim).collect();
        Scopes {
            ingest: names.contains(&"ingest"),
            read: names.contains(&"read"),
        }
    }

    /// The stored form.
    pub fn to_stored(self) -> String {
        self.list()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What a workspace-scoped handler needs of the credential: the least role a person
/// must hold there, and the scope an API key must carry (`None`: no key may do it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// The least role of a session's user in the workspace.
    pub role: Role,
    /// The scope an API key needs; `None` when keys may not do this at all.
    pub key: Option<KeyScope>,
}

impl Identity {
    /// Where this request acts, when `need` allows it: else not found for a workspace
    /// the caller is not a member of (no hint that it exists), or why it may not.
    pub fn acting_for(&self, need: Need) -> Result<Acting, AppError> {
        let acting = self.acting.map_err(|why| match why {
            Unresolved::NotMember => AppError::NotFound("workspace"),
            Unresolved::BadHeader => AppError::BadWorkspace,
        })?;
        match (&self.credential, need.key) {
            (Credential::Session { .. }, _) => {
                if acting.role.unwrap_or(Role::Viewer) >= need.role {
                    Ok(acting)
                } else {
                    Err(AppError::RoleTooLow(need.role))
                }
            }
            (Credential::ApiKey { .. }, None) => Err(AppError::SessionRequired(
                "API keys cannot manage the workspace (keys, budgets, custom prices, the \
                 webhook secret, members, the audit log); sign in and use a session token",
            )),
            (Credential::ApiKey { scopes, .. }, Some(scope)) => {
                if scopes.contains(scope) {
                    Ok(acting)
                } else {
                    Err(AppError::ScopeMissing(scope))
                }
            }
        }
    }
}

/// A requirement on the credential, as a type, so each handler's signature says what it
/// needs and the matrix in docs/SECURITY.md can be read off the routes.
pub trait Requirement {
    /// What is needed.
    const NEED: Need;
}

macro_rules! requirement {
    ($($(#[$doc:meta])* $name:ident = $role:ident, $key:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Requirement for $name {
            const NEED: Need = Need { role: Role::$role, key: $key };
        }
    )*};
}

requirement! {
    /// Any member's read, or a key with `read`.
    ReadScope = Viewer, Some(KeyScope::Read);
    /// A member's write of events or estimates, or a key with `ingest`.
    IngestScope = Member, Some(KeyScope::Ingest);
    /// Any member, or a key with `ingest` (the pre-flight budget check a sender asks).
    CheckScope = Viewer, Some(KeyScope::Ingest);
    /// Any member's read of what only people see (custom prices, members); never a key.
    ViewerOnly = Viewer, None;
    /// A member's management (API keys, budgets); never a key.
    MemberOnly = Member, None;
    /// An admin's management (custom prices, the webhook secret, the audit log).
    AdminOnly = Admin, None;
}
