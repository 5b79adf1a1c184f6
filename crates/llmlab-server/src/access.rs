//! Access: what a credential may do. A session (a person) may do what their role in the
//! workspace allows; an API key only what its scopes name, and never manage anything.
//! The rules are `llmlab_app::access`'s; each handler takes the access it needs ([`Reader`], [`Ingester`], [`Checker`],
//! [`Member`], [`Admin`] or [`Person`]), so the matrix in docs/SECURITY.md can be read
//! off the routes' signatures.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest};
use llmlab_app::auth::{Acting, Credential, Identity};
use llmlab_app::ingest::Tenant;
use llmlab_app::{UserId, WorkspaceId};

use crate::error::ApiError;

pub use llmlab_app::access::{
    AdminOnly, CheckScope, IngestScope, KeyScope, MemberOnly, Need, ReadScope, Requirement, Scopes,
    ViewerOnly,
};

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
            key: self.identity.key_id(),
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
            let acting = identity.acting_for(R::NEED).map_err(ApiError::from)?;
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
    pub actor: llmlab_app::Actor,
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
