//! Access: what a credential may do. A session (a person) may do what their role in the
//! workspace allows; an API key only what its scopes name, and never manage anything.
//! Each handler takes the access it needs ([`Reader`], [`Ingester`], [`Checker`],
//! [`Member`], [`Admin`] or [`Person`]), so the matrix in docs/SECURITY.md can be read
//! off the routes' signatures.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest};
use serde::{Deserialize, Serialize};

use llmlab_store::{Role, UserId, WorkspaceId};

use crate::app::ingest::Tenant;
use crate::auth::{Acting, Credential, Identity, Unresolved, WORKSPACE_HEADER};
use crate::error::ApiError;

/// What an API key may do. A session (a person) may do everything; a key only what its
/// scopes name, and never manage the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Where this request acts, when `need` allows it: else 404 for a workspace the
    /// caller is not a member of (no hint that it exists) or 403 that says what is
    /// missing.
    pub fn acting_for(&self, need: Need) -> Result<Acting, ApiError> {
        let acting = self.acting.map_err(|why| match why {
            Unresolved::NotMember => ApiError::not_found("workspace"),
            Unresolved::BadHeader => ApiError::validation(
                WORKSPACE_HEADER,
                format!("{WORKSPACE_HEADER} must be a workspace id (a positive integer)"),
            ),
        })?;
        match (&self.credential, need.key) {
            (Credential::Session { .. }, _) => {
                let role = acting.role.unwrap_or(Role::Viewer);
                if role >= need.role {
                    Ok(acting)
                } else {
                    Err(ApiError::forbidden(format!(
                        "this needs the '{}' role in the workspace; yours is '{}'",
                        need.role.as_str(),
                        role.as_str()
                    ))
                    .with_detail("required_role", serde_json::json!(need.role.as_str())))
                }
            }
            (Credential::ApiKey { .. }, None) => Err(ApiError::forbidden(
                "API keys cannot manage the workspace (keys, budgets, custom prices, the \
                 webhook secret, members, the audit log); sign in and use a session token",
            )
            .with_detail("required", serde_json::json!("session"))),
            (Credential::ApiKey { scopes, .. }, Some(scope)) => {
                if scopes.contains(scope) {
                    Ok(acting)
                } else {
                    Err(ApiError::forbidden(format!(
                        "this API key lacks the '{}' scope; create a key with it",
                        scope.as_str()
                    ))
                    .with_detail("required_scope", serde_json::json!(scope.as_str())))
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

/// The request's workspace and credential, checked against `R`: 401 without a
/// credential, 404 for a workspace the caller is not in, 403 when it may not do this.
pub struct Authorized<R> {
    identity: Identity,
    acting: Acting,
    need: std::marker::PhantomData<fn() -> R>,
}

/// A session, or an API key with the `read` scope.
pub type Reader = Authorized<ReadScope>;
/// A member's session, or an API key with the `ingest` scope.
pub type Ingester = Authorized<IngestScope>;
/// Any member's session, or an API key with the `ingest` scope.
pub type Checker = Authorized<CheckScope>;
/// Any member's session.
pub type Viewer = Authorized<ViewerOnly>;
/// A session of a member or above.
pub type Member = Authorized<MemberOnly>;
/// A session of an admin or above.
pub type Admin = Authorized<AdminOnly>;

impl<R> std::ops::Deref for Authorized<R> {
    type Target = Identity;
    fn deref(&self) -> &Identity {
        &self.identity
    }
}

impl<R> Authorized<R> {
    /// The workspace the request acts in.
    pub fn workspace(&self) -> WorkspaceId {
        self.acting.workspace
    }

    /// The workspace's custom-prices version when the request was authenticated.
    pub fn prices_version(&self) -> i64 {
        self.acting.prices_version
    }

    /// Where ingestion and estimates act (see [`Tenant`]).
    pub fn tenant(&self) -> Tenant {
        Tenant {
            workspace: self.acting.workspace,
            prices_version: self.acting.prices_version,
            key_tags: self.identity.key_tags().cloned().unwrap_or_default(),
        }
    }
}

fn identity(req: &HttpRequest) -> Result<Identity, ApiError> {
    req.extensions()
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("missing credentials"))
}

impl<R: Requirement> FromRequest for Authorized<R> {
    type Error = ApiError;
    type Future = Ready<Result<Authorized<R>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(identity(req).and_then(|identity| {
            let acting = identity.acting_for(R::NEED)?;
            Ok(Authorized {
                identity,
                acting,
                need: std::marker::PhantomData,
            })
        }))
    }
}

/// A person's session, whatever workspace it names: for what belongs to the person
/// (the session itself, their workspaces). API keys get 403.
pub struct Person {
    /// The signed-in user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// The session token's id.
    pub jti: String,
    /// The session token's expiry.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// How the audit log names them.
    pub actor: llmlab_store::Actor,
}

impl FromRequest for Person {
    type Error = ApiError;
    type Future = Ready<Result<Person, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(identity(req).and_then(|identity| {
            let actor = identity.actor();
            match identity.credential {
                Credential::Session {
                    user_id,
                    email,
                    jti,
                    expires_at,
                } => Ok(Person {
                    user_id,
                    email,
                    jti,
                    expires_at,
                    actor,
                }),
                Credential::ApiKey { .. } => Err(ApiError::forbidden(
                    "API keys act for a workspace, not a person; sign in and use a session token",
                )
                .with_detail("required", serde_json::json!("session"))),
            }
        }))
    }
}
