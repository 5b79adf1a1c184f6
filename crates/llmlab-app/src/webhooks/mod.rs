//! Webhooks: how deliveries are signed ([`signature`], with a per-workspace secret from
//! [`Webhooks::secret_for`]), which receivers are allowed ([`check_target`], one table of
//! special-purpose addresses in `special.rs`), and how often and how long a delivery is
//! tried ([`Webhooks::backoff`], [`Webhooks::lease`]). The deliveries themselves go out
//! through `crate::outbox`.
//!
//! - Receivers authenticate deliveries by
//!   `X-LLMLab-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//!   with the workspace's secret from `GET /api/budgets/webhook-secret`; the timestamp
//!   lets them refuse replays.
//! - Receivers must be public: unless `LLMLAB_WEBHOOK_ALLOW_PRIVATE` is set, a URL cannot
//!   name an internal or special-purpose address, and the server's delivery client
//!   refuses to connect to one ([`is_internal`]) whatever a host name resolves to at
//!   delivery time, so DNS cannot be used to reach inside.

pub mod signature;
mod special;
mod target;

use std::time::Duration;

use chrono::TimeDelta;
use llmlab_store::WorkspaceId;
use tokio::sync::Notify;

use crate::config::WebhookSettings;

use signature::hmac_hex;
pub use signature::signature;
pub use special::special_purpose;
pub use target::{check_target, is_internal};

/// The signing key, the retry schedule, and the wake-up call of the outbox.
pub struct Webhooks {
    settings: WebhookSettings,
    key: Vec<u8>,
    wake: Notify,
}

impl Webhooks {
    /// Keys from `LLMLAB_WEBHOOK_SECRET`, or derived from the session secret (a one-way
    /// derivation: a workspace's webhook secret reveals nothing about session keys).
    pub fn new(settings: &WebhookSettings, session_secret: &str) -> Webhooks {
        let key = if settings.secret.is_empty() {
            hmac_hex(session_secret.as_bytes(), &[b"llmlab webhook signing"]).into_bytes()
        } else {
            settings.secret.clone().into_bytes()
        };
        Webhooks {
            settings: settings.clone(),
            key,
            wake: Notify::new(),
        }
    }

    /// The secret `workspace`'s receivers check signatures with. Per workspace, so one
    /// tenant cannot sign deliveries another tenant's receiver accepts.
    pub fn secret_for(&self, workspace: WorkspaceId) -> String {
        format!(
            "whsec_{}",
            // `user:` because each workspace made by the upgrade took its user's id:
            // their receivers keep the secret they were given.
            hmac_hex(&self.key, &[format!("user:{workspace}").as_bytes()])
        )
    }

    /// Makes the outbox look for due deliveries now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when [`Webhooks::wake`] is called.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// How long a claimed delivery is this instance's: longer than one attempt can take,
    /// so a live instance never loses its claim.
    pub fn lease(&self) -> TimeDelta {
        TimeDelta::milliseconds(i64::try_from(self.settings.timeout_ms).unwrap_or(i64::MAX / 2))
            + TimeDelta::seconds(30)
    }

    /// Wait after failed attempt `attempt` (1-based): backoff × 2^(attempt − 1).
    pub fn backoff(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        Duration::from_millis(self.settings.backoff_ms.saturating_mul(1 << doublings))
    }

    /// Attempts before a delivery is given up.
    pub fn max_attempts(&self) -> u32 {
        self.settings.max_attempts
    }

    /// How often the outbox looks for due deliveries when nothing wakes it.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.settings.poll_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WebhookSettings {
        WebhookSettings {
            secret: String::new(),
            timeout_ms: 1000,
            max_attempts: 5,
            backoff_ms: 100,
            poll_ms: 1000,
            allow_private: false,
        }
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_and_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = signature("Jefe", 0, b"what do ya want for nothing?");
        assert_ne!(
            sig,
            "t=0,v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // The signed message is "<t>.<body>": recompute it that way.
        assert_eq!(
            signature("Jefe", 1, b"x"),
            format!("t=1,v1={}", hmac_hex(b"Jefe", &[b"1.x"]))
        );
        assert_eq!(
            hmac_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn secrets_differ_per_workspace_and_key() {
        let a = Webhooks::new(&settings(), "session-secret-one-0123456789abcdef");
        let b = Webhooks::new(&settings(), "session-secret-two-0123456789abcdef");
        assert_ne!(a.secret_for(WorkspaceId(1)), a.secret_for(WorkspaceId(2)));
        assert_ne!(a.secret_for(WorkspaceId(1)), b.secret_for(WorkspaceId(1)));
        assert_eq!(a.secret_for(WorkspaceId(1)), a.secret_for(WorkspaceId(1)));
        assert!(a.secret_for(WorkspaceId(1)).starts_with("whsec_"));
    }

    #[test]
    fn internal_addresses() {
        let internal = [
            "127.0.0.1",
            "127.9.9.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ];
        for ip in internal {
            assert!(
                is_internal(ip.parse().expect("an address")),
                "{ip} is internal"
            );
        }
        let public = [
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "100.63.255.255",
            "169.255.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ];
        for ip in public {
            assert!(
                !is_internal(ip.parse().expect("an address")),
                "{ip} is public"
            );
        }
    }

    #[test]
    fn targets() {
        for bad in [
            "ftp://x/y",
            "http://",
            "https:///path",
            "not a url",
            "//x.com/a",
            "http://a b/",
        ] {
            assert_eq!(
                check_target(bad, true),
                Err("must be an http(s) URL".to_string()),
                "{bad}"
            );
        }
        for internal in [
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://app.localhost/",
            "http://localhost:80",
        ] {
            assert!(check_target(internal, false).is_err(), "{internal}");
            assert_eq!(check_target(internal, true), Ok(()), "{internal}");
        }
        assert_eq!(
            check_target("https://hooks.example.com/a?b=c", false),
            Ok(())
        );
    }

    #[test]
    fn backoff_doubles() {
        let w = Webhooks::new(&settings(), "s");
        let waits: Vec<u128> = (1..=4).map(|a| w.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800]);
    }
}
