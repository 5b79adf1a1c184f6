//! The pages: sign in and up, the overview, events and budgets. Each reads through the
//! application layer and checks the visitor's role itself before any change.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use llmlab_engine::Usd;

use llmlab_app::{EventCursor, EventFilter};
use llmlab_engine::period::Zone;
use maud::{Markup, html};
use serde::Deserialize;

use super::chart;
use super::form::{Anonymous, SessionForm, hidden};
use super::session::{self, Visitor, cookie, visitor};
use super::view::{count, dollars, exact, notice, page, raw, shell};
use super::{WebError, html as respond};
use crate::dto::Credentials;
use llmlab_app::AppState;
use llmlab_app::accounts::Attempt;
use llmlab_app::ledger::PriceRef;
use llmlab_app::{App, AppError, Role, UserRow, accounts, blocking, blocking_read, reports};

pub(super) type Page = Result<HttpResponse, WebError>;

/// What a page may be asked for in its query string.
#[derive(Debug, Default, Deserialize)]
pub struct View {
    pub(super) ws: Option<i64>,
    tz: Option<String>,
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

/// This month in the visitor's time zone: spend, calls, the change against last month,
/// the daily chart with the daily budgets drawn on it, top models and providers.
pub async fn overview(req: HttpRequest, state: web::Data<AppState>, q: web::Query<View>) -> Page {
    let v = visitor(&req, &state, q.ws).await?;
    let asked = q.tz.clone().or_else(|| {
        req.cookie(session::TIME_ZONE)
            .map(|c| c.value().to_string())
    });
    let zone = asked
        .as_deref()
        .and_then(|z| Zone::parse(z).ok())
        .unwrap_or(Zone::UTC);
    let ws = v.workspace();
    let o = blocking_read(&state, move |s| reports::overview(s, ws, zone, Utc::now())).await?;
    let total = o.series.total();
    let change = (o.previous.cost.nanos() > 0).then(|| {
        let delta = total.cost.nanos() as f64 - o.previous.cost.nanos() as f64;
        delta / o.previous.cost.nanos() as f64 * 100.0
    });
    let labels: Vec<String> = o.series.buckets.iter().map(|b| b.label.clone()).collect();
    let lines: Vec<(String, Usd)> = o
        .budgets
        .iter()
        .filter(|b| b.budget.spec.period == "daily")
        .map(|b| {
            (
                b.budget.spec.name.clone(),
                Usd::from_nanos(b.budget.spec.amount_nanos),
            )
        })
        .collect();
    let svg = chart::stacked(
        &labels,
        &o.stacks,
        &lines,
        &o.anomalies,
        "Daily spend this month, by provider",
    );
    let body = html! {
        h1 { "Overview" }
        @if o.no_events { (first_steps(&v)) }
        form.inline method="get" action="/overview" {
            label for="tz" { "Time zone" }
            input #tz name="tz" value=(zone.name()) list="zones";
            datalist #zones { @for z in ["UTC", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"] { option value=(z) {} } }
            button type="submit" { "Show" }
        }
        section.cards aria-label="This month" {
            div.card { h2 { "Spend this month" } p.big #total { (dollars(total.cost)) } }
            div.card { h2 { "Calls" } p.big { (count(total.calls)) } }
            div.card {
                h2 { "Against last month" }
                p.big { @match change { Some(c) => (format!("{c:+.1} %")), None => "—" } }
                p.small { "last month: " (dollars(o.previous.cost)) }
            }
            @if o.series.unpriced_calls > 0 {
                div.card.warn { h2 { "Unpriced calls" } p.big { (o.series.unpriced_calls) } p.small { "models without a price; see the pricing docs" } }
            }
        }
        section aria-labelledby="daily" {
            h2 #daily { "Daily spend" }
            (raw(svg))
            ul.legend {
                @for (k, s) in o.stacks.iter().enumerate() { li { span class=(format!("swatch s{}", k % 6)) {} (s.name) } }
                @if !o.anomalies.is_empty() { li { span.swatch.anomaly {} "anomaly (see Recommendations)" } }
            }
            details {
                summary { "The same as a table" }
                table {
                    thead { tr { th scope="col" { "Day" } th scope="col" { "Spend" } th scope="col" { "Calls" } } }
                    tbody { @for b in &o.series.buckets { tr { td { (b.label) } td { (dollars(b.totals.cost)) } td { (count(b.totals.calls)) } } } }
                }
            }
        }
        div.columns {
            section aria-labelledby="models" {
                h2 #models { "Top models" }
                table {
                    thead { tr { th scope="col" { "Model" } th scope="col" { "Spend" } th scope="col" { "Calls" } } }
                    tbody { @for m in &o.models { tr { td { (m.provider) "/" (m.model) } td { (dollars(Usd::from_nanos(m.sums.cost_nanos))) } td { (m.sums.calls) } } } }
                }
            }
            section aria-labelledby="providers" {
                h2 #providers { "Spend by provider" }
                table {
                    thead { tr { th scope="col" { "Provider" } th scope="col" { "Spend" } th scope="col" { "Calls" } } }
                    tbody { @for p in &o.providers { tr { td { (p.provider) } td { (dollars(Usd::from_nanos(p.sums.cost_nanos))) } td { (p.sums.calls) } } } }
                }
            }
        }
    };
    let shown = page("Overview", &v, "/overview", body);
    Ok(remembered(&state, &v, Some(&zone), shown))
}

/// What a workspace without events does next: a key (created here, shown once on the
/// page that follows with the command that sends an event with it), then an event.
fn first_steps(v: &Visitor) -> Markup {
    html! {
        section.notice aria-labelledby="first-steps" {
            h2 #first-steps { "No events in this workspace yet" }
            @if v.may(Role::Member) {
                ol {
                    li { "Create an API key for this workspace: "
                        form.inline method="post" action="/settings/keys" {
                            (hidden(v))
                            input type="hidden" name="name" value="first key";
                            button type="submit" { "Create a key" }
                        }
                    }
                    li { "Send an event with it: the next page shows the key once, with the command to paste." }
                }
            } @else {
                p { "A member or admin of this workspace creates its API keys; events sent with them appear here." }
            }
        }
    }
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
        } => format!("catalog: {model} from {effective_from}"),
        PriceRef::CustomPricing { revision: Some(n) } => format!("custom price, revision {n}"),
        PriceRef::CustomPricing { revision: None } => "custom price".into(),
        PriceRef::Client => "sent by the client".into(),
        PriceRef::Unpriced => "no price yet".into(),
    }
}
