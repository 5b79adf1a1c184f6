//! Route modules; each exposes `config` registering its handlers (and their OpenAPI).

use actix_web::HttpResponseBuilder;
use chrono::{DateTime, Utc};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;

pub mod auth;
pub mod budgets;
pub mod channels;
pub mod commitments;
pub mod contracts;
pub mod costs;
pub mod events;
pub mod fx;
pub mod health;
pub mod invitations;
pub mod keys;
pub mod ledger;
pub mod otlp;
pub mod pricing;
pub mod recommendations;
pub mod reconciliation;
pub mod workspaces;

/// Every `/api` route.
pub fn config(cfg: &mut ServiceConfig) {
    health::config(cfg);
    auth::config(cfg);
    keys::config(cfg);
    events::config(cfg);
    costs::config(cfg);
    budgets::config(cfg);
    channels::config(cfg);
    commitments::config(cfg);
    contracts::config(cfg);
    fx::config(cfg);
    reconciliation::config(cfg);
    pricing::config(cfg);
    ledger::config(cfg);
    recommendations::config(cfg);
    workspaces::config(cfg);
    invitations::config(cfg);
}

/// An id in a request path. A segment that is not a number names nothing, so it answers
/// the same 404 as an id that does not exist, on every route.
pub(crate) trait PathId: Sized {
    /// What the 404 says was not found.
    const WHAT: &'static str;
    /// The id with this value.
    fn new(raw: i64) -> Self;
}

macro_rules! path_ids {
    ($($id:ident => $what:literal),* $(,)?) => {
        $(impl PathId for llmlab_app::$id {
            const WHAT: &'static str = $what;
            fn new(raw: i64) -> Self {
                Self(raw)
            }
        })*
    };
}

path_ids!(
    BudgetId => "budget",
    ChannelId => "channel",
    ApiKeyId => "API key",
    WorkspaceId => "workspace",
    UserId => "member",
    InvitationId => "invitation",
);

/// The id a path segment names, or the 404 of [`PathId`].
pub(crate) fn path_id<T: PathId>(raw: &str) -> Result<T, ApiError> {
    raw.parse()
        .map(T::new)
        .map_err(|_| ApiError::not_found(T::WHAT))
}

/// The head of a CSV download saved as `filename`. With retention on, the per-event
/// detail before `retained_since` is gone (the reports keep its totals), so rows priced
/// per event are complete only from then: `X-LLMLab-Retained-Since` says so.
pub(crate) fn csv_download(
    filename: &str,
    retained_since: Option<DateTime<Utc>>,
) -> HttpResponseBuilder {
    let mut response = actix_web::HttpResponse::Ok();
    if let Some(since) = retained_since {
        response.insert_header(("X-LLMLab-Retained-Since", since.to_rfc3339()));
    }
    response
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ));
    response
}
