//! How an email looks: the plain text and the HTML of a notice and of a confirmation
//! (escaped by the template engine; the words are `llmlab_app::notify`'s).

use llmlab_app::notify::consent::Confirmation;
use llmlab_app::notify::notice::Notice;
use llmlab_app::outbox::Content;
use maud::{Markup, html};

/// The plain text and HTML parts of `content`.
pub fn parts(content: &Content) -> (String, String) {
    match content {
        Content::Notice(n, public_url) => {
            let url = public_url.as_deref();
            (n.email_text(url), notice(n, url))
        }
        Content::Confirmation(c) => (c.text(), confirmation(c)),
    }
}

/// The email's HTML part (escaped by the template engine).
fn notice(n: &Notice, public_url: Option<&str>) -> String {
    let body: Markup = html! {
        (maud::DOCTYPE)
        html {
            body style="font-family: system-ui, sans-serif; color: #1f2328; max-width: 40rem" {
                h2 { (n.title) }
                p { (n.summary) }
                @if !n.facts.is_empty() {
                    table cellpadding="4" {
                        @for f in &n.facts {
                            tr { th align="left" { (f.label) } td { (f.value) } }
                        }
                    }
                }
                @for s in &n.sections {
                    h3 { (s.heading) }
                    ul { @for line in &s.lines { li { (line) } } }
                }
                @if let Some(link) = n.link(public_url) {
                    p { a href=(link) { "Open the dashboard" } }
                }
                p style="color: #59636e; font-size: small" { "LLMLab · workspace " (n.workspace) }
            }
        }
    };
    body.into_string()
}

/// The HTML part (escaped by the template engine).
fn confirmation(c: &Confirmation) -> String {
    let quote = "margin: 0.25rem 0 0.75rem 1rem; padding-left: 0.75rem; \
                 border-left: 3px solid #d0d7de; color: #59636e";
    html! {
        (maud::DOCTYPE)
        html {
            body style="font-family: system-ui, sans-serif; color: #1f2328; max-width: 40rem" {
                p {
                    "Someone using LLMLab, a service that tracks what AI API calls cost, has asked to send budget alerts and spend reports to "
                    b { (c.address) } ". LLMLab sends nothing more to this address unless you confirm."
                }
                p { "Who asked: LLMLab workspace number " (c.workspace_id) ", which calls itself" }
                blockquote style=(quote) { "“" (c.workspace) "”" }
                p { "Its notification channel calls itself" }
                blockquote style=(quote) { "“" (c.channel) "”" }
                p {
                    "These two names were chosen by whoever set up the channel. LLMLab has not checked them: "
                    "they are not a message from LLMLab, and nothing in them is a bill, a request or an instruction from us."
                }
                p { a href=(c.link) { "Review and confirm" } " (the page asks once more before anything changes)." }
                p {
                    "If you did not expect this, ignore this email: without your confirmation you receive nothing else from this channel."
                }
                p style="color: #59636e; font-size: small" { "LLMLab at " (c.server) }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmlab_app::notify::notice::{Event, Fact, Section};

    #[test]
    fn names_are_escaped_and_links_kept() {
        let c = Confirmation {
            address: "ops@example.org".into(),
            workspace_id: 9,
            workspace: "Globex <script>".into(),
            channel: "Urgent: renew now".into(),
            link: "https://costs.example.org/email/confirm/3/cd".into(),
            server: "https://costs.example.org".into(),
        };
        let (_, html) = parts(&Content::Confirmation(c));
        assert!(html.contains("Globex &lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("href=\"https://costs.example.org/email/confirm/3/cd\""));
        let n = Notice {
            event: Event::Forecast,
            workspace_id: 3,
            workspace: "Initech".into(),
            title: "Forecast over budget".into(),
            summary: "On course for $310.00 of $250.00.".into(),
            facts: vec![Fact {
                label: "Forecast".into(),
                value: "$310.00".into(),
            }],
            sections: vec![Section {
                heading: "Top models".into(),
                lines: vec!["<script>: $1".into()],
            }],
            page: Some("/budgets".into()),
            data: serde_json::json!({}),
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let url = Some("https://llmlab.example.com/".to_string());
        let (text, html) = parts(&Content::Notice(Box::new(n), url));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("href=\"https://llmlab.example.com/budgets?ws=3\""));
        assert!(text.contains("https://llmlab.example.com/budgets?ws=3"));
    }
}
