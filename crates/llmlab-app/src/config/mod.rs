//! Settings from the environment (and `.env`), validated once at start.

use std::path::{Path, PathBuf};

pub mod help;

/// `development` (default) or `production`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Zero configuration: a signing secret is generated and persisted next to the database.
    Development,
    /// A missing or weak `LLMLAB_JWT_SECRET` stops the server at start.
    Production,
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://path`, a plain path, or `postgres://…`.
    pub database_url: String,
    /// `LLMLAB_BIND`.
    pub bind: String,
    /// The HS256 signing secret (resolved: given, or generated in development).
    pub jwt_secret: String,
    /// `LLMLAB_TOKEN_TTL_MINUTES`.
    pub token_ttl_minutes: i64,
    /// `LLMLAB_CORS_ORIGINS`, comma separated; empty = no cross-origin access.
    pub cors_origins: Vec<String>,
    /// `LLMLAB_ENV`.
    pub environment: Environment,
    /// `LLMLAB_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `LLMLAB_DB_POOL_SIZE`.
    pub db_pool_size: u32,
    /// `LLMLAB_DB_TIMEOUT_MS`: longest wait for a database connection before a request
    /// answers 503.
    pub db_timeout_ms: u64,
    /// `LLMLAB_READ_DATABASE_URL`: a PostgreSQL streaming replica that serves reports
    /// (see `crate::replica`); only beside a PostgreSQL `DATABASE_URL`.
    pub read_database_url: Option<String>,
    /// `LLMLAB_REPLICA_MAX_LAG_MS`: replay lag past which reports read the primary.
    pub replica_max_lag_ms: u64,
    /// `LLMLAB_CATALOG_PATH`: extra catalog file or directory layered over the built-in one.
    pub catalog_path: Option<PathBuf>,
    /// `LLMLAB_BCRYPT_COST`.
    pub bcrypt_cost: u32,
    /// `LLMLAB_LOGIN_ATTEMPTS_PER_MINUTE` (per email and, ×3, per client IP).
    pub login_attempts_per_minute: u32,
    /// `LLMLAB_INGEST_EVENTS_PER_MINUTE`: events one workspace may send per minute to one
    /// instance (a batch counts its items); 0 = no quota.
    pub ingest_events_per_minute: u32,
    /// `LLMLAB_SIGNUPS_PER_HOUR`: accounts one client address may create per hour,
    /// counted in the database (every instance shares it); 0 = unlimited.
    pub signups_per_hour: u32,
    /// `LLMLAB_INVITATIONS_PER_HOUR`: invitations one workspace may send per hour,
    /// counted in the database (every instance shares it); 0 = unlimited.
    pub invitations_per_hour: u32,
    /// `LLMLAB_MAX_PENDING_INVITATIONS`: invitations of one workspace waiting for an
    /// answer at once (429 past it, until one is answered, revoked or expires).
    pub max_pending_invitations: usize,
    /// `LLMLAB_METRICS_TOKEN`: when set, `/metrics` wants `Authorization: Bearer <it>`.
    pub metrics_token: Option<String>,
    /// `LLMLAB_PUBLIC_URL`: where people reach the server (`https://…` makes the
    /// dashboard's cookies `Secure`; the dashboard takes forms only from its origin).
    pub public_url: Option<String>,
    /// `LLMLAB_UNKNOWN_MODELS`: `keep` (the default: stored unpriced, with a warning) or
    /// `reject` (422 `unknown_model`).
    pub unknown_models: crate::ledger::UnknownModels,
    /// What one account may create.
    pub limits: Limits,
    /// Budget alert webhooks.
    pub webhooks: WebhookSettings,
    /// Notification channels: email and the scheduler.
    pub notify: NotifySettings,
    /// `LLMLAB_CREDENTIAL_CACHE_MS`: how long an instance trusts an API key it has read
    /// (the longest a revocation takes to reach it); 0 = ask the database every time.
    pub credential_cache_ms: u64,
    /// `LLMLAB_RETENTION_DAYS`: raw events older than this many days are deleted (their
    /// rollups stay); `None` (unset or 0) keeps them forever.
    pub retention_days: Option<u32>,
}

/// How channels are notified (deliveries share [`WebhookSettings`]' timeout, attempts
/// and backoff).
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// `LLMLAB_SMTP_URL` (`smtp://user:pass@host:587`, `smtps://…:465`) and
    /// `LLMLAB_SMTP_FROM`: without them, email channels cannot be created.
    pub smtp: Option<crate::notify::email::SmtpSettings>,
    /// `LLMLAB_NOTIFY_INTERVAL_SECS`: how often an instance looks for forecasts,
    /// anomalies, unpriced models and reports that are due (budget alerts go at once).
    pub interval_secs: u64,
    /// `LLMLAB_CHANNEL_TESTS_PER_HOUR`: `POST /api/channels/{id}/test` calls one workspace
    /// may make per hour, counted in the database (every instance shares it).
    pub tests_per_hour: u32,
    /// `LLMLAB_EMAILS_PER_HOUR`: email one workspace may send per hour, one per
    /// recipient of each message (confirmations included), counted in the database. At
    /// least the most recipients a channel has, so every message can go out.
    pub emails_per_hour: u32,
}

