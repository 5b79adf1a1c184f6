//! Channels: where notices go (a webhook, Slack, email), with their subscriptions and
//! recipients. Admins create, test and delete them here; everyone in the workspace sees
//! them and each one's deliveries. URLs are shown without their path, which is what
//! authenticates a Slack or webhook URL.

use actix_web::{HttpRequest, web};
use llmlab_app::channels::{self as use_case, Allowances, ChannelForm, Reach};
use llmlab_app::notify::notice::Event;
use llmlab_app::{AppState, ChannelId, Role, blocking};
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::form::{Submitted, act_then_back, done, hidden};
use super::pages::{Page, remembered};
use super::refused::Refused;
use super::session::{Visitor, visitor};
use super::view::page;
use crate::access::AdminOnly;
use crate::dto::redacted;

/// The new-channel form's fields a refusal can be about.
const FIELDS: [&str; 4] = ["name", "kind", "target", "events"];

/// The new-channel form: one checkbox per subscribable event (`ev_budget=on`, …).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewChannel {
    name: String,
    kind: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    ev_budget: Option<String>,
    #[serde(default)]
    ev_forecast: Option<String>,
    #[serde(default)]
    ev_anomaly: Option<String>,
    #[serde(default)]
    ev_unpriced: Option<String>,
    #[serde(default)]
    ev_drift: Option<String>,
    #[serde(default)]
    ev_report_weekly: Option<String>,
    #[serde(default)]
    ev_report_monthly: Option<String>,
}

impl NewChannel {
    /// Whether the form subscribes to `event`.
    fn wants(&self, event: Event) -> bool {
        match event {
            Event::Budget => &self.ev_budget,
            Event::Forecast => &self.ev_forecast,
            Event::Anomaly => &self.ev_anomaly,
            Event::Unpriced => &self.ev_unpriced,
            Event::Drift => &self.ev_drift,
            Event::ReportWeekly => &self.ev_report_weekly,
            Event::ReportMonthly => &self.ev_report_monthly,
            Event::Test | Event::Confirmation => &None,
        }
        .is_some()
    }

    /// The use case's form: the target is a URL, or addresses separated by commas.
    fn form(&self) -> ChannelForm {
        let email = self.kind == "email";
        let target = self.target.trim();
        ChannelForm {
            name: self.name.clone(),
            kind: self.kind.clone(),
            url: (!email).then(|| target.to_string()),
            to: email.then(|| {
                target
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect()
            }),
            events: Event::SUBSCRIBABLE
                .into_iter()
                .filter(|e| self.wants(*e))
                .map(|e| e.as_str().to_string())
                .collect(),
        }
    }
}

pub async fn channels(req: HttpRequest, state: web::Data<AppState>) -> Page {
    let v = visitor(&req, &state, None).await?;
    show(&state, &v, None).await
}

/// The channels page, with a refused form (or test) shown again when there is one.
async fn show(
    state: &web::Data<AppState>,
    v: &Visitor,
    retry: Option<(NewChannel, Refused)>,
) -> Page {
    let ws = v.workspace();
    let listed = blocking(state, move |s| use_case::list(s, ws)).await?;
    let admin = v.may(Role::Admin);
    let email = Reach::of(&state.settings).email;
    let (typed, refused) = match &retry {
        Some((f, r)) => (f.clone(), Some(r)),
        None => (
            NewChannel {
                kind: "slack".into(),
                ev_budget: Some("on".into()),
                ev_forecast: Some("on".into()),
                ev_anomaly: Some("on".into()),
                ..NewChannel::default()
            },
            None,
        ),
    };
    let body = html! {
        h1 { "Channels" }
        p { "Budget alerts, forecast warnings, anomalies, unpriced models and the weekly and monthly reports go to the channels subscribed to them, once each, retried with backoff." }
        @if !email { p.notice { "This server has no SMTP settings (" code { "LLMLAB_SMTP_URL" } ", " code { "LLMLAB_PUBLIC_URL" } "), so email channels are refused; webhook and Slack channels work." } }
        @if let Some(r) = refused { (r.above(&FIELDS)) }
        @if listed.is_empty() { p { "No channels yet." } }
        @else {
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Sends to" } th scope="col" { "Subscribed to" } th scope="col" { "" } } }
                tbody { @for (c, recipients) in &listed { tr {
                    td { (c.name) } td { (c.kind) }
                    td { @if c.kind == "email" {
                        @for r in recipients { (r.address) " (" (if r.confirmed_at.is_some() { "confirmed" } else { "pending" }) ") " }
                    } @else { code { (redacted(&c.target)) } } }
                    td { (c.events.replace(',', ", ")) }
                    td {
                        a href=(format!("/channels/{}", c.id.get())) { "Deliveries of " (c.name) }
                        @if admin {
                            form.inline method="post" action=(format!("/channels/{}/test", c.id.get())) {
                                (hidden(v)) button type="submit" { "Test " (c.name) }
                            }
                            form.inline method="post" action=(format!("/channels/{}/delete", c.id.get())) {
                                (hidden(v)) button.danger type="submit" { "Delete " (c.name) }
                            }
                        }
                    }
                } } }
            }
        }
        @if admin { (new_channel(v, &typed, refused)) }
    };
    let mut response = remembered(state, v, None, page("Channels", v, "/channels", body));
    if let Some((_, r)) = &retry {
        *response.status_mut() = r.status;
    }
    Ok(response)
}

