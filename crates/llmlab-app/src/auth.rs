//! Credentials: session JWTs (HS256 with `jti`, revocable), API keys (hashed), who a
//! credential is and where it acts ([`identify`]), and the attempt limiters of logins
//! and signups. The server reads the credential off a request and calls [`identify`]
//! before any handler runs.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use llmlab_store::{ApiKeyId, Role, Store, StoreError, UserId, WorkspaceId};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access::Scopes;
use crate::{App, AppError};

/// Prefix of every API key.
pub const API_KEY_PREFIX: &str = "llmlab_";

/// Who a request comes from and where it acts. Handlers never take it directly: they
/// take the access they need (see `access`), which checks it first.
#[derive(Debug, Clone)]
pub struct Identity {
    /// How they authenticated.
    pub credential: Credential,
    /// Where a workspace-scoped request acts, or why it acts nowhere.
    pub acting: Result<Acting, Unresolved>,
}

/// Why a request has no workspace to act in (answered only by the routes that need one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unresolved {
    /// The workspace named is not a workspace id.
    BadHeader,
    /// It names a workspace the caller is not in (or none at all): not found.
    NotMember,
}

/// The workspace a request acts in, learnt with the credential in one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acting {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The session user's role there; `None` for an API key (its scopes decide).
    pub role: Option<Role>,
    /// The workspace's custom-prices version (see `PriceCache`).
    pub prices_version: i64,
}

/// The credential a request carried.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A session token.
    Session {
        /// The signed-in user.
        user_id: UserId,
        /// Their email.
        email: String,
        /// Token id, revoked on logout.
        jti: String,
        /// Expiry.
        expires_at: DateTime<Utc>,
    },
    /// An API key.
    ApiKey {
        /// Key row id.
        key_id: ApiKeyId,
        /// Its name.
        name: String,
        /// What the key may do.
        scopes: Scopes,
        /// Tags stamped on the events it sends (the event's own tag wins).
        tags: std::collections::BTreeMap<String, String>,
    },
}

impl Identity {
    /// Who did it, for the audit log.
    /// The signed-in user, when the credential is a session.
    pub fn user_id(&self) -> Option<UserId> {
        match &self.credential {
            Credential::Session { user_id, .. } => Some(*user_id),
            Credential::ApiKey { .. } => None,
        }
    }

    pub fn actor(&self) -> llmlab_store::Actor {
        match &self.credential {
            Credential::Session { user_id, email, .. } => llmlab_store::Actor::User {
                id: user_id.get(),
                label: email.clone(),
            },
            Credential::ApiKey { key_id, name, .. } => llmlab_store::Actor::ApiKey {
                id: key_id.get(),
                label: name.clone(),
            },
        }
    }

    /// The API key that sent the request (none for a session).
    pub fn key_id(&self) -> Option<ApiKeyId> {
        match &self.credential {
            Credential::ApiKey { key_id, .. } => Some(*key_id),
            Credential::Session { .. } => None,
        }
    }

    /// The default tags of the API key that sent the request (none for a session).
    pub fn key_tags(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        match &self.credential {
            Credential::ApiKey { tags, .. } if !tags.is_empty() => Some(tags),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: i64,
    jti: String,
}

/// HS256 keys.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    /// Keys from a secret.
    pub fn new(secret: &str) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Issues a session token for `user_id` valid for `ttl`.
    pub fn issue(
        &self,
        user_id: UserId,
        ttl: chrono::Duration,
    ) -> Result<(String, DateTime<Utc>), AppError> {
        let now = Utc::now();
        let exp = now + ttl;
        let claims = Claims {
            sub: user_id.to_string(),
            exp: exp.timestamp(),
            iat: now.timestamp(),
            jti: random_token(16),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((
            token,
            DateTime::from_timestamp(exp.timestamp(), 0).unwrap_or(exp),
        ))
    }

    fn verify(&self, token: &str) -> Option<(UserId, String, DateTime<Utc>)> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let user_id = UserId(data.claims.sub.parse().ok()?);
        let exp = DateTime::from_timestamp(data.claims.exp, 0)?;
        Some((user_id, data.claims.jti, exp))
    }
}

/// `n` random bytes, hex encoded.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill(&mut bytes[..]);
    hex::encode(bytes)
}

