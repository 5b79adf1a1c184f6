//! The outbox: what was recorded to be sent (budget alerts for a budget's webhook,
//! notifications for channels) goes out from here, off the request path. Each instance
//! runs the workers ([`alerts`], [`notifications`]); they claim due rows with a lease
//! (one instance per row; an instance that dies only loses its lease), send each through
//! the server's [`Transport`], record every attempt, and retry failures with the
//! webhooks' backoff up to their attempt limit. A failing receiver only ever fails its
//! own rows, and never ingestion.
//!
//! How a message travels (HTTP, SMTP) and how an email looks are the server's: this
//! crate decides what is sent, to whom and when, and the server's [`Transport`] carries
//! it.

pub mod alerts;
pub mod notifications;

use crate::notify::consent::Confirmation;
use crate::notify::notice::Notice;

/// Longest error message kept per attempt.
const MAX_ERROR_LEN: usize = 500;

/// How messages leave the server. Both calls block (connect, TLS, the exchange): the
/// outbox calls them on the blocking pool.
pub trait Transport: Send + Sync + 'static {
    /// POSTs the JSON `body` to `url` with `headers`: the receiver's status, or why
    /// nothing answered (the receiver is internal, unreachable, timed out).
    fn post_json(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> Result<u16, String>;

    /// Sends `email`: why not, when it was not accepted.
    fn send_email(&self, email: &Email) -> Result<(), String>;
}

/// An email to send.
#[derive(Debug, Clone)]
pub struct Email {
    /// The recipients (one envelope, every address in `To`).
    pub to: Vec<String>,
    /// The subject, as the reader must see it.
    pub subject: String,
    /// What it says, drawn as plain text and HTML by the transport.
    pub content: Content,
}

/// What an email says.
#[derive(Debug, Clone)]
pub enum Content {
    /// A notice of a channel, with the dashboard's public URL for its link.
    Notice(Box<Notice>, Option<String>),
    /// The one message an address gets before it confirms.
    Confirmation(Confirmation),
}

/// An attempt's outcome as it is recorded: the receiver's status (when one answered),
/// and what went wrong unless it was a 2xx.
fn answered(outcome: Result<u16, String>) -> (Option<u16>, Option<String>) {
    match outcome {
        Ok(code) if (200..300).contains(&code) => (Some(code), None),
        Ok(code) => (Some(code), Some(format!("receiver answered HTTP {code}"))),
        Err(e) => (None, Some(e)),
    }
}

/// `error` kept to [`MAX_ERROR_LEN`] characters.
fn clipped(error: Option<String>) -> Option<String> {
    error.map(|e| e.chars().take(MAX_ERROR_LEN).collect())
}
