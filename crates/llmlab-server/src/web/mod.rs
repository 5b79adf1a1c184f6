//! The dashboard: server-rendered pages (maud, checked at compile time) with charts drawn
//! as SVG on the server, served by the binary alone (no CDN, no build step). Pages call
//! the application layer directly, never the JSON API; they authenticate with a session
//! cookie the API does not accept, and every form carries a CSRF token and the workspace
//! it acts in, checked with its `Origin` before anything is done (`form`).

mod budgets;
mod channels;
mod chart;
mod confirm;
mod form;
mod invitations;
mod overview;
mod pages;
mod pricing;
mod reconciliation;
mod refused;
mod reports;
mod session;
mod settings;
mod view;

pub use view::{count, dollars};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;

use llmlab_app::AppError;

pub use session::csrf_token;

/// Content-Security-Policy of every page: nothing from elsewhere, no inline script or
/// style (the one stylesheet and script are served from `/assets/`).
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                       script-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

/// Registers the pages and their assets.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::home))
        .route("/login", web::get().to(pages::login_form))
        .route("/login", web::post().to(pages::login))
        .route("/signup", web::get().to(pages::signup_form))
        .route("/signup", web::post().to(pages::signup))
        .route("/logout", web::post().to(pages::logout))
        .route("/overview", web::get().to(overview::overview))
        .route("/events", web::get().to(pages::events))
        .route("/budgets", web::get().to(budgets::budgets))
        .route("/budgets", web::post().to(budgets::create_budget))
        .route(
            "/budgets/{id}/delete",
            web::post().to(budgets::delete_budget),
        )
        .route("/explore", web::get().to(reports::explore))
        .route(
            "/explore/{what:events\\.csv|focus\\.csv}",
            web::get().to(reports::download),
        )
        .route("/recommendations", web::get().to(reports::recommendations))
        .route("/pricing", web::get().to(pricing::pricing))
        .route("/pricing/custom", web::post().to(pricing::set_price))
        .route(
            "/reconciliation",
            web::get().to(reconciliation::reconciliation),
        )
        .route("/channels", web::get().to(channels::channels))
        .route("/channels", web::post().to(channels::create))
        .route("/channels/{id}", web::get().to(channels::deliveries))
        .route("/channels/{id}/test", web::post().to(channels::test))
        .route("/channels/{id}/delete", web::post().to(channels::delete))
        .route("/settings", web::get().to(settings::settings))
        .route("/settings/keys", web::post().to(settings::create_key))
        .route(
            "/settings/keys/{id}/revoke",
            web::post().to(settings::revoke_key),
        )
        .route("/settings/members", web::post().to(settings::invite))
        .route(
            "/settings/invitations/{id}/revoke",
            web::post().to(settings::revoke_invitation),
        )
        .route("/invitations", web::get().to(invitations::invitations))
        .route(
            "/invitations/{id}/accept",
            web::post().to(invitations::accept),
        )
        .route(
            "/invitations/{id}/decline",
            web::post().to(invitations::decline),
        )
        .route(
            "/settings/members/{user}/remove",
            web::post().to(settings::remove_member),
        )
        .route(
            "/settings/webhook-secret",
            web::post().to(settings::webhook_secret),
        )
        .route("/email/confirm/{id}/{token}", web::get().to(confirm::show))
        .route(
            "/email/confirm/{id}/{token}",
            web::post().to(confirm::confirm),
        )
        // Forms post to these; reloading the page a form answered asks for them by GET.
        .route("/settings/keys", web::get().to(|r| back_to(r, "/settings")))
        .route(
            "/settings/members",
            web::get().to(|r| back_to(r, "/settings")),
        )
        .route(
            "/settings/webhook-secret",
            web::get().to(|r| back_to(r, "/settings")),
        )
        .route("/pricing/custom", web::get().to(|r| back_to(r, "/pricing")))
        .route(
            "/channels/{id}/test",
            web::get().to(|r| back_to(r, "/channels")),
        )
        .route(
            "/channels/{id}/delete",
            web::get().to(|r| back_to(r, "/channels")),
        )
        .route(
            "/budgets/{id}/delete",
            web::get().to(|r| back_to(r, "/budgets")),
        )
        .route(
            "/settings/keys/{id}/revoke",
            web::get().to(|r| back_to(r, "/settings")),
        )
        .route(
            "/settings/invitations/{id}/revoke",
            web::get().to(|r| back_to(r, "/settings")),
        )
        .route(
            "/settings/members/{user}/remove",
            web::get().to(|r| back_to(r, "/settings")),
        )
        .route(
            "/invitations/{id}/{answer:accept|decline}",
            web::get().to(|r| back_to(r, "/invitations")),
        )
        // Never signs out by GET (a link from elsewhere could): to the overview.
        .route("/logout", web::get().to(|r| back_to(r, "/overview")))
        .route(
            "/favicon.ico",
            web::get().to(|r| back_to(r, "/assets/favicon.svg")),
        )
        .route(
            "/assets/favicon.svg",
            web::get().to(|| asset(FAVICON, "image/svg+xml")),
        )
        .route("/assets/app.css", web::get().to(|| asset(CSS, "text/css")))
        .route(
            "/assets/app.js",
            web::get().to(|| asset(JS, "text/javascript")),
        );
}

const CSS: &str = include_str!("../../assets/app.css");
const FAVICON: &str = include_str!("../../assets/favicon.svg");

/// A redirect (303) to `page`, keeping the request's query (its `ws=`): the page a
/// form's URL stands for when it is loaded again.
async fn back_to(req: HttpRequest, page: &'static str) -> HttpResponse {
    let location = match req.query_string() {
        "" => page.to_string(),
        query => format!("{page}?{query}"),
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
const JS: &str = include_str!("../../assets/app.js");

async fn asset(body: &'static str, kind: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// Why a page is not shown.
#[derive(Debug)]
pub enum WebError {
    /// No valid session: to the sign-in page.
    SignIn,
    /// Not allowed (a role too low, a form without its CSRF token).
    Forbidden(String),
    /// The use case refused or failed, as the API would answer it.
    App(crate::error::ApiError),
}

impl From<AppError> for WebError {
    fn from(e: AppError) -> WebError {
        WebError::App(e.into())
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebError::SignIn => f.write_str("sign in"),
            WebError::Forbidden(m) => f.write_str(m),
            WebError::App(e) => f.write_str(&e.message),
        }
    }
}

impl actix_web::ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn => StatusCode::SEE_OTHER,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::App(e) => e.status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let WebError::SignIn = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish();
        }
        html(
            self.status_code(),
            view::shell(
                "Not possible",
                maud::html! {
                    header {
                        a.brand href="/overview" { "LLMLab" }
                        nav aria-label="Main" {
                            @for (href, label) in view::PAGES { a href=(href) { (label) } }
                        }
                    }
                    main {
                        h1 { "Not possible" }
                        (view::notice(&self.to_string()))
                        p { "Use your browser's Back button to return to the form with what you typed, or go to a page above." }
                    }
                },
            ),
        )
    }
}

/// An HTML page with the dashboard's security headers.
pub fn html(status: StatusCode, page: Markup) -> HttpResponse {
    let mut response = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.into_string());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
