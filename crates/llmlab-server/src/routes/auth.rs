//! Sign-up, login, logout, me.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Duration;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::Person;
use crate::body::JsonBody;
use crate::dto::{AuthResponse, Credentials, MeOut, UserOut, WorkspaceOut};
use crate::error::ApiError;
use llmlab_app::AppState;
use llmlab_app::accounts;
use llmlab_app::blocking;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(signup)
        .service(login)
        .service(logout)
        .service(me);
}

fn user_out(u: llmlab_app::UserRow) -> UserOut {
    UserOut {
        id: u.id.get(),
        email: u.email,
        created_at: u.created_at.and_utc(),
    }
}

fn session(state: &AppState, user: llmlab_app::UserRow) -> Result<AuthResponse, ApiError> {
    let (token, expires_at) = state
        .jwt
        .issue(user.id, Duration::minutes(state.settings.token_ttl_minutes))?;
    Ok(AuthResponse {
        token,
        token_type: "bearer",
        expires_at,
        user: user_out(user),
    })
}

/// Creates an account and returns a session.
#[utoipa::path(tag = "auth", request_body = Credentials, responses(
    (status = 201, body = AuthResponse), (status = 409, description = "Email already registered"),
    (status = 422, description = "Invalid email or password shorter than 8")))]
#[post("/auth/signup")]
async fn signup(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let user = accounts::sign_up(&state, body.0.attempt(&req)).await?;
    Ok(HttpResponse::Created().json(session(&state, user)?))
}

/// Exchanges email and password for a session.
#[utoipa::path(tag = "auth", request_body = Credentials, responses(
    (status = 200, body = AuthResponse), (status = 401, description = "Wrong email or password"),
    (status = 429, description = "Too many attempts")))]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let user = accounts::log_in(&state, body.0.attempt(&req)).await?;
    Ok(HttpResponse::Ok().json(session(&state, user)?))
}

/// Revokes the session token on every server sharing the database.
#[utoipa::path(tag = "auth", responses((status = 204), (status = 401)), security(("bearer" = [])))]
#[post("/auth/logout")]
async fn logout(state: web::Data<AppState>, who: Person) -> Result<HttpResponse, ApiError> {
    blocking(&state, move |s| {
        accounts::log_out(s, who.user_id, &who.jti, who.expires_at)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The current user.
#[utoipa::path(tag = "auth", responses((status = 200, body = MeOut), (status = 401)), security(("bearer" = [])))]
#[get("/auth/me")]
async fn me(state: web::Data<AppState>, who: Person) -> Result<HttpResponse, ApiError> {
    let (user, workspaces) = blocking(&state, move |s| accounts::me(s, who.user_id)).await?;
    let user = user.ok_or_else(|| ApiError::unauthorized("user no longer exists"))?;
    let UserOut {
        id,
        email,
        created_at,
    } = user_out(user);
    Ok(HttpResponse::Ok().json(MeOut {
        id,
        email,
        created_at,
        workspaces: workspaces.into_iter().map(WorkspaceOut::from).collect(),
    }))
}
