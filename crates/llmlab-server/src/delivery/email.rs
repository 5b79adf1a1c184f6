//! Email over SMTP: a [`Mailer`] per configured server sends one message per call, plain
//! text and HTML as `multipart/alternative`, over a new connection each time. Sending
//! blocks the calling thread (connect, TLS, the SMTP exchange), so call it from a blocking
//! thread, never on an executor.
//!
//! The server is a URL:
//!
//! | URL                                     | Connection                               | Default port |
//! |-----------------------------------------|------------------------------------------|--------------|
//! | `smtps://host[:port]`                   | implicit TLS from the first byte         | 465          |
//! | `smtp://host[:port]`                    | STARTTLS if offered, see below           | 587          |
//! | `smtp://host[:port]?tls=required`       | STARTTLS, failing if it is not offered   | 587          |
//! | `smtp://host[:port]?tls=opportunistic`  | STARTTLS if offered, plain text if not   | 587          |
//! | `smtp://host[:port]?tls=none`           | plain text, never TLS                    | 25           |
//!
//! These are lettre's `SmtpTransport::from_url` forms with one change: lettre reads a bare
//! `smtp://` as plain text on port 25, which silently sends passwords in clear to a
//! submission server that expects STARTTLS. Here a bare `smtp://` means STARTTLS, as in mail
//! clients: opportunistic without credentials, and *required* when the URL carries
//! credentials and the host is not loopback, because whoever is on the path can strip the
//! server's STARTTLS offer and would then read the password. Loopback (`127.0.0.0/8`,
//! `::1`, `localhost`) keeps opportunistic STARTTLS since that traffic never leaves the
//! machine (a local relay, tests). `tls=none` is the explicit way to plain text.
//!
//! Credentials are `user:password@`, percent-decoded (`%40` for `@`, `%3A` for `:`), and
//! sent with AUTH PLAIN or LOGIN, whichever the server offers. A path (`smtp://host/name`)
//! is the name given in EHLO instead of this machine's hostname. Certificates are checked
//! against the webpki (Mozilla) roots. No error message ever repeats the URL, so none
//! carries its password.

use std::time::Duration;

use email_encoding::headers::rfc2047;
use email_encoding::headers::writer::EmailWriter;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::{self, SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT};
use lettre::{Address, Message, SmtpTransport, Transport};
use llmlab_app::notify::email::SmtpSettings;
use url::{Host, Url};

/// Sends email through one SMTP server. Cheap to clone; holds no connection.
#[derive(Debug, Clone)]
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    /// `host:port (security)`, for error messages: which server, and how it was reached.
    server: String,
}

impl Mailer {
    /// Checks `settings` without connecting. `timeout` bounds the connection and each
    /// wait for the server's answer.
    pub fn new(settings: &SmtpSettings, timeout: Duration) -> Result<Mailer, String> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| format!("the sender {:?} is not a valid mailbox: {e}", settings.from))?;
        let endpoint = endpoint(&settings.url)?;
        let transport = SmtpTransport::from_url(&endpoint.url)
            .map_err(|e| format!("the SMTP URL is not usable: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(Mailer {
            transport,
            from,
            server: format!(
                "{}:{} ({})",
                endpoint.host,
                endpoint.port,
                endpoint.security.label()
            ),
        })
    }

    /// Sends one message to all of `to` (one envelope, every address in `To`).
    pub fn send(&self, to: &[String], subject: &str, text: &str, html: &str) -> Result<(), String> {
        let message = self.message(to, subject, text, html)?;
        self.transport
            .send(&message)
            .map(drop)
            .map_err(|e| self.failure(&e))
    }

    fn message(
        &self,
        to: &[String],
        subject: &str,
        text: &str,
        html: &str,
    ) -> Result<Message, String> {
        if to.is_empty() {
            return Err("an email needs at least one recipient".to_string());
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .raw_header(subject_header(subject));
        for address in to {
            let parsed: Address = address
                .parse()
                .map_err(|e| format!("the recipient {address:?} is not a valid address: {e}"))?;
            builder = builder.to(Mailbox::new(None, parsed));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                text.to_string(),
                html.to_string(),
            ))
            .map_err(|e| format!("the email could not be built: {e}"))
    }

    /// Names the step that failed; lettre's own text follows for the details.
    fn failure(&self, e: &smtp::Error) -> String {
        let server = &self.server;
        if e.is_timeout() {
            return format!("the SMTP server {server} did not answer in time: {e}");
        }
        if e.is_tls() {
            return format!("TLS with the SMTP server {server} failed: {e}");
        }
        if let Some(code) = e.status() {
            let code = code.to_string();
            // RFC 4954's authentication codes; 530 is also "STARTTLS first".
            if matches!(code.as_str(), "530" | "534" | "535" | "538") {
                return format!("the SMTP server {server} refused authentication: {e}");
            }
            if e.is_permanent() {
                return format!(
                    "the SMTP server {server} rejected the sender, a recipient or the message: {e}"
                );
            }
            return format!("the SMTP server {server} deferred the email (try again later): {e}");
        }
        if e.is_client() {
            // What the client refused to do: STARTTLS required but not offered, no AUTH
            // mechanism in common.
            return format!("the SMTP exchange with {server} failed: {e}");
        }
        if e.is_response() {
            return format!("the SMTP server {server} sent an answer that is not SMTP: {e}");
        }
        format!("could not reach the SMTP server {server}, or lost the connection: {e}")
    }
}

