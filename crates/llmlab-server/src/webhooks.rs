//! Budget alert webhooks, delivered off the request path.
//!
//! - Ingestion only records an alert (once per budget, period and level: a database
//!   constraint) and wakes this instance's worker; it never waits on a receiver.
//! - Each instance runs one worker ([`spawn_worker`]). It claims due alerts with a
//!   conditional `UPDATE` (so with several instances each alert goes to one), POSTs them,
//!   records every attempt, and retries failures with exponential backoff. An instance
//!   that dies mid-delivery only loses its lease: the alert is due again when it ends.
//! - Receivers authenticate deliveries by
//!   `X-LLMLab-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//!   with the user's secret from `GET /api/budgets/webhook-secret`; the timestamp lets
//!   them refuse replays.
//! - Receivers must be public: unless `LLMLAB_WEBHOOK_ALLOW_PRIVATE` is set, a budget
//!   cannot name a loopback, private or link-local address ([`check_target`]), and the
//!   delivery client refuses to connect to one whatever a host name resolves to at
//!   delivery time ([`PublicOnly`]), so DNS cannot be used to reach inside.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use llmlab_engine::Usd;
use llmlab_store::{AlertRow, NewDelivery, NextStep, StoreError, delivery};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::{Notify, Semaphore};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::config::WebhookSettings;
use crate::routes::db;
use crate::state::AppState;

/// Alerts claimed per poll.
const CLAIM_BATCH: u32 = 32;
/// Longest error message kept per attempt.
const MAX_ERROR_LEN: usize = 500;

/// The signing keys, the HTTP client and the worker's wake-up call.
pub struct Webhooks {
    settings: WebhookSettings,
    key: Vec<u8>,
    agent: ureq::Agent,
    wake: Notify,
    /// Deliveries in flight on this instance, at most [`MAX_IN_FLIGHT`]: a slow or
    /// hostile receiver holds one slot for at most the attempt timeout, and a flood of
    /// alerts waits in the database instead of in memory.
    in_flight: Arc<Semaphore>,
}

/// Deliveries one instance attempts at once.
pub const MAX_IN_FLIGHT: usize = 16;

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = hmac_hex(
        secret.as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body],
    );
    format!("t={timestamp},v1={mac}")
}

impl Webhooks {
    /// Keys from `LLMLAB_WEBHOOK_SECRET`, or derived from the session secret (a one-way
    /// derivation: a user's webhook secret reveals nothing about session keys).
    pub fn new(settings: &WebhookSettings, session_secret: &str) -> Webhooks {
        let key = if settings.secret.is_empty() {
            hmac_hex(session_secret.as_bytes(), &[b"llmlab webhook signing"]).into_bytes()
        } else {
            settings.secret.clone().into_bytes()
        };
        let timeout = Duration::from_millis(settings.timeout_ms);
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            // A receiver's redirect is its answer, not a new destination.
            .max_redirects(0)
            .user_agent(concat!("LLMLab-Webhook/", env!("CARGO_PKG_VERSION")));
        let agent = if settings.allow_private {
            config.build().into()
        } else {
            // Direct connections only: through an HTTP proxy (from HTTP(S)_PROXY) the
            // proxy would resolve and reach the receiver, past the address check.
            let config = config.proxy(None).build();
            ureq::Agent::with_parts(config, DefaultConnector::new(), PublicOnly)
        };
        Webhooks {
            settings: settings.clone(),
            key,
            agent,
            wake: Notify::new(),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// The secret `user_id`'s receivers check signatures with. Per user, so one tenant
    /// cannot sign deliveries another tenant's receiver accepts.
    pub fn secret_for(&self, user_id: i64) -> String {
        format!(
            "whsec_{}",
            hmac_hex(&self.key, &[format!("user:{user_id}").as_bytes()])
        )
    }

    /// Makes the worker look for due deliveries now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn lease(&self) -> TimeDelta {
        // Longer than one attempt can take, so a live instance never loses its claim.
        TimeDelta::milliseconds(i64::try_from(self.settings.timeout_ms).unwrap_or(i64::MAX / 2))
            + TimeDelta::seconds(30)
    }

    /// Wait after failed attempt `attempt` (1-based): backoff × 2^(attempt − 1).
    fn backoff(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        Duration::from_millis(self.settings.backoff_ms.saturating_mul(1 << doublings))
    }
}

/// Whether `ip` is only reachable inside a network or host: loopback, private (RFC 1918,
/// unique-local IPv6), shared address space (RFC 6598), link-local (including the cloud
/// metadata address 169.254.169.254), unspecified, broadcast, multicast and reserved
/// ranges, also when written as an IPv4-mapped IPv6 address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0 // "this network"
                || (a == 100 && (64..128).contains(&b)) // shared address space
                || a >= 240 // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

/// Checks a budget's webhook URL: a well-formed http(s) URL with a host, and, unless
/// internal receivers are allowed, not a literal internal address or `localhost`.
/// Names that resolve inside are refused at delivery by [`PublicOnly`].
pub fn check_target(url: &str, allow_private: bool) -> Result<(), &'static str> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| "must be an http(s) URL")?;
    let host = match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => host,
        _ => return Err("must be an http(s) URL"),
    };
    if allow_private {
        return Ok(());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let internal = match host.parse::<IpAddr>() {
        Ok(ip) => is_internal(ip),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    };
    if internal {
        return Err("must not target a loopback, private or link-local address");
    }
    Ok(())
}

