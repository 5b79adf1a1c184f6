//! Notification channels and their deliveries.

use chrono::{DateTime, Utc};
use llmlab_app::{ChannelRow, NotificationDeliveryRow, NotificationRow, RecipientRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A channel to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChannelIn {
    /// 1 to 100 characters, unique in the workspace.
    pub name: String,
    /// `webhook` (signed JSON POST), `slack` (an incoming-webhook URL) or `email`.
    pub kind: String,
    /// The receiver's URL (webhook, slack); public addresses only.
    pub url: Option<String>,
    /// 1 to 10 addresses at public domain names (email): IP literals, single-label hosts
    /// and reserved or internal names (`localhost`, `.local`, `.internal`, `.test`, …) are a
    /// 422 naming the address (`to[3]`).
    pub to: Option<Vec<String>>,
    /// Any of `budget`, `forecast`, `anomaly`, `unpriced`, `drift` (an imported bill
    /// drifts from what was tracked), `report_weekly`, `report_monthly`.
    pub events: Vec<String>,
}

/// A channel. URLs are shown by scheme and host only: a Slack incoming-webhook URL is a
/// credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelOut {
    /// Its id (a budget's `channel_ids` name it).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// `https://host/…` for webhook and slack channels.
    pub url: Option<String>,
    /// The addresses of an email channel.
    pub to: Option<Vec<String>>,
    /// Each address of an email channel with its consent, in the order of `to`.
    pub recipients: Option<Vec<RecipientOut>>,
    /// What it subscribes to.
    pub events: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// An address of an email channel. It receives the channel's notifications once its
/// owner has confirmed through the link sent to it; until then, nothing more.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientOut {
    /// The address.
    pub address: String,
    /// `pending` (asked, not confirmed) or `confirmed`.
    pub status: String,
    /// When its owner confirmed.
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl From<RecipientRow> for RecipientOut {
    fn from(r: RecipientRow) -> RecipientOut {
        RecipientOut {
            address: r.address,
            status: if r.confirmed_at.is_some() {
                "confirmed"
            } else {
                "pending"
            }
            .to_string(),
            confirmed_at: r.confirmed_at.map(|t| t.and_utc()),
        }
    }
}

/// `scheme://host/…`: where a URL goes, without what authenticates it.
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/…")
}

impl From<(ChannelRow, Vec<RecipientRow>)> for ChannelOut {
    fn from((c, recipients): (ChannelRow, Vec<RecipientRow>)) -> ChannelOut {
        let email = c.kind == "email";
        ChannelOut {
            id: c.id.get(),
            url: (!email).then(|| redacted(&c.target)),
            to: email.then(|| c.target.split(',').map(str::to_string).collect()),
            recipients: email.then(|| recipients.into_iter().map(RecipientOut::from).collect()),
            events: c.events.split(',').map(str::to_string).collect(),
            name: c.name,
            kind: c.kind,
            created_at: c.created_at.and_utc(),
        }
    }
}

/// `{channels: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    /// Oldest first.
    pub channels: Vec<ChannelOut>,
}

/// A test notification was recorded; it is delivered like any other.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestQueued {
    /// The notification (see the channel's deliveries).
    pub notification_id: i64,
    /// `pending`.
    pub status: String,
}

/// One attempt to deliver a notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    /// 1-based.
    pub attempt: i32,
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status (webhook, slack).
    pub status_code: Option<i32>,
    /// Whether it was accepted.
    pub ok: bool,
    /// What went wrong.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// A notification with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    /// Its id.
    pub id: i64,
    /// `budget`, `forecast`, `anomaly`, `unpriced`, `drift`, `report_weekly`,
    /// `report_monthly`, `test` or `confirmation` (the message an email address gets before it confirms).
    pub event: String,
    /// The occasion (`budget:<alert id>`, `report_weekly:<first day>`, …), once per
    /// channel.
    pub occasion: String,
    /// `pending`, `delivering`, `delivered` or `failed`.
    pub status: String,
    /// Why a pending notification waits without an attempt: `confirmation` (no address
    /// of its email channel has confirmed yet; it goes out when one does) or
    /// `hourly_limit` (the workspace's email for this hour is used up).
    pub held: Option<String>,
    /// What it says.
    #[schema(value_type = Object)]
    pub notice: serde_json::Value,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// Every attempt, first first.
    pub deliveries: Vec<AttemptOut>,
}

impl From<(NotificationRow, Vec<NotificationDeliveryRow>)> for NotificationOut {
    fn from((n, attempts): (NotificationRow, Vec<NotificationDeliveryRow>)) -> NotificationOut {
        NotificationOut {
            id: n.id,
            event: n.event,
            occasion: n.dedup_key,
            status: n.status,
            held: n.held,
            notice: serde_json::from_str(&n.payload_json).unwrap_or_default(),
            created_at: n.created_at.and_utc(),
            deliveries: attempts
                .into_iter()
                .map(|a| AttemptOut {
                    attempt: a.attempt,
                    attempted_at: a.attempted_at.and_utc(),
                    status_code: a.status_code,
                    ok: a.ok,
                    error: a.error,
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

/// `{notifications: [...]}`, newest first (the latest 100).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    /// Newest first.
    pub notifications: Vec<NotificationOut>,
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn urls_show_only_where_they_go() {
        let slack = "https://hooks.slack.com/services/T000/B000/XXXX";
        assert_eq!(redacted(slack), "https://hooks.slack.com/…");
        assert_eq!(
            redacted("http://u:p@example.com:8080?x=1"),
            "http://example.com:8080/…"
        );
    }
}
