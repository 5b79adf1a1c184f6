//! Browser sessions: the session token in an `HttpOnly`, `SameSite=Strict` cookie (never
//! read by the JSON API), a CSRF token derived from the session for every form, and the
//! workspace and time zone a person last chose, remembered in cookies of their own.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::{HttpRequest, web};
use chrono::{DateTime, Utc};
use llmlab_store::{Role, UserId, WorkspaceId, WorkspaceRow};

use crate::auth::{Acting, Credential, Identity, identify};
use crate::state::AppState;
use crate::webhooks::signature::hmac_hex;

use super::WebError;

/// The session token.
pub const SESSION: &str = "llmlab_session";
/// The workspace last chosen.
pub const WORKSPACE: &str = "llmlab_ws";
/// The time zone last chosen.
pub const TIME_ZONE: &str = "llmlab_tz";

/// A signed-in person looking at one workspace.
pub struct Visitor {
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// The session token's id.
    pub jti: String,
    /// The session's expiry.
    pub expires_at: DateTime<Utc>,
    /// The workspace shown, their role in it, its prices version.
    pub acting: Acting,
    /// Every workspace they may switch to.
    pub workspaces: Vec<WorkspaceRow>,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The identity the application layer takes.
    pub identity: Identity,
}

impl Visitor {
    /// The workspace shown.
    pub fn workspace(&self) -> WorkspaceId {
        self.acting.workspace
    }

    /// Their role in it.
    pub fn role(&self) -> Role {
        self.acting.role.unwrap_or(Role::Viewer)
    }

    /// Whether they may change what `least` may change (the server refuses otherwise,
    /// whatever a page sends).
    pub fn may(&self, least: Role) -> bool {
        self.role() >= least
    }

    /// `Ok` when they may, else the 403 page.
    pub fn require(&self, least: Role) -> Result<(), WebError> {
        if self.may(least) {
            Ok(())
        } else {
            Err(WebError::Forbidden(format!(
                "this needs the {} role in this workspace",
                least.as_str()
            )))
        }
    }

    /// `Ok` when `sent` is this session's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> Result<(), WebError> {
        let same = sent.len() == self.csrf.len()
            && sent
                .bytes()
                .zip(self.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "this form is out of date (missing or wrong CSRF token); reload the page".into(),
            ))
        }
    }
}

/// The CSRF token of the session `jti`: an HMAC only the server can compute, so a page
/// of another site cannot send a form in this person's name.
pub fn csrf_token(state: &AppState, jti: &str) -> String {
    hmac_hex(
        state.settings.jwt_secret.as_bytes(),
        &[b"csrf:", jti.as_bytes()],
    )
}

/// The person behind the request's session cookie, in the workspace asked for (`ws` in
/// the query, else the cookie, else their personal one); the login page otherwise.
pub async fn visitor(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    asked: Option<i64>,
) -> Result<Visitor, WebError> {
    let token = req
        .cookie(SESSION)
        .map(|c| c.value().to_string())
        .ok_or(WebError::SignIn)?;
    let bearer = format!("Bearer {token}");
    let chosen = asked.or_else(|| {
        req.cookie(WORKSPACE)
            .and_then(|c| c.value().parse::<i64>().ok())
    });
    let mut identity = identify(state, Some(&bearer), Ok(chosen.map(WorkspaceId)))
        .await
        .map_err(|_| WebError::SignIn)?;
    if identity.acting.is_err() {
        // A workspace they left or that was deleted: back to their own.
        identity = identify(state, Some(&bearer), Ok(None))
            .await
            .map_err(|_| WebError::SignIn)?;
    }
    let Credential::Session {
        user_id,
        email,
        jti,
        expires_at,
    } = identity.credential.clone()
    else {
        return Err(WebError::SignIn);
    };
    let acting = identity.acting.map_err(|_| WebError::SignIn)?;
    let workspaces =
        crate::app::blocking(state, move |s| crate::app::workspaces::list(s, user_id)).await?;
    Ok(Visitor {
        csrf: csrf_token(state, &jti),
        user_id,
        email,
        jti,
        expires_at,
        acting,
        workspaces,
        identity,
    })
}

/// The person sending a form that changes something: signed in, the form's CSRF token
/// theirs, and at least `least` in the workspace (checked in that order).
pub async fn changing(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    csrf: &str,
    least: Role,
) -> Result<Visitor, WebError> {
    let v = visitor(req, state, None).await?;
    v.check_csrf(csrf)?;
    v.require(least)?;
    Ok(v)
}

/// A cookie only the server reads: `HttpOnly`, `SameSite=Strict`, `Secure` when the
/// public URL is https.
pub fn cookie(
    state: &AppState,
    name: &'static str,
    value: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    let secure = state
        .settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieAge::seconds(max_age_secs))
        .finish()
}