/// The delivery client's resolver: the system's, keeping only public addresses. A
/// receiver whose name resolves only inside fails its attempt with a message saying so.
#[derive(Debug)]
struct PublicOnly;

impl Resolver for PublicOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = DefaultResolver::default().resolve(uri, config, timeout)?;
        let public: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|a| !is_internal(a.ip()))
            .collect();
        if public.is_empty() {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} resolves only to internal addresses, which webhooks may not target \
                     (LLMLAB_WEBHOOK_ALLOW_PRIVATE)",
                    uri.host().unwrap_or_default()
                ),
            )));
        }
        let mut kept = self.empty();
        for address in public {
            kept.push(address);
        }
        Ok(kept)
    }
}

/// What a receiver gets.
#[derive(Serialize)]
struct Payload {
    event: &'static str,
    alert_id: i64,
    budget_id: i64,
    budget_name: String,
    level: String,
    spent_usd: Usd,
    amount_usd: Usd,
    period: String,
    period_start: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    attempt: i32,
}

/// Starts this instance's delivery worker on the current actix system.
pub fn spawn_worker(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let poll = Duration::from_millis(state.webhooks.settings.poll_ms);
        loop {
            // Claim only what can be attempted now, so no claimed lease runs out waiting.
            let slots = &state.webhooks.in_flight;
            let Ok(first) = slots.clone().acquire_owned().await else {
                return;
            };
            let free = u32::try_from(slots.available_permits() + 1).unwrap_or(u32::MAX);
            let batch = free.min(CLAIM_BATCH);
            let now = Utc::now().naive_utc();
            let lease_until = now + state.webhooks.lease();
            let claimed = db(&state, move |s| s.claim_due_alerts(now, lease_until, batch)).await;
            let mut first = Some(first);
            let more = match claimed {
                Ok(alerts) => {
                    let full = alerts.len() == batch as usize;
                    for alert in alerts {
                        let permit = match first.take() {
                            Some(p) => p,
                            None => match slots.clone().acquire_owned().await {
                                Ok(p) => p,
                                Err(_) => return,
                            },
                        };
                        let state = state.clone();
                        actix_web::rt::spawn(async move {
                            deliver(state, alert).await;
                            drop(permit);
                        });
                    }
                    full
                }
                Err(e) => {
                    log::warn!("webhook worker: cannot claim deliveries: {e}");
                    false
                }
            };
            if !more {
                tokio::select! {
                    () = state.webhooks.wake.notified() => {}
                    () = actix_web::rt::time::sleep(poll) => {}
                }
            }
        }
    });
}