/// The `Subject` header for `subject`, as the reader must see it.
///
/// lettre encodes a subject word by word, and only the words holding non-ASCII, CR, LF or
/// NUL: a word such as `=?utf-8?q?Pay_now?=` goes out raw and a mail client decodes it into
/// other text, and other control characters (an escape) go out raw too. A subject holding
/// any of those, or `=?` anywhere, is therefore written entirely as encoded-words
/// (RFC 2047, base64 UTF-8, folded), which decode to exactly its characters; any other is
/// plain printable ASCII and left to lettre. Display names need nothing of this: lettre
/// encodes every name that holds more than letters, digits, blanks and `-_."\`, so `=?`
/// in a name is encoded already.
fn subject_header(subject: &str) -> HeaderValue {
    let name = HeaderName::new_from_ascii_str("Subject");
    let risky = subject.contains("=?") || subject.chars().any(|c| !c.is_ascii() || c.is_control());
    if !risky {
        return HeaderValue::new(name, subject.to_string());
    }
    let mut encoded = String::new();
    {
        let mut w = EmailWriter::new(&mut encoded, "Subject: ".len(), 0, false);
        // Writing to a String cannot fail.
        let _ = rfc2047::encode(subject, &mut w);
    }
    HeaderValue::dangerous_new_pre_encoded(name, subject.to_string(), encoded)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    Opportunistic,
    Required,
    Implicit,
}

impl Security {
    fn label(self) -> &'static str {
        match self {
            Security::Plain => "plain text",
            Security::Opportunistic => "STARTTLS if offered",
            Security::Required => "STARTTLS required",
            Security::Implicit => "implicit TLS",
        }
    }
}

/// An SMTP URL read and rewritten into the lettre form that has the same meaning.
// No Debug: `url` carries the password.
struct Endpoint {
    url: String,
    host: String,
    port: u16,
    security: Security,
}

