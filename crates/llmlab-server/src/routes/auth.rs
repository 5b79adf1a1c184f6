//! Sign-up, login, logout, me.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{Duration, Utc};
use utoipa_actix_web::service_config::ServiceConfig;

use llmlab_store::{NewUser, StoreError};

use crate::access::Session;
use crate::auth::{Credential, hash_password, verify_password};
use crate::body::JsonBody;
use crate::dto::{AuthResponse, Credentials, UserOut};
use crate::error::ApiError;
use crate::routes::db;
use crate::state::AppState;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(signup)
        .service(login)
        .service(logout)
        .service(me);
}

fn user_out(u: llmlab_store::UserRow) -> UserOut {
    UserOut {
        id: u.id,
        email: u.email,
        created_at: u.created_at.and_utc(),
    }
}

fn session(state: &AppState, user: llmlab_store::UserRow) -> Result<AuthResponse, ApiError> {
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

/// The one normal form of an email: trimmed, Unicode NFKC, lowercase. Signup, login,
/// the attempt limiter and the lookup all compare this form, so no two spellings of one
/// address (`K` and the Kelvin sign `\u{212A}`) count as different subjects anywhere.
pub fn normalize_email(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.trim().nfkc().collect::<String>().to_lowercase()
}

/// A syntactically plausible email (one `@`, something before it, a dot after it), in
/// its normal form.
fn parse_email(raw: &str) -> Result<String, ApiError> {
    let email = normalize_email(raw);
    crate::app::input::check_text("email", &email)?;
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(ApiError::validation(
            "email",
            "must be a valid email address",
        ))
    }
}

/// The client's address, as the attempt limiters count it.
fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
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
    let email = parse_email(&body.0.email)?;
    let password = body.0.password;
    if password.contains('\0') {
        // bcrypt cannot hash a NUL byte.
        return Err(ApiError::validation("password", "must not contain NUL"));
    }
    if password.chars().count() < 8 {
        return Err(ApiError::validation(
            "password",
            "must be at least 8 characters",
        ));
    }
    if password.len() > 72 {
        // bcrypt only reads 72 bytes; longer passwords would be silently truncated.
        return Err(ApiError::validation("password", "must be at most 72 bytes"));
    }
    // Counted before the bcrypt hash, which is the cost an anonymous client could make
    // the server pay in a loop.
    let (limiter, ip) = (state.signup_limiter, client_ip(&req));
    if let Some(limiter) = limiter
        && let Some(secs) = db(&state, move |s| limiter.check(s, &ip, Utc::now())).await?
    {
        return Err(ApiError::rate_limited(
            secs,
            "too many signups from this address; retry later",
        ));
    }
    let hash = hash_password(password, state.settings.bcrypt_cost).await?;
    let user = db(&state, move |s| {
        s.create_user(&NewUser {
            email,
            password_hash: hash,
        })
    })
    .await
    .map_err(|e| {
        if e.status == actix_web::http::StatusCode::CONFLICT {
            ApiError::new(e.status, "email_taken", "this email is already registered")
        } else {
            e
        }
    })?;
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
    let email = normalize_email(&body.0.email);
    let ip = client_ip(&req);
    let (limiter, lookup) = (state.login_limiter, email.clone());
    let (wait, user) = db(&state, move |s| {
        let wait = limiter.check(s, &lookup, &ip, Utc::now())?;
        let user = match wait {
            Some(_) => None,
            None => s.find_user_by_email(&lookup)?,
        };
        Ok::<_, StoreError>((wait, user))
    })
    .await?;
    if let Some(secs) = wait {
        return Err(ApiError::rate_limited(
            secs,
            "too many login attempts; retry later",
        ));
    }
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.dummy_hash.clone());
    let ok = verify_password(body.0.password, hash).await?;
    match user {
        Some(u) if ok => Ok(HttpResponse::Ok().json(session(&state, u)?)),
        _ => Err(ApiError::unauthorized("invalid email or password")),
    }
}

/// Revokes the session token on every server sharing the database.
#[utoipa::path(tag = "auth", responses((status = 204), (status = 401)), security(("bearer" = [])))]
#[post("/auth/logout")]
async fn logout(state: web::Data<AppState>, who: Session) -> Result<HttpResponse, ApiError> {
    let who = who.into_inner();
    match who.credential {
        Credential::Session { jti, expires_at } => {
            let user_id = who.user_id;
            db(&state, move |s| {
                // Revoked tokens are kept only until they would have expired anyway.
                s.purge_revoked_tokens(llmlab_store::now_utc())?;
                s.revoke_token(&jti, user_id, expires_at.naive_utc())
            })
            .await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Credential::ApiKey { .. } => Err(ApiError::validation(
            "authorization",
            "logout ends a session token; delete an API key with DELETE /api/keys/{id}",
        )),
    }
}

/// The current user.
#[utoipa::path(tag = "auth", responses((status = 200, body = UserOut), (status = 401)), security(("bearer" = [])))]
#[get("/auth/me")]
async fn me(state: web::Data<AppState>, who: Session) -> Result<HttpResponse, ApiError> {
    let user = db(&state, move |s| s.find_user(who.user_id))
        .await?
        .ok_or_else(|| ApiError::unauthorized("user no longer exists"))?;
    Ok(HttpResponse::Ok().json(user_out(user)))
}
