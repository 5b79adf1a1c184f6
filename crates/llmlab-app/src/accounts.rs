//! Accounts: sign-up (rate-limited per client address before any password is hashed),
//! login (attempt limits per email and address, the same work for unknown emails), and
//! the one normal form of an email every step compares.

use chrono::{DateTime, Utc};
use llmlab_store::{NewUser, StoreError, UserRow};

use crate::{App, AppError, blocking};

/// The one normal form of an email: trimmed, Unicode NFKC, lowercase. Signup, login,
/// the attempt limiter and the lookup all compare this form, so no two spellings of one
/// address (`K` and the Kelvin sign `\u{212A}`) count as different subjects anywhere.
pub fn normalize_email(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.trim().nfkc().collect::<String>().to_lowercase()
}

/// A syntactically plausible email (one `@`, something before it, a dot after it), in
/// its normal form.
pub fn parse_email(raw: &str) -> Result<String, AppError> {
    let email = normalize_email(raw);
    crate::input::check_text("email", &email)?;
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
        Err(AppError::invalid("email", "must be a valid email address"))
    }
}

/// The password rules bcrypt imposes, checked before any hashing.
fn check_password(password: &str) -> Result<(), AppError> {
    if password.contains('\0') {
        // bcrypt cannot hash a NUL byte.
        return Err(AppError::invalid("password", "must not contain NUL"));
    }
    if password.chars().count() < 8 {
        return Err(AppError::invalid(
            "password",
            "must be at least 8 characters",
        ));
    }
    if password.len() > 72 {
        // bcrypt only reads 72 bytes; longer passwords would be silently truncated.
        return Err(AppError::invalid("password", "must be at most 72 bytes"));
    }
    Ok(())
}

/// bcrypt (or any CPU-heavy step) on the blocking pool.
async fn cpu<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// A sign-up or log-in: what was typed, from which address, and when. The API and the
/// dashboard both build one, so both meet the same rules and limits. (No `Debug`: it
/// holds a password.)
pub struct Attempt {
    /// The email as typed.
    pub email: String,
    /// The password as typed.
    pub password: String,
    /// The client's address, which the limits count.
    pub client_ip: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Creates an account for the attempt's email and password.
pub async fn sign_up(app: &App, attempt: Attempt) -> Result<UserRow, AppError> {
    let email = parse_email(&attempt.email)?;
    check_password(&attempt.password)?;
    let (password, client_ip, now) = (attempt.password, attempt.client_ip, attempt.at);
    // Counted before the bcrypt hash, which is the cost an anonymous client could make
    // the server pay in a loop.
    if let Some(limiter) = app.signup_limiter
        && let Some(retry_after) = blocking(app, move |s| limiter.check(s, &client_ip, now)).await?
    {
        return Err(AppError::RateLimited {
            retry_after,
            message: "too many signups from this address; retry later".into(),
        });
    }
    let cost = app.settings.bcrypt_cost;
    let password_hash = cpu(move || bcrypt::hash(password, cost))
        .await?
        .map_err(|e| AppError::Internal(format!("bcrypt: {e}")))?;
    blocking(app, move |s| {
        s.create_user(&NewUser {
            email,
            password_hash,
        })
    })
    .await
    .map_err(|e| match e {
        AppError::Store(StoreError::Conflict(_)) => AppError::EmailTaken,
        other => other,
    })
}

/// The account of `email` when `password` is its password. An unknown email costs the
/// same bcrypt work as a wrong password, so timing does not tell which emails exist.
pub async fn log_in(app: &App, attempt: Attempt) -> Result<UserRow, AppError> {
    let Attempt {
        email,
        password,
        client_ip,
        at: now,
    } = attempt;
    let email = normalize_email(&email);
    let limiter = app.login_limiter;
    let (wait, user) = blocking(app, move |s| {
        let wait = limiter.check(s, &email, &client_ip, now)?;
        let user = match wait {
            Some(_) => None,
            None => s.find_user_by_email(&email)?,
        };
        Ok::<_, StoreError>((wait, user))
    })
    .await?;
    if let Some(retry_after) = wait {
        return Err(AppError::RateLimited {
            retry_after,
            message: "too many login attempts; retry later".into(),
        });
    }
    let hash = user
        .as_ref()
        .map_or_else(|| app.dummy_hash.clone(), |u| u.password_hash.clone());
    let ok = cpu(move || bcrypt::verify(password, &hash).unwrap_or(false)).await?;
    match user {
        Some(u) if ok => Ok(u),
        _ => Err(AppError::BadCredentials),
    }
}

/// Ends a session: its token is refused from now on, on every instance. Revoked tokens
/// are kept only until they would have expired anyway.
pub fn log_out(
    s: &llmlab_store::Store,
    user_id: llmlab_store::UserId,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), AppError> {
    s.purge_revoked_tokens(llmlab_store::now_utc())?;
    Ok(s.revoke_token(jti, user_id, expires_at.naive_utc())?)
}

/// The user `id` and the workspaces they are a member of.
pub fn me(
    s: &llmlab_store::Store,
    id: llmlab_store::UserId,
) -> Result<
    (
        Option<llmlab_store::UserRow>,
        Vec<llmlab_store::WorkspaceRow>,
    ),
    AppError,
> {
    Ok(s.with_conn(|c| {
        Ok((
            llmlab_store::users::find_by_id(c, id)?,
            llmlab_store::workspaces::list_for(c, id)?,
        ))
    })?)
}
