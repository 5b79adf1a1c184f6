//! How the outbox's messages leave the server (`llmlab_app::outbox::Transport`): JSON
//! POSTs through an HTTP client that refuses internal receivers whatever their names
//! resolve to ([`PublicOnly`]), and email through the configured SMTP server
//! ([`email::Mailer`]), drawn by [`render`].

pub mod email;
mod render;

use std::net::SocketAddr;
use std::time::Duration;

use llmlab_app::config::{Settings, WebhookSettings};
use llmlab_app::outbox::{Email, Transport};
use llmlab_app::webhooks::is_internal;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use email::Mailer;

/// The HTTP client and the mailer every delivery goes through.
pub struct Deliveries {
    agent: ureq::Agent,
    mailer: Option<Mailer>,
}

impl Deliveries {
    /// The clients `settings` ask for; an unusable SMTP setting is an error at start.
    pub fn new(settings: &Settings) -> Result<Deliveries, String> {
        let mailer = match &settings.notify.smtp {
            Some(smtp) => Some(
                Mailer::new(smtp, Duration::from_millis(settings.webhooks.timeout_ms))
                    .map_err(|e| format!("LLMLAB_SMTP_URL / LLMLAB_SMTP_FROM: {e}"))?,
            ),
            None => None,
        };
        Ok(Deliveries {
            agent: agent(&settings.webhooks),
            mailer,
        })
    }
}

/// The webhook client: a global timeout per attempt, no redirects (a receiver's
/// redirect is its answer, not a new destination), and unless internal receivers are
/// allowed, direct connections only to public addresses.
fn agent(settings: &WebhookSettings) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(settings.timeout_ms)))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("LLMLab-Webhook/", env!("CARGO_PKG_VERSION")));
    if settings.allow_private {
        config.build().into()
    } else {
        // Direct connections only: through an HTTP proxy (from HTTP(S)_PROXY) the proxy
        // would resolve and reach the receiver, past the address check.
        let config = config.proxy(None).build();
        ureq::Agent::with_parts(config, DefaultConnector::new(), PublicOnly)
    }
}

impl Transport for Deliveries {
    fn post_json(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> Result<u16, String> {
        let mut request = self.agent.post(url).content_type("application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request
            .send(body)
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    }

    fn send_email(&self, email: &Email) -> Result<(), String> {
        let Some(mailer) = &self.mailer else {
            return Err("SMTP is not configured (LLMLAB_SMTP_URL)".into());
        };
        let (text, html) = render::parts(&email.content);
        mailer.send(&email.to, &email.subject, &text, &html)
    }
}

/// The delivery client's resolver: the system's, keeping only public addresses (the
/// same table a URL is checked against when it is saved). A receiver whose name
/// resolves only inside fails its attempt with a message saying so.
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