fn endpoint(raw: &str) -> Result<Endpoint, String> {
    let mut url = Url::parse(raw).map_err(|e| format!("the SMTP URL is not a URL: {e}"))?;
    let mut tls = None;
    for (key, value) in url.query_pairs() {
        match (&*key, &tls) {
            ("tls", None) => tls = Some(value.into_owned()),
            ("tls", Some(_)) => return Err("the SMTP URL gives `tls` twice".to_string()),
            // lettre ignores unknown parameters; a typo in `tls` must not mean plain text.
            (other, _) => {
                return Err(format!(
                    "the SMTP URL has an unknown parameter {other:?} (only `tls` is known)"
                ));
            }
        }
    }
    let host = match url.host() {
        Some(Host::Domain("")) | None => return Err("the SMTP URL has no host".to_string()),
        // lettre connects to the bracketed form, which does not resolve.
        Some(Host::Ipv6(_)) => {
            return Err("the SMTP URL's host is an IPv6 address; use a host name".to_string());
        }
        Some(host) => host.to_owned(),
    };
    let credentials = url.password().is_some();
    if credentials && url.username().is_empty() {
        return Err("the SMTP URL has a password but no user".to_string());
    }
    if !credentials && !url.username().is_empty() {
        // lettre would silently send without logging in.
        return Err("the SMTP URL has a user but no password".to_string());
    }
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => Security::Implicit,
        ("smtps", Some(_)) => {
            return Err("`tls` only applies to smtp:// (smtps:// is always TLS)".to_string());
        }
        ("smtp", None) if credentials && !loopback(&host) => Security::Required,
        ("smtp", None | Some("opportunistic")) => Security::Opportunistic,
        ("smtp", Some("required")) => Security::Required,
        ("smtp", Some("none")) => Security::Plain,
        ("smtp", Some(other)) => {
            return Err(format!(
                "the SMTP URL's tls={other:?} is not one of none, opportunistic, required"
            ));
        }
        (other, _) => {
            return Err(format!(
                "the SMTP URL's scheme {other:?} is not smtp or smtps"
            ));
        }
    };
    url.set_query(match security {
        Security::Opportunistic => Some("tls=opportunistic"),
        Security::Required => Some("tls=required"),
        Security::Plain | Security::Implicit => None,
    });
    url.set_fragment(None);
    let port = url.port().unwrap_or(match security {
        Security::Plain => SMTP_PORT,
        Security::Implicit => SUBMISSIONS_PORT,
        Security::Opportunistic | Security::Required => SUBMISSION_PORT,
    });
    Ok(Endpoint {
        url: url.to_string(),
        host: host.to_string(),
        port,
        security,
    })
}

