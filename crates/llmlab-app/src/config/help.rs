//! What `llmlab-server --help` prints: every setting the server reads, its default and
//! what it does. A test reads the settings through a recording lookup and checks that
//! this list names exactly those, and that setting each to the default written here
//! changes nothing.

/// One setting: its variable, its default as one would write it (`""`: unset, with what
/// unset means in `meaning`), and one line of meaning.
pub struct Setting {
    /// The environment variable.
    pub name: &'static str,
    /// Its default value, as written in the environment; empty when unset by default.
    pub default: &'static str,
    /// What it does.
    pub meaning: &'static str,
}

const fn s(name: &'static str, default: &'static str, meaning: &'static str) -> Setting {
    Setting {
        name,
        default,
        meaning,
    }
}

/// Every setting, in the order an operator meets them.
pub const SETTINGS: &[Setting] = &[
    s(
        "DATABASE_URL",
        "sqlite://llmlab.db",
        "sqlite://path, a plain path, or postgres://…",
    ),
    s(
        "LLMLAB_BIND",
        "127.0.0.1:8000",
        "address and port to listen on",
    ),
    s(
        "LLMLAB_ENV",
        "development",
        "development (generates a signing secret) or production",
    ),
    s(
        "LLMLAB_JWT_SECRET",
        "",
        "session signing secret, 32+ characters; required in production",
    ),
    s(
        "LLMLAB_PUBLIC_URL",
        "",
        "where people reach the server (https makes cookies Secure)",
    ),
    s(
        "LLMLAB_READ_DATABASE_URL",
        "",
        "a PostgreSQL streaming replica that serves reports",
    ),
    s(
        "LLMLAB_REPLICA_MAX_LAG_MS",
        "5000",
        "replica lag past which reports read the primary",
    ),
    s(
        "LLMLAB_DB_POOL_SIZE",
        "8",
        "database connections per instance",
    ),
    s(
        "LLMLAB_DB_TIMEOUT_MS",
        "5000",
        "longest wait for a database connection (then 503)",
    ),
    s("LLMLAB_MAX_BODY_BYTES", "1048576", "largest request body"),
    s(
        "LLMLAB_TOKEN_TTL_MINUTES",
        "1440",
        "lifetime of a session token",
    ),
    s(
        "LLMLAB_CORS_ORIGINS",
        "",
        "comma-separated origins allowed cross-origin; unset: none",
    ),
    s(
        "LLMLAB_CATALOG_PATH",
        "",
        "a catalog file or directory layered over the built-in one",
    ),
    s(
        "LLMLAB_UNKNOWN_MODELS",
        "keep",
        "keep (stored unpriced) or reject (422) unknown models",
    ),
    s(
        "LLMLAB_BCRYPT_COST",
        "12",
        "password hashing cost (10..=16)",
    ),
    s(
        "LLMLAB_LOGIN_ATTEMPTS_PER_MINUTE",
        "10",
        "sign-in attempts per email (x3 per address)",
    ),
    s(
        "LLMLAB_SIGNUPS_PER_HOUR",
        "20",
        "accounts one client address may create per hour",
    ),
    s(
        "LLMLAB_INGEST_EVENTS_PER_MINUTE",
        "0",
        "events one workspace may send per minute; 0: no cap",
    ),
    s(
        "LLMLAB_INVITATIONS_PER_HOUR",
        "50",
        "invitations one workspace may send per hour",
    ),
    s(
        "LLMLAB_MAX_PENDING_INVITATIONS",
        "100",
        "invitations of one workspace awaiting an answer",
    ),
    s("LLMLAB_MAX_BUDGETS", "100", "budgets per workspace"),
    s("LLMLAB_MAX_API_KEYS", "100", "API keys per workspace"),
    s(
        "LLMLAB_MAX_CUSTOM_PRICES",
        "1000",
        "custom prices per workspace",
    ),
    s("LLMLAB_MAX_WORKSPACES", "20", "workspaces one user may own"),
    s("LLMLAB_MAX_MEMBERS", "100", "members of one workspace"),
    s(
        "LLMLAB_MAX_CHANNELS",
        "20",
        "notification channels of one workspace",
    ),
    s(
        "LLMLAB_MAX_RESERVATIONS",
        "10000",
        "live reservations on one workspace's hard budgets (one per budget held)",
    ),
    s(
        "LLMLAB_METRICS_TOKEN",
        "",
        "bearer token /metrics wants; unset: open",
    ),
    s(
        "LLMLAB_CREDENTIAL_CACHE_MS",
        "1000",
        "how long an API key read is trusted (revocation delay)",
    ),
    s(
        "LLMLAB_RETENTION_DAYS",
        "0",
        "delete raw events older than this (rollups stay); 0: keep",
    ),
    s(
        "LLMLAB_SMTP_URL",
        "",
        "smtp://user:pass@host:587 or smtps://…; unset: no email channels",
    ),
    s(
        "LLMLAB_SMTP_FROM",
        "",
        "sender address of notification email (with LLMLAB_SMTP_URL)",
    ),
    s(
        "LLMLAB_NOTIFY_INTERVAL_SECS",
        "60",
        "how often forecasts, anomalies and reports are looked for",
    ),
    s(
        "LLMLAB_CHANNEL_TESTS_PER_HOUR",
        "10",
        "channel test sends per workspace per hour",
    ),
    s(
        "LLMLAB_EMAILS_PER_HOUR",
        "100",
        "email one workspace may send per hour",
    ),
    s(
        "LLMLAB_WEBHOOK_SECRET",
        "",
        "key webhook signing secrets derive from; unset: the session secret",
    ),
    s(
        "LLMLAB_WEBHOOK_TIMEOUT_MS",
        "5000",
        "one delivery attempt, connect to last byte",
    ),
    s(
        "LLMLAB_WEBHOOK_MAX_ATTEMPTS",
        "6",
        "attempts before a delivery is failed",
    ),
    s(
        "LLMLAB_WEBHOOK_BACKOFF_MS",
        "1000",
        "wait before the first retry, doubled each time",
    ),
    s(
        "LLMLAB_WEBHOOK_POLL_MS",
        "1000",
        "how often an instance looks for due deliveries",
    ),
    s(
        "LLMLAB_WEBHOOK_ALLOW_PRIVATE",
        "false",
        "let webhooks target loopback and private addresses",
    ),
];