/// A new API key: `llmlab_` + 32 random bytes in hex.
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token(32))
}

/// API keys are high-entropy random strings, so one SHA-256 is the right hash: a slow
/// password hash would add milliseconds to every ingested event and buy nothing.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Who `token` (a session token or an API key) is, and where the request acts: the
/// workspace `named` (a session's choice; `None` for its personal one) when the caller
/// is in it. One query for a session; an API key from the instance's cache when it was
/// read lately (see [`crate::credentials`]).
pub async fn identify(
    state: &App,
    token: &str,
    named: Result<Option<WorkspaceId>, Unresolved>,
) -> Result<Identity, AppError> {
    if token.starts_with(API_KEY_PREFIX) {
        return identify_key(state, token, named).await;
    }
    // An unreadable header resolves as the personal workspace here, and the request is
    // refused below by any route that needs a workspace.
    let workspace = named.unwrap_or(None);
    let (user_id, jti, expires_at) = state
        .jwt
        .verify(token)
        .ok_or(AppError::Unauthorized("invalid or expired token"))?;
    let probe = jti.clone();
    let found = crate::blocking(state, move |store| {
        store.with_conn(|c| llmlab_store::workspaces::session_state(c, &probe, user_id, workspace))
    })
    .await?;
    match found {
        Some(s) if !s.revoked => Ok(Identity {
            credential: Credential::Session {
                user_id,
                email: s.email,
                jti,
                expires_at,
            },
            acting: named.and_then(|_| {
                s.membership
                    .map(|m| Acting {
                        workspace: m.workspace,
                        role: Some(m.role),
                        prices_version: m.prices_version,
                    })
                    .ok_or(Unresolved::NotMember)
            }),
        }),
        Some(_) => Err(AppError::Unauthorized("token has been revoked")),
        None => Err(AppError::Unauthorized("invalid or expired token")),
    }
}

/// The key with hash `hash` from the database (remembered when valid).
async fn read_key(
    state: &App,
    hash: String,
) -> Result<Option<(llmlab_store::ApiKeyRow, i64)>, AppError> {
    let shared = state.clone();
    crate::blocking(state, move |_| -> Result<_, llmlab_store::StoreError> {
        let epoch = shared.keys.epoch();
        let store = &shared.store;
        let Some((key, prices_version)) = store.authenticate_api_key(&hash)? else {
            return Ok(None);
        };
        // Checked here too so a busy key costs a read, not a write, per request.
        let now = llmlab_store::now_utc();
        if key
            .last_used_at
            .is_none_or(|t| now - t >= llmlab_store::TOUCH_INTERVAL)
        {
            store.touch_api_key(key.id, now)?;
        }
        shared.keys.put(hash, key.clone(), prices_version, epoch);
        Ok(Some((key, prices_version)))
    })
    .await
}

/// An API key acts in its own workspace only: naming another one finds nothing.
async fn identify_key(
    state: &App,
    token: &str,
    named: Result<Option<WorkspaceId>, Unresolved>,
) -> Result<Identity, AppError> {
    let hash = hash_api_key(token);
    let key = match state.keys.get(&hash) {
        Some(known) => Some(known),
        None => read_key(state, hash).await?,
    };
    let (key, prices_version) = key.ok_or(AppError::Unauthorized("invalid or revoked API key"))?;
    let acting = Acting {
        workspace: key.workspace_id,
        role: None,
        prices_version,
    };
    Ok(Identity {
        acting: named.and_then(|w| {
            if w.is_none_or(|w| w == key.workspace_id) {
                Ok(acting)
            } else {
                Err(Unresolved::NotMember)
            }
        }),
        credential: Credential::ApiKey {
            key_id: key.id,
            scopes: Scopes::parse_stored(&key.scopes),
            tags: serde_json::from_str(&key.tags_json).unwrap_or_default(),
            name: key.name,
        },
    })
}