/// Most resources of each kind one account may hold (422 `limit_exceeded` past them):
/// each budget is an SQL aggregate after ingestion and a webhook target, each key and
/// price a row read on hot paths.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `LLMLAB_MAX_BUDGETS`.
    pub budgets: usize,
    /// `LLMLAB_MAX_API_KEYS`.
    pub api_keys: usize,
    /// `LLMLAB_MAX_CUSTOM_PRICES`.
    pub custom_prices: usize,
    /// `LLMLAB_MAX_WORKSPACES`: workspaces one user may own.
    pub workspaces: usize,
    /// `LLMLAB_MAX_MEMBERS`: members of one workspace.
    pub members: usize,
    /// `LLMLAB_MAX_CHANNELS`: notification channels of one workspace.
    pub channels: usize,
    /// `LLMLAB_MAX_RESERVATIONS`: live holds of one workspace's reservations on its
    /// hard budgets (one per reservation and budget).
    pub reservations: usize,
}

/// How budget alert webhooks are signed and delivered.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `LLMLAB_WEBHOOK_SECRET`: the key each workspace's signing secret is derived from;
    /// empty = derived from the session signing secret.
    pub secret: String,
    /// `LLMLAB_WEBHOOK_TIMEOUT_MS`: one attempt, connect to last byte.
    pub timeout_ms: u64,
    /// `LLMLAB_WEBHOOK_MAX_ATTEMPTS`: attempts before an alert's delivery is `failed`.
    pub max_attempts: u32,
    /// `LLMLAB_WEBHOOK_BACKOFF_MS`: wait before the first retry, doubled for each next one.
    pub backoff_ms: u64,
    /// `LLMLAB_WEBHOOK_POLL_MS`: how often an instance looks for due deliveries (new
    /// alerts of its own wake it at once).
    pub poll_ms: u64,
    /// `LLMLAB_WEBHOOK_ALLOW_PRIVATE`: whether webhooks may target loopback, private and
    /// link-local addresses. Off by default: any user can set a budget's webhook, and the
    /// server must not become their way into its own network (or a cloud metadata service).
    pub allow_private: bool,
}

/// A setting that cannot be used; the message says which and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Shortest accepted signing secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

