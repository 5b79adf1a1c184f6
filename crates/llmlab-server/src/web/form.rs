//! What the dashboard checks of a form before it does anything with one: that the
//! browser sent it from this server's own page (`Origin`), and for the sign-in and
//! sign-up forms, sent before there is a session, the token of the page's pre-session
//! cookie.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::WebError;
use super::session::check_sign_in_token;
use crate::body::FormBody;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The token a form sends back.
#[derive(Debug, Deserialize)]
struct Marks {
    /// Absent is refused like wrong (403), not as a malformed form.
    #[serde(default)]
    csrf: String,
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
