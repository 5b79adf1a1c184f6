//! What the dashboard's forms carry and what the server checks before it does anything
//! with one: that the browser sent it from this server's own page (`Origin`), the
//! session's CSRF token, and the workspace the page showed, where the person's
//! membership and role are then checked (not the workspace a cookie last named, which
//! another tab may have changed since).
//!
//! Every form draws its hidden fields with [`hidden`], and every handler of a form takes
//! it as [`Submitted`] (or [`SessionForm`] to sign out), which refuses a form without
//! them: a new form cannot act in the wrong workspace by forgetting a field.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use llmlab_app::WorkspaceId;
use maud::{Markup, html};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::WebError;
use super::session::{self, Visitor, check_sign_in_token, cookie, sender, visitor};
use crate::access::Requirement;
use crate::auth::Identity;
use crate::body::FormBody;
use crate::error::{ApiError, ErrorCode};
use llmlab_app::{AppError, AppState};

/// The hidden fields of every form on a page: the session's CSRF token and the workspace
/// the page shows.
pub fn hidden(v: &Visitor) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(v.csrf);
        input type="hidden" name="ws" value=(v.workspace().get());
    }
}

/// The fields [`hidden`] draws, as a form sends them back.
#[derive(Debug, Deserialize)]
struct Marks {
    /// Absent is refused like wrong (403), not as a malformed form.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ws: Option<String>,
}

impl Marks {
    fn workspace(&self) -> Result<WorkspaceId, WebError> {
        self.ws
            .as_deref()
            .and_then(|w| w.trim().parse::<i64>().ok())
            .filter(|w| *w > 0)
            .map(WorkspaceId)
            .ok_or_else(|| {
                WebError::Forbidden(
                    "this form does not say which workspace it was made for; reload the page \
                     and send it again"
                        .into(),
                )
            })
    }
}

/// A form without fields of its own (a delete, a revoke).
#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// A form that changes something in a workspace, sent from this server's page by a
/// person whose session's token it carries, with at least `R`'s role in the workspace
/// it names; `T` is its own fields. Anything else is refused before the handler runs:
/// a foreign `Origin` or a missing or wrong token or workspace with the 403 page, no
/// session with the sign-in page.
pub struct Submitted<R, T = NoFields> {
    /// The person, acting in the form's workspace.
    pub visitor: Visitor,
    /// The form's own fields.
    pub fields: T,
    need: PhantomData<fn() -> R>,
}

impl<R, T> Submitted<R, T> {
    /// The person and the form's own fields.
    pub fn into_parts(self) -> (Visitor, T) {
        (self.visitor, self.fields)
    }
}

impl<R: Requirement, T: DeserializeOwned + 'static> FromRequest for Submitted<R, T> {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = from_own_page(req, payload);
        Box::pin(async move {
            let OwnPage {
                req,
                state,
                bytes,
                marks,
            } = form.await?;
            let workspace = marks.workspace()?;
            let visitor = sender(&req, &state, workspace, &marks.csrf).await?;
            visitor.require(R::NEED.role)?;
            Ok(Submitted {
                visitor,
                fields: parse(&bytes)?,
                need: PhantomData,
            })
        })
    }
}

/// A form's body once [`same_origin`] has admitted it, with the hidden fields every form
/// carries.
struct OwnPage {
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
    marks: Marks,
}

/// Reads the form of `req` as [`OwnPage`]: a foreign `Origin` is refused (403) before the
/// body is read.
fn from_own_page(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<OwnPage, WebError>> + use<> {
    let req = req.clone();
    let body = FormBody::from_request(&req, payload);
    async move {
        let state = app_state(&req)?;
        same_origin(&req, &state).map_err(WebError::Forbidden)?;
        let FormBody(bytes) = body.await.map_err(WebError::App)?;
        let marks: Marks = parse(&bytes)?;
        Ok(OwnPage {
            req,
            state,
            bytes,
            marks,
        })
    }
}

/// A form that acts on the session itself, in no workspace: signing out, which a person
/// removed from the workspace their page showed can still do. Its origin and token are
/// checked like any other form's.
pub struct SessionForm {
    /// The person.
    pub visitor: Visitor,
}

impl FromRequest for SessionForm {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = from_own_page(req, payload);
        Box::pin(async move {
            let page = form.await?;
            let visitor = visitor(&page.req, &page.state, None).await?;
            visitor.check_csrf(&page.marks.csrf)?;
            Ok(SessionForm { visitor })
        })
    }
}

/// A form sent before there is a session (sign-in, sign-up): its fields and the token
/// its page carried, to be checked with [`Anonymous::admitted`] before any work.
pub struct Anonymous<T> {
    token: String,
    fields: T,
}

