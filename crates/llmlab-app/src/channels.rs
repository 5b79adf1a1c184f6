//! Notification channels: a signed webhook, a Slack incoming webhook or email
//! addresses, each subscribed to some of the occasions in
//! [`notifications`](crate::notifications). Admins create and delete them; every
//! member sees them and their deliveries. An email address receives nothing but its
//! confirmation message until its owner confirms ([`consent`](crate::consent)).

use chrono::Utc;
use llmlab_store::send_quota::{self, Allowance, kind};
use llmlab_store::{
    ChannelId, ChannelRow, NewChannel, NotificationDeliveryRow, NotificationRow, RecipientRow,
    Store, StoreError, WorkspaceId, channels, outbox, recipients,
};
use serde_json::json;

use crate::auth::Identity;
use crate::config::NotifySettings;
use crate::notify::notice::{Event, Fact, Notice};
use crate::{AppError, Audit, audited, audited_delete, ensure_room};

/// Longest channel name, in characters.
const MAX_NAME: usize = 100;
/// Most addresses one email channel sends to.
pub const MAX_RECIPIENTS: usize = 10;
/// Longest URL.
const MAX_URL: usize = 2048;
/// Notifications `GET /api/channels/{id}/deliveries` lists, newest first.
pub const HISTORY: u32 = 100;

/// A channel as a client describes it.
pub struct ChannelForm {
    /// 1 to 100 characters, unique in the workspace.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// The receiver (webhook, slack).
    pub url: Option<String>,
    /// The addresses (email).
    pub to: Option<Vec<String>>,
    /// Subscriptions.
    pub events: Vec<String>,
}

/// A window of the sending allowances.
const HOUR_MICROS: i64 = 3_600_000_000;

/// What one workspace may send per hour.
#[derive(Debug, Clone, Copy)]
pub struct Allowances {
    /// `POST /api/channels/{id}/test` calls.
    pub tests: Allowance,
    /// Email, one per recipient of each message.
    pub emails: Allowance,
}

impl Allowances {
    /// The allowances `settings` set.
    pub fn of(settings: &NotifySettings) -> Allowances {
        let per_hour = |kind, limit: u32| Allowance {
            kind,
            limit: i32::try_from(limit).unwrap_or(i32::MAX),
            window_micros: HOUR_MICROS,
        };
        Allowances {
            tests: per_hour(kind::CHANNEL_TEST, settings.tests_per_hour),
            emails: per_hour(kind::EMAIL, settings.emails_per_hour),
        }
    }
}

/// The 429 of an allowance the store found used up; other errors as they are.
pub fn over_allowance(e: AppError) -> AppError {
    let AppError::Store(StoreError::RateLimited {
        kind: which,
        retry_after_secs,
    }) = e
    else {
        return e;
    };
    let what = if which == kind::CHANNEL_TEST {
        "channel test sends (LLMLAB_CHANNEL_TESTS_PER_HOUR)"
    } else {
        "email (LLMLAB_EMAILS_PER_HOUR, one per recipient, confirmations included)"
    };
    AppError::RateLimited {
        retry_after: retry_after_secs,
        message: format!(
            "this workspace has used its hourly allowance of {what}; nothing was sent, retry \
             after {retry_after_secs} s"
        ),
    }
}

/// Microseconds since the epoch, as the allowances count time.
fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// What the server can deliver to, as channel validation needs it.
#[derive(Clone, Copy)]
pub struct Reach {
    /// Whether SMTP is configured and the server knows its public URL (which the
    /// confirmation link needs).
    pub email: bool,
    /// Whether receivers may be internal addresses.
    pub allow_private: bool,
    /// Channels one workspace may hold.
    pub limit: usize,
    /// What a workspace may send per hour (an email channel's confirmations count).
    pub allowances: Allowances,
}