/// The form that creates a channel, holding `typed`, with why it was refused.
fn new_channel(v: &Visitor, typed: &NewChannel, refused: Option<&Refused>) -> Markup {
    let about = |f: &str| refused.is_some_and(|r| r.about(f));
    let target_wrong = about("target");
    html! {
        h2 { "New channel" }
        form method="post" action="/channels" {
            (hidden(v))
            label for="channel-name" { "Name" }
            input #channel-name name="name" value=(typed.name) required maxlength="100"
                aria-invalid=[about("name").then_some("true")] aria-describedby=[about("name").then_some("channel-name-error")];
            @if let Some(r) = refused { (r.beside("name", "channel-name-error")) }
            label for="channel-kind" { "Kind" }
            select #channel-kind name="kind" aria-invalid=[about("kind").then_some("true")] aria-describedby=[about("kind").then_some("channel-kind-error")] {
                @for k in ["slack", "webhook", "email"] { option value=(k) selected[k == typed.kind] { (k) } }
            }
            @if let Some(r) = refused { (r.beside("kind", "channel-kind-error")) }
            label for="channel-target" { "Slack or webhook URL, or email addresses separated by commas" }
            input #channel-target name="target" value=(typed.target) required
                aria-invalid=[target_wrong.then_some("true")] aria-describedby=[target_wrong.then_some("channel-target-error")];
            @if let Some(r) = refused { (r.beside("target", "channel-target-error")) }
            fieldset aria-describedby=[about("events").then_some("channel-events-error")] {
                legend { "Sends" }
                @for e in Event::SUBSCRIBABLE {
                    label { input type="checkbox" name=(format!("ev_{}", e.as_str())) value="on" checked[typed.wants(e)]; " " (e.as_str().replace('_', " ")) }
                }
            }
            @if let Some(r) = refused { (r.beside("events", "channel-events-error")) }
            button type="submit" { "Create channel" }
        }
    }
}

pub async fn create(state: web::Data<AppState>, form: Submitted<AdminOnly, NewChannel>) -> Page {
    let (v, typed) = form.into_parts();
    let (ws, identity, reach, channel) = (
        v.workspace(),
        v.identity.clone(),
        Reach::of(&state.settings),
        typed.form(),
    );
    let made = blocking(&state, move |s| {
        use_case::create(s, ws, &identity, &channel, reach)
    })
    .await;
    match made {
        Ok(_) => Ok(done(&state, &v, "/channels")),
        Err(e) => {
            let mut refused = Refused::of(WebError::from(e))?;
            // The form has one field for the URL or the addresses (`to`, `to[2]`).
            if refused
                .field
                .as_deref()
                .is_some_and(|f| f == "url" || f.starts_with("to"))
            {
                refused.field = Some("target".into());
            }
            show(&state, &v, Some((typed, refused))).await
        }
    }
}

pub async fn test(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: Submitted<AdminOnly>,
) -> Page {
    let v = form.visitor;
    let (ws, id) = (v.workspace(), ChannelId(path.into_inner()));
    let allowances = Allowances::of(&state.settings.notify);
    match blocking(&state, move |s| use_case::test(s, ws, id, allowances)).await {
        Ok(_) => Ok(done(&state, &v, &format!("/channels/{}", id.get()))),
        // An email channel without a confirmed address (409), the hour's tests used up
        // (429): the page again, saying so.
        Err(e) => {
            let refused = Refused::of(WebError::from(e))?;
            show(&state, &v, Some((NewChannel::default(), refused))).await
        }
    }
}

pub async fn delete(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: Submitted<AdminOnly>,
) -> Page {
    let id = ChannelId(path.into_inner());
    act_then_back(&state, form, "/channels", |ws, by| {
        blocking(&state, move |s| use_case::remove(s, ws, &by, id))
    })
    .await
}

/// A channel's latest notifications, each with every delivery attempt.
pub async fn deliveries(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Page {
    let v = visitor(&req, &state, None).await?;
    let (ws, id) = (v.workspace(), ChannelId(path.into_inner()));
    let (channel, history) = blocking(&state, move |s| use_case::history(s, ws, id)).await?;
    let name = channel.name;
    let body = html! {
        h1 { "Deliveries of " (name) }
        p { a href="/channels" { "All channels" } }
        @if history.is_empty() { p { "Nothing sent yet." } }
        @else {
            table {
                thead { tr { th scope="col" { "Recorded (UTC)" } th scope="col" { "Notice" } th scope="col" { "Status" } th scope="col" { "Attempts" } } }
                tbody { @for (n, attempts) in &history { tr {
                    td { (n.created_at.format("%Y-%m-%d %H:%M:%S")) } td { (n.event.replace('_', " ")) }
                    td { (n.status) @if let Some(why) = &n.held { " (" (why) ")" } }
                    td { @if attempts.is_empty() { "none yet" }
                        ul { @for a in attempts { li {
                            (a.attempted_at.format("%H:%M:%S")) " · "
                            (a.status_code.map_or_else(|| "no answer".to_string(), |c| c.to_string()))
                            " · " (if a.ok { "accepted" } else { "failed" })
                            @if let Some(e) = &a.error { " · " (e) }
                        } } }
                    }
                } } }
            }
        }
    };
    Ok(remembered(
        &state,
        &v,
        None,
        page("Channels", &v, "/channels", body),
    ))
}