impl<T> Anonymous<T> {
    /// The fields, when the form came from this server's page in this browser (its
    /// `Origin` and the token of the pre-session cookie); else why not, for the page.
    pub fn admitted(self, req: &HttpRequest, state: &AppState) -> Result<T, String> {
        same_origin(req, state)?;
        check_sign_in_token(req, state, &self.token)?;
        Ok(self.fields)
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Anonymous<T> {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = FormBody::from_request(req, payload);
        Box::pin(async move {
            let FormBody(bytes) = body.await.map_err(WebError::App)?;
            let marks: Marks = parse(&bytes)?;
            Ok(Anonymous {
                token: marks.csrf,
                fields: parse(&bytes)?,
            })
        })
    }
}

/// After a form: to `to`, which then shows the workspace the form acted in.
pub fn done(state: &AppState, v: &Visitor, to: &str) -> HttpResponse {
    let year = 365 * 24 * 3600;
    let shown = v.workspace().get().to_string();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .cookie(cookie(state, session::WORKSPACE, shown, year))
        .finish()
}

/// Runs `act` as the form's sender in its workspace, then on to `to` (see [`done`]).
pub async fn act_then_back<R, T, F>(
    state: &AppState,
    form: Submitted<R>,
    to: &str,
    act: impl FnOnce(WorkspaceId, Identity) -> F,
) -> Result<HttpResponse, WebError>
where
    F: Future<Output = Result<T, AppError>>,
{
    let v = form.visitor;
    act(v.workspace(), v.identity.clone()).await?;
    Ok(done(state, &v, to))
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, WebError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| WebError::App(ApiError::internal("application state missing")))
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WebError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| {
        WebError::App(ApiError::bad_request(
            ErrorCode::MalformedBody,
            format!("the form is malformed: {e}"),
        ))
    })
}

/// `Ok` when the request's `Origin` is this server's own (see [`is_own`]), or absent (a
/// browser too old to send one, or no browser: the token must match all the same).
pub fn same_origin(req: &HttpRequest, state: &AppState) -> Result<(), String> {
    let Some(sent) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let public = state.settings.public_url.as_deref();
    if sent.to_str().is_ok_and(|o| is_own(o, host, public)) {
        Ok(())
    } else {
        Err(
            "This form was sent from another site, so nothing was done. Sign-in and \
             changes are accepted only from this server's own pages."
                .into(),
        )
    }
}

/// Whether `origin` is this server's: `LLMLAB_PUBLIC_URL`'s origin when set (behind a
/// proxy, the address people use; the `Host` the proxy forwards is not trusted for it),
/// else the host and port the request was sent to (`Host`) in the scheme `origin`
/// names, since behind TLS termination the server cannot see the scheme itself.
/// `null` (a sandboxed frame, a redirect from elsewhere) is nobody's.
fn is_own(origin: &str, host: Option<&str>, public_url: Option<&str>) -> bool {
    let Some(sent) = url::Url::parse(origin)
        .ok()
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
    else {
        return false;
    };
    let own = match (public_url, host, &sent) {
        (Some(public), _, _) => url::Url::parse(public).ok(),
        (None, Some(host), url::Origin::Tuple(scheme, _, _)) => {
            url::Url::parse(&format!("{scheme}://{host}")).ok()
        }
        _ => None,
    };
    own.is_some_and(|own| own.origin() == sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_names_a_positive_workspace_id() {
        let marks = |ws: Option<&str>| Marks {
            csrf: String::new(),
            ws: ws.map(str::to_string),
        };
        assert_eq!(marks(Some("7")).workspace().ok(), Some(WorkspaceId(7)));
        for bad in [
            None,
            Some(""),
            Some("0"),
            Some("-3"),
            Some("seven"),
            Some("7.0"),
        ] {
            assert!(marks(bad).workspace().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_origin_is_ours_when_it_names_where_people_reach_the_server() {
        let host = Some("llmlab.example.com:8443");
        for (origin, host, public, ours) in [
            ("https://llmlab.example.com:8443", host, None, true),
            ("http://llmlab.example.com:8443", host, None, true),
            ("https://LLMLab.Example.com:8443", host, None, true),
            (
                "https://llmlab.example.com",
                Some("llmlab.example.com:443"),
                None,
                true,
            ),
            ("http://[::1]:8000", Some("[::1]:8000"), None, true),
            ("https://llmlab.example.com", host, None, false),
            ("https://evil.example", host, None, false),
            (
                "https://llmlab.example.com.evil.example:8443",
                host,
                None,
                false,
            ),
            ("null", host, None, false),
            ("", host, None, false),
            ("file:///etc/passwd", host, None, false),
            ("https://llmlab.example.com:8443", None, None, false),
            // Behind a proxy, only the public URL's origin (scheme included).
            (
                "https://llmlab.example.com",
                Some("127.0.0.1:8000"),
                Some("https://llmlab.example.com"),
                true,
            ),
            (
                "https://llmlab.example.com",
                None,
                Some("https://llmlab.example.com/llmlab"),
                true,
            ),
            (
                "http://llmlab.example.com",
                Some("llmlab.example.com"),
                Some("https://llmlab.example.com"),
                false,
            ),
            (
                "http://127.0.0.1:8000",
                Some("127.0.0.1:8000"),
                Some("https://llmlab.example.com"),
                false,
            ),
        ] {
            assert_eq!(
                is_own(origin, host, public),
                ours,
                "{origin} {host:?} {public:?}"
            );
        }
    }
}
