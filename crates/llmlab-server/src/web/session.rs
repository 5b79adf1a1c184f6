//! Browser sessions: the session token in an `HttpOnly`, `SameSite=Strict` cookie (never
//! read by the JSON API), a CSRF token derived from the session for every form, the
//! pre-session cookie whose token the sign-in and sign-up forms carry, and the workspace
//! and time zone a person last chose, remembered in cookies of their own.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::{HttpRequest, web};
use chrono::{DateTime, Utc};
use llmlab_app::{Role, UserId, WorkspaceId, WorkspaceRow};

use crate::auth::{Acting, Credential, Identity, identify};
use llmlab_app::AppState;
use llmlab_app::webhooks::signature::hmac_hex;

use super::WebError;

/// The session token.
pub const SESSION: &str = "llmlab_session";
/// The workspace last chosen.
pub const WORKSPACE: &str = "llmlab_ws";
/// The time zone last chosen.
pub const TIME_ZONE: &str = "llmlab_tz";
/// A random value set when the sign-in or sign-up page is served, before any session.
pub const PRE_SESSION: &str = "llmlab_signin";

/// How long a sign-in page's token stays good: a page left open over a day is sent
/// again from the refusal page, which carries a fresh one.
const PRE_SESSION_SECS: i64 = 24 * 3600;

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
        if same(sent, &self.csrf) {
            Ok(())
        } else {
            Err(stale())
        }
    }

    /// The visitor of a session whose workspace resolved.
    async fn of(state: &web::Data<AppState>, identity: Identity) -> Result<Visitor, WebError> {
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
            llmlab_app::blocking(state, move |s| llmlab_app::workspaces::list(s, user_id)).await?;
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
}

fn stale() -> WebError {
    WebError::Forbidden(
        "this form is out of date (missing or wrong CSRF token); reload the page".into(),
    )
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
fn same(sent: &str, expected: &str) -> bool {
    sent.len() == expected.len()
        && sent
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The CSRF token of the session `jti`: an HMAC only the server can compute, so a page
/// of another site cannot send a form in this person's name.
pub fn csrf_token(state: &AppState, jti: &str) -> String {
    hmac_hex(
        state.settings.jwt_secret.as_bytes(),
        &[b"csrf:", jti.as_bytes()],
    )
}

/// The pre-session value of the sign-in and sign-up pages: the request's own when it
/// has one (a second tab's page keeps the first one's token good), else a new one, with
/// whether it is new (and so has to be set).
pub fn pre_session(req: &HttpRequest) -> (String, bool) {
    match req.cookie(PRE_SESSION).map(|c| c.value().to_string()) {
        Some(v) if is_pre_session(&v) => (v, false),
        _ => (crate::auth::random_token(32), true),
    }
}

fn is_pre_session(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The cookie holding a pre-session value, or removing it once spent (`None`).
pub fn pre_session_cookie(state: &AppState, value: Option<String>) -> Cookie<'static> {
    match value {
        Some(v) => cookie(state, PRE_SESSION, v, PRE_SESSION_SECS),
        None => cookie(state, PRE_SESSION, String::new(), 0),
    }
}

/// The token a sign-in or sign-up form carries: an HMAC of the page's pre-session value,
/// so only a page this server served to this browser has it, and another site's form,
/// which the browser sends without the `SameSite=Strict` cookie, cannot match one.
pub fn sign_in_token(state: &AppState, pre_session: &str) -> String {
    hmac_hex(
        state.settings.jwt_secret.as_bytes(),
        &[b"sign-in:", pre_session.as_bytes()],
    )
}

const NOT_OURS: &str = "This form did not come from a page this server gave this browser \
                        (or the page is out of date), so nothing was done. Send it again \
                        from this page.";

/// `Ok` when `sent` is the token of the request's pre-session cookie.
pub fn check_sign_in_token(req: &HttpRequest, state: &AppState, sent: &str) -> Result<(), String> {
    let ours = req
        .cookie(PRE_SESSION)
        .map(|c| c.value().to_string())
        .filter(|v| is_pre_session(v));
    match ours {
        Some(value) if same(sent, &sign_in_token(state, &value)) => Ok(()),
        _ => Err(NOT_OURS.into()),
    }
}

/// The identity of the request's session cookie, acting in `named` (`None`: their
/// personal workspace); the sign-in page when there is no valid session.
async fn session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    named: Option<WorkspaceId>,
) -> Result<Identity, WebError> {
    let token = req
        .cookie(SESSION)
        .map(|c| c.value().to_string())
        .ok_or(WebError::SignIn)?;
    identify(state, Some(&format!("Bearer {token}")), Ok(named))
        .await
        .map_err(|_| WebError::SignIn)
}

/// The person behind the request's session cookie, in the workspace asked for (`ws` in
/// the query, else the cookie, else their personal one); the login page otherwise.
pub async fn visitor(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    asked: Option<i64>,
) -> Result<Visitor, WebError> {
    let chosen = asked.or_else(|| {
        req.cookie(WORKSPACE)
            .and_then(|c| c.value().parse::<i64>().ok())
    });
    let mut identity = session(req, state, chosen.map(WorkspaceId)).await?;
    if identity.acting.is_err() {
        // A workspace they left or that was deleted: back to their own.
        identity = session(req, state, None).await?;
    }
    Visitor::of(state, identity).await
}

/// The person sending a form made for `workspace`: signed in, the form's CSRF token
/// theirs, and a member of that workspace (checked in that order). Never another
/// workspace in its place: the form acts where its page showed, or not at all.
pub async fn sender(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    workspace: WorkspaceId,
    csrf: &str,
) -> Result<Visitor, WebError> {
    let identity = session(req, state, Some(workspace)).await?;
    let Credential::Session { jti, .. } = &identity.credential else {
        return Err(WebError::SignIn);
    };
    if !same(csrf, &csrf_token(state, jti)) {
        return Err(stale());
    }
    if identity.acting.is_err() {
        return Err(WebError::Forbidden(
            "this form names a workspace you are not a member of; nothing was changed".into(),
        ));
    }
    Visitor::of(state, identity).await
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
