//! What a notification says, once, and how each kind of channel shows it: a signed JSON
//! document for webhooks, `text` and Block Kit `blocks` for Slack, plain text and HTML
//! for email. A notice is built when its occasion is recorded and stored with it, so a
//! retry days later sends the same numbers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a channel can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A budget reached its warning level or its amount.
    Budget,
    /// A budget is forecast to be exceeded before its period ends.
    Forecast,
    /// A day's spend is anomalous (severity medium or high).
    Anomaly,
    /// A model without a price was seen for the first time.
    Unpriced,
    /// An imported bill drifts from what was tracked past the threshold.
    Drift,
    /// The weekly spend report (Monday 09:00).
    ReportWeekly,
    /// The monthly spend report (the 1st, 09:00).
    ReportMonthly,
    /// `POST /api/channels/{id}/test`: sent whatever the subscriptions.
    Test,
    /// The one message an email address gets before its owner confirms it (sent by
    /// itself, never subscribed to).
    Confirmation,
}

impl Event {
    /// Those a channel may subscribe to (every one but `test` and `confirmation`).
    pub const SUBSCRIBABLE: [Event; 7] = [
        Event::Budget,
        Event::Forecast,
        Event::Anomaly,
        Event::Unpriced,
        Event::Drift,
        Event::ReportWeekly,
        Event::ReportMonthly,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Budget => "budget",
            Event::Forecast => "forecast",
            Event::Anomaly => "anomaly",
            Event::Unpriced => "unpriced",
            Event::Drift => "drift",
            Event::ReportWeekly => "report_weekly",
            Event::ReportMonthly => "report_monthly",
            Event::Test => "test",
            Event::Confirmation => "confirmation",
        }
    }

    /// The subscribable event called `name`.
    pub fn parse(name: &str) -> Option<Event> {
        Event::SUBSCRIBABLE.into_iter().find(|e| e.as_str() == name)
    }
}

/// One labelled figure ("Spent", "$12.30").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// What the figure is.
    pub label: String,
    /// The figure, formatted for people.
    pub value: String,
}

/// A titled list (a report's top models, its budgets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// The heading.
    pub heading: String,
    /// One line per item.
    pub lines: Vec<String>,
}

/// A notification's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// What happened.
    pub event: Event,
    /// The workspace it happened in.
    pub workspace_id: i64,
    /// The workspace's name.
    pub workspace: String,
    /// One line, for a subject or a header.
    pub title: String,
    /// One or two sentences.
    pub summary: String,
    /// The numbers.
    pub facts: Vec<Fact>,
    /// Longer lists (reports).
    pub sections: Vec<Section>,
    /// The dashboard page that shows more (`/budgets`), linked when the server knows its
    /// public URL.
    pub page: Option<String>,
    /// The figures for machines (webhooks), exact: amounts as decimal numbers.
    pub data: Value,
    /// When the occasion was recorded.
    pub created_at: DateTime<Utc>,
}

impl Notice {
    /// The dashboard link, when `public_url` is set.
    pub fn link(&self, public_url: Option<&str>) -> Option<String> {
        let base = public_url?.trim_end_matches('/');
        let page = self.page.as_deref()?;
        Some(format!("{base}{page}?ws={}", self.workspace_id))
    }

    /// The JSON a webhook receives (signed like budget alerts).
    pub fn webhook_body(&self, public_url: Option<&str>, attempt: i32) -> Value {
        json!({
            "event": self.event.as_str(),
            "workspace_id": self.workspace_id,
            "workspace": self.workspace,
            "title": self.title,
            "summary": self.summary,
            "facts": self.facts,
            "sections": self.sections,
            "data": self.data,
            "link": self.link(public_url),
            "created_at": self.created_at,
            "attempt": attempt,
        })
    }

