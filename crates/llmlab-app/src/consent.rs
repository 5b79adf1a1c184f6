//! Email recipients' consent: an email channel mails an address only after its owner has
//! confirmed it, through a link in the one message the address gets before that.
//!
//! The link names the recipient row and carries an HMAC of it under the server's secret
//! (as the dashboard's CSRF token does), so only the mailbox that received it can
//! confirm: the workspace never sees the link (the confirmation's stored notice holds no
//! part of it), and a guessed or altered one is "not found". Opening the link shows what
//! is asked; only the page's button (a POST) confirms, because mail scanners open links.
//! Consent is per channel: it was given to what the page showed, that channel of that
//! workspace.

use chrono::{NaiveDateTime, Utc};
use llmlab_store::send_quota::{self, Allowance};
use llmlab_store::{ChannelRow, RecipientRow, Store, StoreError, WorkspaceId, channels, outbox};
use serde_json::json;

use crate::AppError;
use crate::notify::notice::{Event, Notice};
use crate::webhooks::signature::hmac_hex;

/// What a confirmation link asks, as its page shows it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The address asked.
    pub address: String,
    /// The workspace that asked, by id and by the name it gave itself.
    pub workspace_id: WorkspaceId,
    /// The workspace's name.
    pub workspace: String,
    /// The channel's name.
    pub channel: String,
    /// When it was confirmed, if it was.
    pub confirmed_at: Option<NaiveDateTime>,
}

/// The signature a confirmation link carries for `r`.
pub fn token(secret: &[u8], r: &RecipientRow) -> String {
    hmac_hex(
        secret,
        &[
            b"email-confirm:",
            r.id.to_string().as_bytes(),
            b":",
            r.workspace_id.get().to_string().as_bytes(),
            b":",
            r.channel_id.get().to_string().as_bytes(),
            b":",
            r.address.as_bytes(),
        ],
    )
}

/// The path of `r`'s confirmation page (the server's public URL goes before it).
pub fn path(secret: &[u8], r: &RecipientRow) -> String {
    format!("/email/confirm/{}/{}", r.id, token(secret, r))
}

/// Constant-time comparison, so the time an answer takes says nothing of how much of a
/// guessed signature was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The recipient a link names when its signature is right; any other link is "not
/// found", whether the row is missing or the signature wrong.
fn signed(s: &Store, secret: &[u8], id: i64, sent: &str) -> Result<RecipientRow, AppError> {
    let not_found = || AppError::NotFound("confirmation");
    let row = s.get_recipient(id).map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    if same(&token(secret, &row), sent) {
        Ok(row)
    } else {
        Err(not_found())
    }
}

fn request(s: &Store, row: RecipientRow) -> Result<Request, AppError> {
    let channel = s.get_channel(row.workspace_id, row.channel_id)?;
    let (workspace, _) =
        s.with_conn(|c| llmlab_store::workspaces::name_and_zone(c, row.workspace_id))?;
    Ok(Request {
        address: row.address,
        workspace_id: row.workspace_id,
        workspace,
        channel: channel.name,
        confirmed_at: row.confirmed_at,
    })
}

/// What the link `(id, token)` asks; changes nothing.
pub fn show(s: &Store, secret: &[u8], id: i64, token: &str) -> Result<Request, AppError> {
    let row = signed(s, secret, id, token)?;
    request(s, row)
}

/// Confirms the address the link `(id, token)` names (again is harmless); notices its
/// channel held for a confirmation go out from then on.
pub fn confirm(s: &Store, secret: &[u8], id: i64, token: &str) -> Result<Request, AppError> {
    let row = signed(s, secret, id, token)?;
    s.confirm_recipient(row.id, Utc::now().naive_utc())?;
    request(s, s.get_recipient(row.id)?)
}

/// Records the confirmation message of each of `recipients` (of `channel`, in the
/// workspace called `workspace`) in the outbox, in the caller's transaction; how many
/// were new. Its stored notice says who was asked, never the link.
pub fn ask(
    c: &mut llmlab_store::AnyConnection,
    channel: &ChannelRow,
    workspace: &str,
    recipients: &[RecipientRow],
) -> Result<usize, StoreError> {
    let mut new = 0;
    for r in recipients {
        let notice = Notice {
            event: Event::Confirmation,
            workspace_id: channel.workspace_id.get(),
            workspace: workspace.to_string(),
            title: format!("Confirmation asked of {}", r.address),
            summary: format!(
                "{} receives nothing from this channel until its owner confirms with the \
                 link sent to it.",
                r.address
            ),
            facts: Vec::new(),
            sections: Vec::new(),
            page: None,
            data: json!({"recipient_id": r.id, "address": r.address}),
            created_at: Utc::now(),
        };
        let payload =
            serde_json::to_string(&notice).map_err(|e| StoreError::Query(e.to_string()))?;
        let key = format!("confirmation:{}", r.id);
        let occasion = ("confirmation", key.as_str());
        new += usize::from(
            outbox::enqueue(c, channel.workspace_id, channel.id, occasion, &payload)?.is_some(),
        );
        llmlab_store::recipients::mark_asked(c, r)?;
    }
    Ok(new)
}

/// Addresses asked in one scheduler tick at most.
const ASK_BATCH: u32 = 100;

/// Asks the addresses that were never asked: those of channels made before
/// confirmation existed, which the upgrade listed unconfirmed. One refused by today's
/// rules (an internal domain, an IP literal) is never asked, and so never mailed. How
/// many confirmations were new.
pub fn ask_earlier(s: &Store, emails: Allowance) -> Result<usize, AppError> {
    let mut new = 0;
    for r in s.unasked_recipients(ASK_BATCH)? {
        let asked = s.transaction(|c| {
            if crate::notify::address::refused(&r.address).is_some() {
                llmlab_store::recipients::mark_asked(c, &r)?;
                return Ok(0);
            }
            // Counted like any mail; past the workspace's hour, a later tick asks.
            send_quota::admit(c, r.workspace_id, emails, 1, Utc::now().timestamp_micros())?;
            let channel = channels::get(c, r.workspace_id, r.channel_id)?;
            let (name, _) = llmlab_store::workspaces::name_and_zone(c, r.workspace_id)?;
            ask(c, &channel, &name, std::slice::from_ref(&r))
        });
        match asked {
            Ok(n) => new += n,
            Err(StoreError::RateLimited { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(new)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use llmlab_store::ChannelId;

    fn row(id: i64, address: &str) -> RecipientRow {
        RecipientRow {
            id,
            workspace_id: WorkspaceId(7),
            channel_id: ChannelId(3),
            address: address.into(),
            asked: true,
            confirmed_at: None,
            created_at: Utc::now().naive_utc(),
        }
    }

    #[test]
    fn a_link_is_signed_over_the_row_and_its_address() {
        let key = b"server secret";
        let t = token(key, &row(1, "a@example.com"));
        assert_eq!(t.len(), 64);
        assert_eq!(t, token(key, &row(1, "a@example.com")));
        assert_ne!(t, token(key, &row(2, "a@example.com")));
        assert_ne!(t, token(key, &row(1, "b@example.com")));
        assert_ne!(t, token(b"another secret", &row(1, "a@example.com")));
        assert_eq!(
            path(key, &row(1, "a@example.com")),
            format!("/email/confirm/1/{t}")
        );
        assert!(same(&t, &t.clone()) && !same(&t, &t[1..]) && !same(&t, &"0".repeat(64)));
    }
}