impl Settings {
    /// Reads the environment (after `.env`, which `main` loads).
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests can pass a map.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let environment = match get("LLMLAB_ENV").as_deref().map(str::trim) {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError(format!(
                    "LLMLAB_ENV must be 'development' or 'production', not '{other}'"
                )));
            }
        };
        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://llmlab.db".into());
        let number = |key: &str, default: i64, min: i64, max: i64| -> Result<i64, ConfigError> {
            match get(key) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{key} must be an integer in {min}..={max}, not '{v}'"
                        ))
                    }),
            }
        };
        let flag = |key: &str| -> Result<bool, ConfigError> {
            match get(key).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
                None | Some("false" | "0" | "no" | "off") => Ok(false),
                Some("true" | "1" | "yes" | "on") => Ok(true),
                Some(other) => Err(ConfigError(format!(
                    "{key} must be true or false, not '{other}'"
                ))),
            }
        };
        let jwt_secret = match (get("LLMLAB_JWT_SECRET"), environment) {
            (Some(s), _) if s.len() >= MIN_SECRET_LEN => s,
            (Some(_), Environment::Production) | (None, Environment::Production) => {
                return Err(ConfigError(format!(
                    "LLMLAB_ENV=production needs LLMLAB_JWT_SECRET of at least {MIN_SECRET_LEN} characters \
                     (for example: openssl rand -hex 32)"
                )));
            }
            (Some(_), Environment::Development) => {
                return Err(ConfigError(format!(
                    "LLMLAB_JWT_SECRET is shorter than {MIN_SECRET_LEN} characters; unset it to let the development server generate one"
                )));
            }
            (None, Environment::Development) => String::new(), // generated in startup
        };
        let read_database_url =
            crate::replica::read_url(get("LLMLAB_READ_DATABASE_URL"), &database_url)?;
        Ok(Settings {
            read_database_url,
            replica_max_lag_ms: number("LLMLAB_REPLICA_MAX_LAG_MS", 5_000, 0, 3_600_000)? as u64,
            bind: get("LLMLAB_BIND").unwrap_or_else(|| "127.0.0.1:8000".into()),
            jwt_secret,
            token_ttl_minutes: number("LLMLAB_TOKEN_TTL_MINUTES", 60 * 24, 1, 60 * 24 * 365)?,
            cors_origins: get("LLMLAB_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            environment,
            max_body_bytes: number(
                "LLMLAB_MAX_BODY_BYTES",
                1024 * 1024,
                1024,
                256 * 1024 * 1024,
            )? as usize,
            db_pool_size: number("LLMLAB_DB_POOL_SIZE", 8, 1, 256)? as u32,
            db_timeout_ms: number("LLMLAB_DB_TIMEOUT_MS", 5_000, 100, 600_000)? as u64,
            catalog_path: get("LLMLAB_CATALOG_PATH").map(PathBuf::from),
            bcrypt_cost: number("LLMLAB_BCRYPT_COST", 12, 10, 16)? as u32,
            ingest_events_per_minute: number("LLMLAB_INGEST_EVENTS_PER_MINUTE", 0, 0, 100_000_000)?
                as u32,
            login_attempts_per_minute: number("LLMLAB_LOGIN_ATTEMPTS_PER_MINUTE", 10, 1, 10_000)?
                as u32,
            signups_per_hour: number("LLMLAB_SIGNUPS_PER_HOUR", 20, 0, 1_000_000)? as u32,
            invitations_per_hour: number("LLMLAB_INVITATIONS_PER_HOUR", 50, 0, 1_000_000)? as u32,
            max_pending_invitations: number("LLMLAB_MAX_PENDING_INVITATIONS", 100, 1, 100_000)?
                as usize,
            metrics_token: get("LLMLAB_METRICS_TOKEN").map(|t| t.trim().to_string()),
            public_url: public_url(get("LLMLAB_PUBLIC_URL"))?,
            unknown_models: match get("LLMLAB_UNKNOWN_MODELS").as_deref().map(str::trim) {
                None | Some("keep") => crate::ledger::UnknownModels::Keep,
                Some("reject") => crate::ledger::UnknownModels::Reject,
                Some(other) => {
                    return Err(ConfigError(format!(
                        "LLMLAB_UNKNOWN_MODELS must be keep or reject, not {other:?}"
                    )));
                }
            },
            limits: Limits {
                budgets: number("LLMLAB_MAX_BUDGETS", 100, 1, 100_000)? as usize,
                api_keys: number("LLMLAB_MAX_API_KEYS", 100, 1, 100_000)? as usize,
                custom_prices: number("LLMLAB_MAX_CUSTOM_PRICES", 1_000, 1, 1_000_000)? as usize,
                workspaces: number("LLMLAB_MAX_WORKSPACES", 20, 1, 10_000)? as usize,
                members: number("LLMLAB_MAX_MEMBERS", 100, 1, 100_000)? as usize,
                channels: number("LLMLAB_MAX_CHANNELS", 20, 1, 1_000)? as usize,
                reservations: number("LLMLAB_MAX_RESERVATIONS", 10_000, 1, 10_000_000)? as usize,
            },
            webhooks: WebhookSettings {
                secret: get("LLMLAB_WEBHOOK_SECRET").unwrap_or_default(),
                timeout_ms: number("LLMLAB_WEBHOOK_TIMEOUT_MS", 5_000, 10, 120_000)? as u64,
                max_attempts: number("LLMLAB_WEBHOOK_MAX_ATTEMPTS", 6, 1, 100)? as u32,
                backoff_ms: number("LLMLAB_WEBHOOK_BACKOFF_MS", 1_000, 1, 3_600_000)? as u64,
                poll_ms: number("LLMLAB_WEBHOOK_POLL_MS", 1_000, 10, 600_000)? as u64,
                allow_private: flag("LLMLAB_WEBHOOK_ALLOW_PRIVATE")?,
            },
            credential_cache_ms: number("LLMLAB_CREDENTIAL_CACHE_MS", 1_000, 0, 60_000)? as u64,
            retention_days: match number("LLMLAB_RETENTION_DAYS", 0, 0, 36_500)? {
                0 => None,
                days => Some(days as u32),
            },
            notify: NotifySettings {
                smtp: match (get("LLMLAB_SMTP_URL"), get("LLMLAB_SMTP_FROM")) {
                    (None, None) => None,
                    (Some(url), Some(from)) => Some(crate::notify::email::SmtpSettings {
                        url: url.trim().to_string(),
                        from: from.trim().to_string(),
                    }),
                    _ => {
                        return Err(ConfigError(
                            "LLMLAB_SMTP_URL and LLMLAB_SMTP_FROM go together".into(),
                        ));
                    }
                },
                interval_secs: number("LLMLAB_NOTIFY_INTERVAL_SECS", 60, 1, 86_400)? as u64,
                tests_per_hour: number("LLMLAB_CHANNEL_TESTS_PER_HOUR", 10, 1, 100_000)? as u32,
                emails_per_hour: number(
                    "LLMLAB_EMAILS_PER_HOUR",
                    100,
                    crate::channels::MAX_RECIPIENTS as i64,
                    10_000_000,
                )? as u32,
            },
            database_url,
        })
    }

    /// Where the development server keeps its generated secret: next to a SQLite file,
    /// or in the working directory.
    pub fn secret_file(&self) -> PathBuf {
        let path = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))
            .unwrap_or(&self.database_url);
        let dir = if self.database_url.contains("://") && !self.database_url.starts_with("sqlite") {
            Path::new(".")
        } else {
            Path::new(path).parent().unwrap_or(Path::new("."))
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        dir.join(".llmlab-jwt-secret")
    }
}