    /// A Slack incoming-webhook message: `text` for notifications and clients without
    /// blocks, `blocks` for the message itself.
    pub fn slack_body(&self, public_url: Option<&str>) -> Value {
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": clip(&self.title, 150)}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&slack_escape(&self.summary), 3000)}}),
        ];
        // Slack allows ten fields a section.
        for chunk in self.facts.chunks(10) {
            let fields: Vec<Value> = chunk
                .iter()
                .map(|f| {
                    let text = format!("*{}*\n{}", slack_escape(&f.label), slack_escape(&f.value));
                    json!({"type": "mrkdwn", "text": clip(&text, 2000)})
                })
                .collect();
            blocks.push(json!({"type": "section", "fields": fields}));
        }
        for s in &self.sections {
            let mut text = format!("*{}*", slack_escape(&s.heading));
            for line in &s.lines {
                text.push_str("\n• ");
                text.push_str(&slack_escape(line));
            }
            blocks.push(
                json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&text, 3000)}}),
            );
        }
        let mut context = format!("LLMLab · {}", slack_escape(&self.workspace));
        if let Some(link) = self.link(public_url) {
            context.push_str(&format!(" · <{link}|Open the dashboard>"));
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
        json!({
            "text": format!("{}: {}", self.title, self.summary),
            "blocks": blocks,
        })
    }

    /// The email's subject.
    pub fn email_subject(&self) -> String {
        format!("[LLMLab · {}] {}", self.workspace, self.title)
    }

    /// The email's plain-text part.
    pub fn email_text(&self, public_url: Option<&str>) -> String {
        let mut out = format!("{}\n\n{}\n", self.title, self.summary);
        if !self.facts.is_empty() {
            out.push('\n');
            for f in &self.facts {
                out.push_str(&format!("{}: {}\n", f.label, f.value));
            }
        }
        for s in &self.sections {
            out.push_str(&format!("\n{}\n", s.heading));
            for line in &s.lines {
                out.push_str(&format!("  - {line}\n"));
            }
        }
        if let Some(link) = self.link(public_url) {
            out.push_str(&format!("\n{link}\n"));
        }
        out.push_str(&format!("\n-- \nLLMLab, workspace {}\n", self.workspace));
        out
    }
}

/// Slack's mrkdwn treats `&`, `<` and `>` as markup; user-provided names must not link
/// or mention anyone.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters (Slack rejects longer block texts).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            event: Event::Budget,
            workspace_id: 7,
            workspace: "Acme <ops>".into(),
            title: "Budget “prod” exceeded".into(),
            summary: "Spend reached $120.00 of $100.00 this month.".into(),
            facts: vec![Fact {
                label: "Spent".into(),
                value: "$120.00".into(),
            }],
            sections: vec![Section {
                heading: "Top models".into(),
                lines: vec!["gpt-4o: $80.00".into(), "<script>: $1".into()],
            }],
            page: Some("/budgets".into()),
            data: json!({"spent_usd": 120}),
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn every_rendering_carries_the_numbers_and_the_link() {
        let n = notice();
        let url = Some("https://llmlab.example.com/");
        let link = "https://llmlab.example.com/budgets?ws=7";
        assert_eq!(n.webhook_body(url, 2)["link"], link);
        assert_eq!(n.webhook_body(None, 1)["link"], Value::Null);
        let slack = n.slack_body(url).to_string();
        assert!(slack.contains("$120.00") && slack.contains(link), "{slack}");
        assert!(slack.contains("Acme &lt;ops&gt;") && !slack.contains("<ops>"));
        let text = n.email_text(url);
        assert!(text.contains("Spent: $120.00") && text.contains("  - gpt-4o: $80.00"));
        assert_eq!(
            n.email_subject(),
            "[LLMLab · Acme <ops>] Budget “prod” exceeded"
        );
    }

    #[test]
    fn events_parse_by_their_wire_names_and_test_is_not_subscribable() {
        for e in Event::SUBSCRIBABLE {
            assert_eq!(Event::parse(e.as_str()), Some(e));
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
        assert_eq!(Event::parse("test"), None);
        assert_eq!(Event::parse("Budget"), None);
    }

    #[test]
    fn long_texts_are_clipped_for_slack() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