/// Login attempt limits per email and per client address.
///
/// Counted in the database (`Store::count_login_attempts`), so every instance draws on
/// the same allowance: adding instances does not multiply the guesses an attacker gets.
/// Each subject gets a one-minute window from its first attempt; the address allows
/// three times the per-email rate, for offices behind one NAT.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimiter {
    per_minute: u32,
}

impl LoginLimiter {
    const WINDOW_MICROS: i64 = 60_000_000;

    /// A limiter allowing `per_minute` attempts per email per minute.
    pub fn new(per_minute: u32) -> LoginLimiter {
        LoginLimiter { per_minute }
    }

    /// Counts an attempt for `email` from `ip` at `now`; `Some(seconds)` to wait when a
    /// limit is exceeded. Subjects are stored as SHA-256 hashes, not in clear.
    pub fn check(
        self,
        store: &Store,
        email: &str,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let limit = self.per_minute;
        let subjects = [
            (format!("email:{email}"), limit),
            (format!("ip:{ip}"), limit.saturating_mul(3)),
        ];
        count_attempts(store, &subjects, now, Self::WINDOW_MICROS)
    }
}

/// Counts one attempt for each `(subject, limit)` in windows of `window_micros`
/// (subjects stored as SHA-256 hashes, not in clear); `Some(seconds)` to wait when any
/// subject is over its limit.
fn count_attempts(
    store: &Store,
    subjects: &[(String, u32)],
    now: DateTime<Utc>,
    window_micros: i64,
) -> Result<Option<u64>, StoreError> {
    let hashes: Vec<String> = subjects
        .iter()
        .map(|(s, _)| hex::encode(Sha256::digest(s.as_bytes())))
        .collect();
    let now = now.timestamp_micros();
    let windows = store.count_login_attempts(&hashes, now, window_micros)?;
    Ok(windows
        .iter()
        .zip(subjects)
        .filter(|(w, (_, limit))| u32::try_from(w.attempts).unwrap_or(u32::MAX) > *limit)
        .map(|(w, _)| w.seconds_left(now, window_micros))
        .max())
}

/// Signups per client address, counted in the database like login attempts (so every
/// instance shares the allowance) in windows of an hour: each signup costs a bcrypt hash,
/// and accounts are what every other limit is counted per.
#[derive(Debug, Clone, Copy)]
pub struct SignupLimiter {
    per_hour: u32,
}

impl SignupLimiter {
    const WINDOW_MICROS: i64 = 3_600_000_000;

    /// A limiter allowing `per_hour` signups per address; `None` for 0 (unlimited).
    pub fn new(per_hour: u32) -> Option<SignupLimiter> {
        (per_hour > 0).then_some(SignupLimiter { per_hour })
    }

    /// Counts a signup from `ip` at `now`; `Some(seconds)` to wait when over the limit.
    pub fn check(
        self,
        store: &Store,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let subjects = [(format!("signup:{ip}"), self.per_hour)];
        count_attempts(store, &subjects, now, Self::WINDOW_MICROS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let keys = JwtKeys::new(&"s".repeat(40));
        let (token, _) = keys
            .issue(UserId(42), chrono::Duration::minutes(5))
            .expect("issue");
        assert_eq!(keys.verify(&token).map(|v| v.0), Some(UserId(42)));
        let other = JwtKeys::new(&"t".repeat(40));
        assert!(other.verify(&token).is_none());
        let (expired, _) = keys
            .issue(UserId(42), chrono::Duration::minutes(-5))
            .expect("issue");
        assert!(keys.verify(&expired).is_none());
        assert!(keys.verify("garbage").is_none());
    }

    #[test]
    fn api_keys_are_prefixed_and_hashed() {
        let k = new_api_key();
        assert!(k.starts_with(API_KEY_PREFIX));
        assert_eq!(hash_api_key(&k).len(), 64);
        assert_ne!(hash_api_key(&k), hash_api_key(&new_api_key()));
    }
}