impl Reach {
    /// What a server with `settings` can deliver to.
    pub fn of(settings: &crate::config::Settings) -> Reach {
        Reach {
            email: settings.notify.smtp.is_some() && settings.public_url.is_some(),
            allow_private: settings.webhooks.allow_private,
            limit: settings.limits.channels,
            allowances: Allowances::of(&settings.notify),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::invalid(field, message.into())
}

fn target(form: &ChannelForm, reach: Reach) -> Result<String, AppError> {
    match form.kind.as_str() {
        "webhook" | "slack" => {
            let url = form.url.as_deref().map(str::trim).unwrap_or_default();
            if url.is_empty() {
                return Err(invalid(
                    "url",
                    format!("a {} channel needs a url", form.kind),
                ));
            }
            crate::input::check_text("url", url)?;
            if url.len() > MAX_URL {
                return Err(invalid("url", format!("at most {MAX_URL} bytes")));
            }
            crate::webhooks::check_target(url, reach.allow_private)
                .map_err(|m| invalid("url", m))?;
            Ok(url.to_string())
        }
        "email" => {
            if !reach.email {
                return Err(invalid(
                    "kind",
                    "email channels need the server's LLMLAB_SMTP_URL, LLMLAB_SMTP_FROM and \
                     LLMLAB_PUBLIC_URL (recipients confirm through a link to it)",
                ));
            }
            let to = form.to.as_deref().unwrap_or_default();
            if to.is_empty() || to.len() > MAX_RECIPIENTS {
                return Err(invalid(
                    "to",
                    format!("an email channel sends to 1 to {MAX_RECIPIENTS} addresses"),
                ));
            }
            let mut addresses: Vec<String> = Vec::new();
            for (i, a) in to.iter().enumerate() {
                let a = a.trim();
                if let Some(why) = crate::notify::address::refused(a) {
                    return Err(invalid(&format!("to[{i}]"), why));
                }
                if !addresses.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                    addresses.push(a.to_string());
                }
            }
            Ok(addresses.join(","))
        }
        other => Err(invalid(
            "kind",
            format!("{other:?} is not webhook, slack or email"),
        )),
    }
}

fn events(names: &[String]) -> Result<String, AppError> {
    let mut out: Vec<Event> = Vec::new();
    for name in names {
        let e = Event::parse(name.trim()).ok_or_else(|| {
            let known: Vec<&str> = Event::SUBSCRIBABLE.iter().map(|e| e.as_str()).collect();
            invalid(
                "events",
                format!("{name:?} is not one of {}", known.join(", ")),
            )
        })?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    if out.is_empty() {
        return Err(invalid("events", "subscribe to at least one event"));
    }
    Ok(out.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(","))
}

/// A channel with its email recipients (none for other kinds).
pub type Listed = (ChannelRow, Vec<RecipientRow>);

/// Creates a channel (admins); an email channel's addresses are each sent a
/// confirmation.
pub fn create(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    form: &ChannelForm,
    reach: Reach,
) -> Result<Listed, AppError> {
    let name = form.name.trim();
    crate::input::check_text("name", name)?;
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    let new = NewChannel {
        name: name.to_string(),
        kind: form.kind.clone(),
        target: target(form, reach)?,
        events: events(&form.events)?,
        created_by: by.user_id(),
    };
    ensure_room("channels", s.list_channels(workspace)?.len(), reach.limit)?;
    let (workspace_name, _) =
        s.with_conn(|c| llmlab_store::workspaces::name_and_zone(c, workspace))?;
    audited(s, workspace, &by.actor(), |c| {
        let row = channels::create(c, workspace, &new)?;
        let addresses: Vec<String> = match row.kind.as_str() {
            "email" => row.target.split(',').map(str::to_string).collect(),
            _ => Vec::new(),
        };
        // Each address is asked once, in the transaction that adds it; a confirmation
        // is mail like any other.
        let n = i32::try_from(addresses.len()).unwrap_or(i32::MAX);
        if n > 0 {
            send_quota::admit(c, workspace, reach.allowances.emails, n, now_micros())?;
        }
        let added = recipients::add(c, workspace, row.id, &addresses, true)?;
        crate::consent::ask(c, &row, &workspace_name, &added)?;
        let audit = Audit {
            action: "channel.create",
            target_kind: "channel",
            target_id: row.id.to_string(),
            details: json!({"name": row.name, "kind": row.kind, "events": row.events}),
        };
        Ok(((row, added), audit))
    })
    .map_err(|e| match e {
        AppError::Store(StoreError::Conflict(_)) => {
            invalid("name", format!("a channel named {name:?} exists"))
        }
        other => over_allowance(other),
    })
}

/// Deletes a channel with its notifications (admins).
pub fn remove(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    id: ChannelId,
) -> Result<(), AppError> {
    let audit = Audit {
        action: "channel.delete",
        target_kind: "channel",
        target_id: id.to_string(),
        details: json!({}),
    };
    audited_delete(s, workspace, &by.actor(), "channel", audit, |c| {
        channels::delete(c, workspace, id)
    })
}

/// The workspace's channels, oldest first, each with its email recipients.
pub fn list(s: &Store, workspace: WorkspaceId) -> Result<Vec<Listed>, AppError> {
    let recipients = s.list_recipients(workspace)?;
    Ok(s.list_channels(workspace)?
        .into_iter()
        .map(|c| {
            let mine = recipients
                .iter()
                .filter(|r| r.channel_id == c.id)
                .cloned()
                .collect();
            (c, mine)
        })
        .collect())
}

/// Sends a test notification to channel `id` now, whatever its subscriptions; an email
/// channel's goes to its confirmed addresses, so one that has none refuses. Each call
/// counts against the workspace's hourly test sends, and an email one's recipients
/// against its email: past either, nothing is sent (429).
pub fn test(
    s: &Store,
    workspace: WorkspaceId,
    id: ChannelId,
    allowances: Allowances,
) -> Result<NotificationRow, AppError> {
    let channel = s
        .get_channel(workspace, id)
        .map_err(|e| AppError::from(e).or_not_found("channel"))?;
    let confirmed = match channel.kind.as_str() {
        "email" => s.confirmed_recipients(workspace, id)?.len(),
        _ => 0,
    };
    if channel.kind == "email" && confirmed == 0 {
        return Err(AppError::Conflict(
            "no address of this channel has confirmed yet: each was sent a link to confirm, \
             and a test goes only to addresses that have",
        ));
    }
    let (name, _) = s.with_conn(|c| llmlab_store::workspaces::name_and_zone(c, workspace))?;
    let now = Utc::now();
    let notice = Notice {
        event: Event::Test,
        workspace_id: workspace.get(),
        workspace: name,
        title: format!("Test of channel “{}”", channel.name),
        summary: "LLMLab can reach this channel. Alerts and reports will arrive like this.".into(),
        facts: vec![Fact {
            label: "Subscribed to".into(),
            value: channel.events.replace(',', ", "),
        }],
        sections: Vec::new(),
        page: Some("/settings".into()),
        data: json!({"channel_id": id.get()}),
        created_at: now,
    };
    let payload = serde_json::to_string(&notice).map_err(|e| AppError::Internal(e.to_string()))?;
    let key = format!("test:{}", now.timestamp_micros());
    let at = now.timestamp_micros();
    s.transaction(|c| {
        send_quota::admit(c, workspace, allowances.tests, 1, at)?;
        if confirmed > 0 {
            let n = i32::try_from(confirmed).unwrap_or(i32::MAX);
            send_quota::admit(c, workspace, allowances.emails, n, at)?;
        }
        outbox::enqueue(c, workspace, id, ("test", &key), &payload)
    })
    .map_err(|e| over_allowance(e.into()))?
    .ok_or_else(|| AppError::Internal("a test notification was recorded twice".into()))
}

/// A channel's notifications, each with every attempt to deliver it.
pub type History = Vec<(NotificationRow, Vec<NotificationDeliveryRow>)>;

/// The channel and its latest notifications with every delivery attempt.
pub fn history(
    s: &Store,
    workspace: WorkspaceId,
    id: ChannelId,
) -> Result<(ChannelRow, History), AppError> {
    let channel = s
        .get_channel(workspace, id)
        .map_err(|e| AppError::from(e).or_not_found("channel"))?;
    Ok((channel, s.channel_history(workspace, id, HISTORY)?))
}