/// One attempt at one alert, recorded whatever happens.
async fn deliver(state: web::Data<AppState>, alert: AlertRow) {
    let (user_id, budget_id) = (alert.user_id, alert.budget_id);
    let budget = match db(&state, move |s| s.get_budget(user_id, budget_id)).await {
        Ok(b) => b,
        // Deleted with its alerts meanwhile; nothing left to deliver.
        Err(e) if e.status == actix_web::http::StatusCode::NOT_FOUND => return,
        Err(e) => {
            log::warn!(
                "webhook for alert {}: {e}; retried when its lease ends",
                alert.id
            );
            return;
        }
    };
    let Some(url) = budget.webhook_url.clone() else {
        let id = alert.id;
        if let Err(e) = db(&state, move |s| {
            s.finish_alert_delivery(id, delivery::CANCELLED)
        })
        .await
        {
            log::warn!("webhook for alert {id}: {e}");
        }
        return;
    };
    let attempt = alert.attempts + 1;
    let payload = Payload {
        event: "budget.alert",
        alert_id: alert.id,
        budget_id,
        budget_name: budget.name.clone(),
        level: alert.level.clone(),
        spent_usd: Usd::from_nanos(alert.spent_nanos),
        amount_usd: Usd::from_nanos(alert.amount_nanos),
        period: budget.period.clone(),
        period_start: (budget.period != "total")
            .then(|| DateTime::from_timestamp_micros(alert.period_start))
            .flatten(),
        created_at: alert.created_at.and_utc(),
        attempt,
    };
    let body = match serde_json::to_vec(&payload) {
        Ok(b) => b,
        Err(e) => {
            log::error!("webhook payload for alert {}: {e}", alert.id);
            return;
        }
    };
    let attempted_at = Utc::now();
    let sig = signature(
        &state.webhooks.secret_for(user_id),
        attempted_at.timestamp(),
        &body,
    );
    let agent = state.webhooks.agent.clone();
    let target = url.clone();
    let delivery_id = alert.id.to_string();
    let started = Instant::now();
    let outcome = web::block(move || {
        agent
            .post(&target)
            .content_type("application/json")
            .header("X-LLMLab-Event", "budget.alert")
            .header("X-LLMLab-Delivery", &delivery_id)
            .header("X-LLMLab-Signature", &sig)
            .send(&body[..])
            .map(|r| r.status().as_u16())
    })
    .await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status_code, error) = match outcome {
        Ok(Ok(code)) if (200..300).contains(&code) => (Some(code), None),
        Ok(Ok(code)) => (Some(code), Some(format!("receiver answered HTTP {code}"))),
        Ok(Err(e)) => (None, Some(e.to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
    let ok = error.is_none();
    state.metrics.webhook(ok);
    let wait = state.webhooks.backoff(attempt);
    let next = if ok {
        NextStep::Done(delivery::DELIVERED)
    } else if u32::try_from(attempt).unwrap_or(u32::MAX) >= state.webhooks.settings.max_attempts {
        NextStep::Done(delivery::FAILED)
    } else {
        NextStep::RetryAt(
            attempted_at.naive_utc() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX),
        )
    };
    let record = NewDelivery {
        attempt,
        attempted_at: attempted_at.naive_utc(),
        url,
        status_code: status_code.map(i32::from),
        ok,
        error: error.map(|e| e.chars().take(MAX_ERROR_LEN).collect()),
        duration_ms,
    };
    let id = alert.id;
    let recorded = db(&state, move |s| -> Result<bool, StoreError> {
        s.record_delivery_attempt(&alert, &record, next)
    })
    .await;
    match recorded {
        Ok(_) => {
            if let NextStep::RetryAt(_) = next {
                actix_web::rt::spawn(async move {
                    actix_web::rt::time::sleep(wait).await;
                    state.webhooks.wake();
                });
            }
        }
        Err(e) => log::warn!("webhook for alert {id}: attempt {attempt} not recorded: {e}"),
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
    fn secrets_differ_per_user_and_key() {
        let a = Webhooks::new(&settings(), "session-secret-one-0123456789abcdef");
        let b = Webhooks::new(&settings(), "session-secret-two-0123456789abcdef");
        assert_ne!(a.secret_for(1), a.secret_for(2));
        assert_ne!(a.secret_for(1), b.secret_for(1));
        assert_eq!(a.secret_for(1), a.secret_for(1));
        assert!(a.secret_for(1).starts_with("whsec_"));
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
                Err("must be an http(s) URL"),
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