fn loopback(host: &Host) -> bool {
    match host {
        // smtp is not a scheme the URL standard knows, so its IPv4 hosts stay "domains".
        Host::Domain(name) => match name.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => name.eq_ignore_ascii_case("localhost"),
        },
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECRET: &str = "hunter2";

    fn ok(url: &str) -> Endpoint {
        match endpoint(url) {
            Ok(e) => e,
            Err(e) => panic!("{url}: {e}"),
        }
    }

    fn err(url: &str) -> String {
        match endpoint(url) {
            Ok(e) => panic!("{url} was accepted as {}", e.url),
            Err(e) => {
                assert!(!e.contains(SECRET), "{e}");
                e
            }
        }
    }

    fn settings(url: &str, from: &str) -> SmtpSettings {
        SmtpSettings {
            url: url.to_string(),
            from: from.to_string(),
        }
    }

    fn mailer(url: &str) -> Mailer {
        Mailer::new(
            &settings(url, "LLMLab <alerts@example.com>"),
            Duration::from_secs(1),
        )
        .unwrap()
    }

    #[test]
    fn bare_smtp_is_starttls_required_with_credentials_to_a_remote_host() {
        let e = ok("smtp://mail.example.com");
        assert_eq!((e.security, e.port), (Security::Opportunistic, 587));
        assert_eq!(e.url, "smtp://mail.example.com?tls=opportunistic");

        let e = ok("smtp://me:hunter2@mail.example.com");
        assert_eq!((e.security, e.port), (Security::Required, 587));
        assert_eq!(e.host, "mail.example.com");
    }

    #[test]
    fn loopback_with_credentials_stays_opportunistic() {
        for url in [
            "smtp://me:hunter2@127.0.0.1:2525",
            "smtp://me:hunter2@127.8.9.10:2525",
            "smtp://me:hunter2@LocalHost:2525",
        ] {
            let e = ok(url);
            assert_eq!(
                (e.security, e.port),
                (Security::Opportunistic, 2525),
                "{url}"
            );
        }
    }

    #[test]
    fn explicit_tls_modes_and_smtps() {
        let e = ok("smtp://me:hunter2@mail.example.com?tls=opportunistic");
        assert_eq!(e.security, Security::Opportunistic);
        let e = ok("smtp://127.0.0.1?tls=required");
        assert_eq!((e.security, e.port), (Security::Required, 587));
        let e = ok("smtp://relay.internal?tls=none");
        assert_eq!((e.security, e.port), (Security::Plain, 25));
        assert_eq!(e.url, "smtp://relay.internal");
        let e = ok("smtps://me:hunter2@mail.example.com");
        assert_eq!((e.security, e.port), (Security::Implicit, 465));
        let e = ok("smtps://mail.example.com:2465/ehlo.example.com#x");
        assert_eq!((e.security, e.port), (Security::Implicit, 2465));
        assert_eq!(e.url, "smtps://mail.example.com:2465/ehlo.example.com");
    }

    #[test]
    fn percent_encoded_credentials_reach_lettre_encoded() {
        let e = ok("smtp://me%40example.com:p%3Ass%40w@mail.example.com");
        assert_eq!(
            e.url,
            "smtp://me%40example.com:p%3Ass%40w@mail.example.com?tls=required"
        );
        let m = mailer("smtp://me%40example.com:p%3Ass%40w@mail.example.com");
        assert!(!format!("{m:?}").contains("p%3Ass"));
        // Not UTF-8 once decoded: refused by lettre, not mangled.
        let e = Mailer::new(
            &settings("smtp://me:%FF@mail.example.com", "a@example.com"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(e.contains("SMTP URL"), "{e}");
    }

    #[test]
    fn bad_urls_are_errors_that_do_not_repeat_the_password() {
        for (url, says) in [
            ("mail.example.com", "not a URL"),
            ("smtp://me:hunter2@", "not a URL"),
            ("smtp:hunter2", "no host"),
            ("http://me:hunter2@mail.example.com", "scheme \"http\""),
            (
                "smtp://me:hunter2@mail.example.com?tls=maybe",
                "tls=\"maybe\"",
            ),
            (
                "smtp://me:hunter2@mail.example.com?tls=none&tls=required",
                "twice",
            ),
            (
                "smtp://me:hunter2@mail.example.com?tsl=required",
                "unknown parameter \"tsl\"",
            ),
            (
                "smtps://me:hunter2@mail.example.com?tls=none",
                "only applies to smtp://",
            ),
            ("smtp://me@mail.example.com", "no password"),
            ("smtp://:hunter2@mail.example.com", "no user"),
            ("smtp://me:hunter2@[::1]:25", "IPv6"),
            ("smtp://me:hunter2@mail.example.com:99999", "not a URL"),
        ] {
            let e = err(url);
            assert!(e.contains(says), "{url}: {e}");
        }
    }

    #[test]
    fn the_sender_must_be_a_mailbox() {
        let url = "smtp://me:hunter2@mail.example.com";
        for from in ["alerts@example.com", "LLMLab <alerts@example.com>"] {
            assert!(
                Mailer::new(&settings(url, from), Duration::from_secs(1)).is_ok(),
                "{from}"
            );
        }
        for from in ["", "alerts", "alerts@", "LLMLab <alerts>"] {
            let e = Mailer::new(&settings(url, from), Duration::from_secs(1)).unwrap_err();
            assert!(e.contains("sender"), "{from}: {e}");
            assert!(!e.contains(SECRET), "{e}");
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        let s = settings("smtps://me:hunter2@mail.example.com", "a@example.com");
        let shown = format!("{s:?}");
        assert!(
            !shown.contains(SECRET) && shown.contains("me:***@"),
            "{shown}"
        );
        let shown = format!("{:?}", Mailer::new(&s, Duration::from_secs(1)).unwrap());
        assert!(!shown.contains(SECRET), "{shown}");
    }

    #[test]
    fn the_message_is_multipart_alternative_and_headers_cannot_be_injected() {
        let m = mailer("smtp://127.0.0.1:1");
        let to = vec!["a@example.com".to_string(), "b@example.com".to_string()];
        let msg = m
            .message(
                &to,
                "Budget\r\nBcc: evil@example.com",
                "plain body",
                "<p>html body</p>",
            )
            .unwrap();
        let raw = String::from_utf8(msg.formatted()).unwrap();
        assert!(!raw.lines().any(|l| l.starts_with("Bcc:")), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("plain body") && raw.contains("<p>html body</p>"),
            "{raw}"
        );
        let envelope = msg.envelope();
        assert_eq!(envelope.to().len(), 2);
        assert_eq!(envelope.from().unwrap().to_string(), "alerts@example.com");

        let e = m
            .message(&["not an address".to_string()], "s", "t", "h")
            .unwrap_err();
        assert!(e.contains("recipient \"not an address\""), "{e}");
        assert!(m.message(&[], "s", "t", "h").is_err());
    }
}
