//! The pages: sign in and up, and events. Each reads through the
//! application layer and checks the visitor's role itself before any change.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration};
use llmlab_engine::Usd;

use llmlab_app::{EventCursor, EventFilter};
use llmlab_engine::period::Zone;
use maud::{Markup, html};
use serde::Deserialize;

use super::form::{Anonymous, SessionForm};
use super::session::{self, Visitor, cookie, visitor};
use super::view::{count, exact, notice, page, shell};
use super::{WebError, html as respond};
use crate::dto::Credentials;
use llmlab_app::AppState;
use llmlab_app::accounts::Attempt;
use llmlab_app::ledger::PriceRef;
use llmlab_app::{App, AppError, UserRow, accounts, blocking, blocking_read};

pub(super) type Page = Result<HttpResponse, WebError>;

/// What a page may be asked for in its query string.
#[derive(Debug, Default, Deserialize)]
pub struct View {
    pub(super) ws: Option<i64>,
    cursor: Option<String>,
}

pub async fn home(req: HttpRequest) -> HttpResponse {
    let to = if req.cookie(session::SESSION).is_some() {
        "/overview"
    } else {
        "/login"
    };
    see_other(to)
}

pub(super) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// The sign-in or the sign-up page.
struct AuthPage {
    title: &'static str,
    action: &'static str,
}

const SIGN_IN: AuthPage = AuthPage {
    title: "Sign in",
    action: "/login",
};
const SIGN_UP: AuthPage = AuthPage {
    title: "Sign up",
    action: "/signup",
};

fn auth_page(kind: &AuthPage, token: &str, problem: Option<&str>) -> Markup {
    let AuthPage { title, action } = *kind;
    let (other, other_label) = if action == SIGN_IN.action {
        (SIGN_UP.action, "No account yet? Sign up")
    } else {
        (SIGN_IN.action, "Have an account? Sign in")
    };
    shell(
        title,
        html! {
            main.narrow {
                h1 { (title) }
                @if let Some(p) = problem { (notice(p)) }
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(token);
                    label for="email" { "Email" }
                    input #email type="email" name="email" autocomplete="email" required;
                    label for="password" { "Password (at least 8 characters)" }
                    input #password type="password" name="password" minlength="8" required
                        autocomplete=(if action == SIGN_IN.action { "current-password" } else { "new-password" });
                    button type="submit" { (title) }
                }
                p { a href=(other) { (other_label) } }
            }
        },
    )
}

/// The sign-in or sign-up page with `problem` above its form, whose token is that of
/// the browser's pre-session cookie (set here when it has none).
fn auth_response(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    kind: &AuthPage,
    problem: Option<&str>,
) -> HttpResponse {
    let (pre, new) = session::pre_session(req);
    let token = session::sign_in_token(state, &pre);
    let mut response = respond(status, auth_page(kind, &token, problem));
    if new {
        let _ = response.add_cookie(&session::pre_session_cookie(state, Some(pre)));
    }
    response
}

pub async fn login_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    auth_response(&req, &state, StatusCode::OK, &SIGN_IN, None)
}

pub async fn signup_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    auth_response(&req, &state, StatusCode::OK, &SIGN_UP, None)
}

/// Signs in with the same rules and limits as the API, once the form is known to come
/// from this server's page (no password is hashed for a form that does not).
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Anonymous<Credentials>,
) -> Page {
    enter(&req, &state, form, &SIGN_IN, accounts::log_in).await
}

/// Signs up with the same rules and limits as the API, once the form is known to come
/// from this server's page.
pub async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Anonymous<Credentials>,
) -> Page {
    enter(&req, &state, form, &SIGN_UP, accounts::sign_up).await
}

/// `account` (signing in or up) with the form's credentials, only once the form is
/// admitted, then the session it opens; else `kind`'s page again, saying why.
async fn enter(
    req: &HttpRequest,
    state: &App,
    form: Anonymous<Credentials>,
    kind: &AuthPage,
    account: impl AsyncFnOnce(&App, Attempt) -> Result<UserRow, AppError>,
) -> Page {
    let credentials = match form.admitted(req, state) {
        Ok(c) => c,
        Err(why) => return Ok(refused(req, state, kind, &why)),
    };
    let user = account(state, credentials.attempt(req)).await;
    start_session(req, state, user, kind)
}

/// A sign-in or sign-up form from elsewhere: 403, no session, and the page again (with
/// a form of this server's own) saying why.
fn refused(req: &HttpRequest, state: &AppState, kind: &AuthPage, why: &str) -> HttpResponse {
    auth_response(req, state, StatusCode::FORBIDDEN, kind, Some(why))
}