/// `LLMLAB_PUBLIC_URL` without its trailing slash, refused unless it is an http(s) URL
/// with a host: the dashboard's forms are checked against its origin, so a typo would
/// otherwise refuse every sign-in.
fn public_url(value: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let trimmed = value.trim().trim_end_matches('/').to_string();
    match url::Url::parse(&trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(Some(trimmed)),
        _ => Err(ConfigError(format!(
            "LLMLAB_PUBLIC_URL must be an http:// or https:// URL such as \
             https://llmlab.example.com, not '{value}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    /// Every `LLMLAB_*` key this file reads is documented in `.env.example`, and every key
    /// there is one the server reads.
    #[test]
    fn env_example_lists_every_key() {
        fn keys(text: &str, quoted: bool) -> std::collections::BTreeSet<String> {
            let marker = if quoted { "\"LLMLAB_" } else { "LLMLAB_" };
            text.match_indices(marker)
                .map(|(i, m)| {
                    let rest = &text[i + m.len() - "LLMLAB_".len()..];
                    let end = rest
                        .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                        .unwrap_or(rest.len());
                    rest[..end].to_string()
                })
                // this test's own marker
                .filter(|key| key != "LLMLAB_")
                .collect()
        }
        let example = include_str!("../../../../.env.example");
        let assigned: String = example
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(keys(include_str!("mod.rs"), true), keys(&assigned, false));
    }

    #[test]
    fn zero_configuration_is_development_on_sqlite() {
        let s = with(&[]).expect("defaults");
        assert_eq!(s.database_url, "sqlite://llmlab.db");
        assert_eq!(s.bind, "127.0.0.1:8000");
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.max_body_bytes, 1024 * 1024);
        assert_eq!(s.secret_file(), Path::new(".").join(".llmlab-jwt-secret"));
    }

    #[test]
    fn production_refuses_missing_or_short_secret() {
        let e = with(&[("LLMLAB_ENV", "production")]).expect_err("must fail");
        assert!(e.to_string().contains("LLMLAB_JWT_SECRET"));
        assert!(with(&[("LLMLAB_ENV", "production"), ("LLMLAB_JWT_SECRET", "short")]).is_err());
        let long = "x".repeat(40);
        assert!(with(&[("LLMLAB_ENV", "production"), ("LLMLAB_JWT_SECRET", &long)]).is_ok());
    }

    #[test]
    fn bad_numbers_are_named() {
        let e = with(&[("LLMLAB_TOKEN_TTL_MINUTES", "-5")]).expect_err("must fail");
        assert!(e.to_string().contains("LLMLAB_TOKEN_TTL_MINUTES"));
        assert!(with(&[("LLMLAB_ENV", "staging")]).is_err());
    }

    #[test]
    fn the_public_url_is_an_http_url() {
        let public = |v: &str| with(&[("LLMLAB_PUBLIC_URL", v)]).map(|s| s.public_url);
        assert_eq!(
            public(" https://llmlab.example.com/ ").expect("valid"),
            Some("https://llmlab.example.com".into())
        );
        for bad in ["llmlab.example.com", "ftp://llmlab.example.com", "https://"] {
            let e = public(bad).expect_err(bad);
            assert!(e.to_string().contains("LLMLAB_PUBLIC_URL"), "{e}");
        }
    }

    #[test]
    fn flags_are_true_or_false() {
        let private = |v: &str| with(&[("LLMLAB_WEBHOOK_ALLOW_PRIVATE", v)]);
        assert!(!with(&[]).expect("defaults").webhooks.allow_private);
        assert!(private("TRUE").expect("true").webhooks.allow_private);
        assert!(!private("0").expect("0").webhooks.allow_private);
        let e = private("maybe").expect_err("must fail");
        assert!(
            e.to_string().contains("LLMLAB_WEBHOOK_ALLOW_PRIVATE"),
            "{e}"
        );
    }
}
