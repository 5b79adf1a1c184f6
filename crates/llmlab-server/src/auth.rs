//! The middleware that authenticates every request before any extractor reads its body:
//! the credential read off `Authorization: Bearer`, the workspace off
//! [`WORKSPACE_HEADER`], and who that is found by `llmlab_app::auth::identify`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use llmlab_app::AppState;

use llmlab_app::WorkspaceId;

use crate::error::ApiError;

pub use llmlab_app::auth::{
    API_KEY_PREFIX, Acting, Credential, Identity, JwtKeys, LoginLimiter, SignupLimiter, Unresolved,
    hash_api_key, new_api_key, random_token,
};

/// The request header a session names its workspace with (default: the personal one).
pub const WORKSPACE_HEADER: &str = "X-LLMLab-Workspace";

/// Paths reachable without a credential.
fn is_public(method: &Method, path: &str) -> bool {
    matches!(
        path,
        "/api/health"
            | "/api/health/live"
            | "/api/health/ready"
            | "/api/auth/signup"
            | "/api/auth/login"
            | "/api/openapi.json"
            | "/metrics"
    ) || path == "/docs"
        || path.starts_with("/docs/")
        || (method == Method::GET && path == "/api/pricing")
        || method == Method::OPTIONS
        // The dashboard's pages authenticate with their own cookie (see `web`); the
        // JSON API and the OTLP receiver never read it.
        || !(path == "/api" || path.starts_with("/api/") || path.starts_with("/v1/"))
}

/// Authenticates every non-public request before routing and extraction, so a request
/// without valid credentials gets 401 whatever its body.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // A request no handler serves (an unknown method on a known path, an unknown path)
    // goes straight to the 405/404 answer: there is nothing to authenticate for.
    // (Were a served route ever judged otherwise, its handler would still refuse: the
    // access extractors find no identity and answer 401.)
    let served = match (
        req.app_data::<web::Data<crate::startup::RouteTable>>(),
        crate::metrics::AskedRoute::of(&req),
    ) {
        (Some(routes), Some(pattern)) => routes
            .methods(&pattern)
            .is_none_or(|methods| methods.contains(&req.method().as_str())),
        (_, None) => false,
        (None, Some(_)) => true,
    };
    if served && !is_public(req.method(), req.path()) {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| ApiError::internal("application state missing"))?;
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let workspace = workspace_header(&req);
        let identity = identify(&state, header.as_deref(), workspace).await?;
        req.extensions_mut().insert(identity);
    }
    next.call(req).await
}

/// The workspace named by [`WORKSPACE_HEADER`], if any.
fn workspace_header(req: &ServiceRequest) -> Result<Option<WorkspaceId>, Unresolved> {
    let Some(value) = req.headers().get(WORKSPACE_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|id| *id > 0)
        .map(|id| Some(WorkspaceId(id)))
        .ok_or(Unresolved::BadHeader)
}

/// Who the `Authorization` header's bearer credential is, acting in the workspace
/// `named`: 401 without one, or with one that is malformed, expired or revoked.
pub(crate) async fn identify(
    state: &web::Data<AppState>,
    header: Option<&str>,
    named: Result<Option<WorkspaceId>, Unresolved>,
) -> Result<Identity, ApiError> {
    let header = header.ok_or_else(|| {
        ApiError::unauthorized("missing credentials: send Authorization: Bearer <token>")
    })?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("malformed Authorization header: expected 'Bearer <token>'")
        })?;
    Ok(llmlab_app::auth::identify(state, token, named).await?)
}