fn start_session(
    req: &HttpRequest,
    state: &AppState,
    user: Result<UserRow, AppError>,
    kind: &AuthPage,
) -> Page {
    let user = match user {
        Ok(u) => u,
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            return Ok(auth_response(
                req,
                state,
                api.status,
                kind,
                Some(&api.message),
            ));
        }
    };
    let ttl = Duration::minutes(state.settings.token_ttl_minutes);
    let (token, _) = state.jwt.issue(user.id, ttl)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/overview"))
        .cookie(cookie(state, session::SESSION, token, ttl.num_seconds()))
        // Spent: the next sign-in page draws a new one.
        .cookie(session::pre_session_cookie(state, None))
        .finish())
}

/// Ends the session like `POST /api/auth/logout`.
pub async fn logout(state: web::Data<AppState>, form: SessionForm) -> Page {
    let v = form.visitor;
    let (user, jti, expires) = (v.user_id, v.jti.clone(), v.expires_at);
    blocking(&state, move |s| accounts::log_out(s, user, &jti, expires)).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .cookie(cookie(&state, session::SESSION, String::new(), 0))
        .finish())
}

/// A page response that also remembers the workspace (and time zone) shown.
pub(super) fn remembered(
    state: &AppState,
    v: &Visitor,
    tz: Option<&Zone>,
    page: Markup,
) -> HttpResponse {
    let year = 365 * 24 * 3600;
    let mut response = respond(StatusCode::OK, page);
    let ws = cookie(
        state,
        session::WORKSPACE,
        v.workspace().get().to_string(),
        year,
    );
    let _ = response.add_cookie(&ws);
    if let Some(zone) = tz {
        let _ = response.add_cookie(&cookie(state, session::TIME_ZONE, zone.name().into(), year));
    }
    response
}

/// The newest events with their exact cost and the price behind it, 50 a page.
pub async fn events(req: HttpRequest, state: web::Data<AppState>, q: web::Query<View>) -> Page {
    let v = visitor(&req, &state, q.ws).await?;
    let cursor = q.cursor.as_deref().and_then(EventCursor::decode);
    let ws = v.workspace();
    let (found, retained_since) = blocking_read(&state, move |s| {
        llmlab_app::retention::event_page(s, ws, &EventFilter::default(), cursor, 50)
    })
    .await?;
    let body = html! {
        h1 { "Events" }
        @if let Some(since) = retained_since {
            p.notice { "Events before " (since.format("%Y-%m-%d %H:%M UTC")) " have been deleted by retention; the reports keep their totals." }
        }
        @if found.events.is_empty() { p { "No events yet. Send one with " code { "POST /api/events/track" } "." } }
        table.events {
            thead { tr {
                th scope="col" { "When (UTC)" } th scope="col" { "Model" } th scope="col" { "Input" }
                th scope="col" { "Output" } th scope="col" { "Cost" } th scope="col" { "Price" }
            } }
            tbody {
                @for e in &found.events {
                    tr {
                        td { (DateTime::from_timestamp_micros(e.ts).unwrap_or_default().format("%Y-%m-%d %H:%M:%S")) }
                        td { (e.provider) "/" (e.model) }
                        td { (count(u64::try_from(e.tokens.input_tokens).unwrap_or(0))) }
                        td { (count(u64::try_from(e.tokens.output_tokens).unwrap_or(0))) }
                        td { (exact(Usd::from_nanos(e.cost_nanos))) }
                        td { (price_text(&PriceRef::of(e))) }
                    }
                }
            }
        }
        @if let Some(next) = found.next_cursor {
            p { a href=(format!("/events?cursor={}", next.encode())) { "Older events" } }
        }
    };
    Ok(remembered(
        &state,
        &v,
        None,
        page("Events", &v, "/events", body),
    ))
}

fn price_text(r: &PriceRef) -> String {
    match r {
        PriceRef::Catalog {
            model,
            effective_from,
            contract: None,
        } => format!("catalog: {model} from {effective_from}"),
        PriceRef::Catalog {
            model,
            effective_from,
            contract: Some(c),
        } => format!(
            "catalog: {model} from {effective_from}, {}% off (contract {})",
            c.discount, c.id
        ),
        PriceRef::CustomPricing { revision: Some(n) } => format!("custom price, revision {n}"),
        PriceRef::CustomPricing { revision: None } => "custom price".into(),
        PriceRef::Client => "sent by the client".into(),
        PriceRef::Unpriced => "no price yet".into(),
    }
}