/// The `--help` text: usage, then every setting with its default.
pub fn text() -> String {
    let mut out = String::from(
        "llmlab-server: tracks what LLM API calls cost (HTTP API and dashboard).\n\n\
         Usage: llmlab-server [--help | --version]\n\n\
         Settings come from the environment and from a .env file in the working directory;\n\
         with none, it serves on 127.0.0.1:8000 from ./llmlab.db (SQLite). RUST_LOG sets\n\
         the log level (default info).\n\n",
    );
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for setting in SETTINGS {
        let default = if setting.default.is_empty() {
            "unset".to_string()
        } else {
            format!("default {}", setting.default)
        };
        out.push_str(&format!(
            "  {:width$}  {} ({default})\n",
            setting.name, setting.meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use super::SETTINGS;
    use crate::config::Settings;

    #[test]
    fn the_help_names_every_setting_read() {
        let read = RefCell::new(BTreeSet::new());
        Settings::from_lookup(|k| {
            read.borrow_mut().insert(k.to_string());
            None
        })
        .expect("the defaults start a development server");
        let listed: BTreeSet<String> = SETTINGS.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(listed, read.into_inner());
        assert_eq!(listed.len(), SETTINGS.len(), "a setting listed twice");
    }

    #[test]
    fn the_defaults_written_are_the_defaults() {
        let none = Settings::from_lookup(|_| None).expect("defaults");
        let written = Settings::from_lookup(|k| {
            SETTINGS
                .iter()
                .find(|s| s.name == k && !s.default.is_empty())
                .map(|s| s.default.to_string())
        })
        .expect("the written defaults are accepted");
        assert_eq!(format!("{written:?}"), format!("{none:?}"));
    }
}
