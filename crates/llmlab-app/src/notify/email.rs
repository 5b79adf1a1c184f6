//! The SMTP server email channels send through, as configured (`LLMLAB_SMTP_URL`,
//! `LLMLAB_SMTP_FROM`), and what an address must look like. The server's mailer reads
//! the URL (its forms are documented there) and sends.

use std::fmt;

use lettre::Address;
use url::Url;

/// Where and as whom email is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// `smtp://` or `smtps://` URL, see the module documentation.
    pub url: String,
    /// The `From` mailbox: `alerts@example.com` or `LLMLab <alerts@example.com>`.
    pub from: String,
}

// Settings end up in startup logs and panics; the URL's password must not.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &redacted(&self.url))
            .field("from", &self.from)
            .finish()
    }
}

fn redacted(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                // Only fails for URLs that cannot carry credentials at all.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<not a URL>".to_string(),
    }
}

/// Whether `s` is a bare email address (`user@domain`) that the mailer accepts.
pub fn valid_address(s: &str) -> bool {
    s.parse::<Address>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.co.uk",
            "x@localhost",
            "ü@bücher.de",
        ] {
            assert!(valid_address(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@example.com",
            "a b@example.com",
            "A <a@example.com>",
            "a@example.com\r\nBcc: x@y.z",
            " a@example.com",
        ] {
            assert!(!valid_address(bad), "{bad:?}");
        }
    }
}
