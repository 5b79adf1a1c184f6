//! Access: what a credential may do. A session (a person) may do everything; an API key
//! only what its scopes name, and never manage the account. Each handler takes the
//! access it needs ([`Session`], [`Ingester`] or [`Reader`]), so the matrix in
//! docs/SECURITY.md can be read off the routes' signatures.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest};
use serde::{Deserialize, Serialize};

use crate::auth::{Credential, Identity};
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

/// What a handler needs of the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A person: a session token. API keys never manage the account.
    Session,
    /// A session, or an API key with this scope.
    Scope(KeyScope),
}

impl Identity {
    /// `Ok` when this credential may do what `need` names; else a 403 that says why.
    pub fn allows(&self, need: Need) -> Result<(), ApiError> {
        match (&self.credential, need) {
            (Credential::Session { .. }, _) => Ok(()),
            (Credential::ApiKey { .. }, Need::Session) => Err(ApiError::forbidden(
                "API keys cannot manage the account (keys, budgets, custom prices, the \
                 webhook secret, the session); sign in and use a session token",
            )
            .with_detail("required", serde_json::json!("session"))),
            (Credential::ApiKey { scopes, .. }, Need::Scope(scope)) => {
                if scopes.contains(scope) {
                    Ok(())
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

/// Requirement: a session.
pub struct SessionOnly;
/// Requirement: the `ingest` scope (or a session).
pub struct IngestScope;
/// Requirement: the `read` scope (or a session).
pub struct ReadScope;

impl Requirement for SessionOnly {
    const NEED: Need = Need::Session;
}
impl Requirement for IngestScope {
    const NEED: Need = Need::Scope(KeyScope::Ingest);
}
impl Requirement for ReadScope {
    const NEED: Need = Need::Scope(KeyScope::Read);
}

/// The request's [`Identity`], checked against `R`: 401 without a credential, 403 when
/// the credential may not do this.
pub struct Authorized<R> {
    identity: Identity,
    need: std::marker::PhantomData<fn() -> R>,
}

/// A person's session.
pub type Session = Authorized<SessionOnly>;
/// A session, or an API key with the `ingest` scope.
pub type Ingester = Authorized<IngestScope>;
/// A session, or an API key with the `read` scope.
pub type Reader = Authorized<ReadScope>;

impl<R> std::ops::Deref for Authorized<R> {
    type Target = Identity;
    fn deref(&self) -> &Identity {
        &self.identity
    }
}

impl<R> Authorized<R> {
    /// The checked identity.
    pub fn into_inner(self) -> Identity {
        self.identity
    }
}

impl<R: Requirement> FromRequest for Authorized<R> {
    type Error = ApiError;
    type Future = Ready<Result<Authorized<R>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let identity = req
            .extensions()
            .get::<Identity>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("missing credentials"));
        ready(identity.and_then(|identity| {
            identity.allows(R::NEED)?;
            Ok(Authorized {
                identity,
                need: std::marker::PhantomData,
            })
        }))
    }
}
