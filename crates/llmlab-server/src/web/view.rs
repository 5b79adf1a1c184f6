//! The pages' shared parts: the layout (header, workspace switcher, navigation) and
//! small components; money as people read it is `llmlab_app::money`'s.

pub use llmlab_app::money::{calls, count, dollars, exact};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::form::hidden;
use super::session::Visitor;

/// The pages of the main navigation, in its order.
pub const PAGES: [(&str, &str); 9] = [
    ("/overview", "Overview"),
    ("/explore", "Explore"),
    ("/events", "Events"),
    ("/budgets", "Budgets"),
    ("/recommendations", "Recommendations"),
    ("/pricing", "Pricing"),
    ("/channels", "Channels"),
    ("/settings", "Settings"),
    ("/invitations", "Invitations"),
];

/// A page for someone signed in: header with the workspace switcher, navigation, body.
pub fn page(title: &str, visitor: &Visitor, current: &str, body: Markup) -> Markup {
    let nav = PAGES;
    shell(
        title,
        html! {
            header {
                a.brand href="/overview" { "LLMLab" }
                form.switcher method="get" action=(current) {
                    label.visually-hidden for="ws" { "Workspace" }
                    select #ws name="ws" {
                        @for w in &visitor.workspaces {
                            option value=(w.id.get()) selected[w.id == visitor.workspace()] {
                                (w.name) " (" (w.role.as_str()) ")"
                            }
                        }
                    }
                    button type="submit" { "Switch" }
                }
                nav aria-label="Main" {
                    @for (href, label) in nav {
                        a href=(href) aria-current=[(href == current).then_some("page")] { (label) }
                    }
                }
                form.logout method="post" action="/logout" {
                    (hidden(visitor))
                    span title=(visitor.email) { (visitor.email) }
                    button type="submit" title=(format!("Sign out {}", visitor.email)) { "Sign out" }
                }
            }
            main { (body) }
        },
    )
}

/// The document around any page.
pub fn shell(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · LLMLab" }
                link rel="icon" href="/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body { (body) }
        }
    }
}

/// A message above a form or page.
pub fn notice(text: &str) -> Markup {
    html! { p.notice role="alert" { (text) } }
}

/// Raw markup the server built (the chart's SVG).
pub fn raw(svg: String) -> Markup {
    PreEscaped(svg)
}

/// Where people reach this server: `LLMLAB_PUBLIC_URL` when set, else the scheme and
/// host this request came by (only shown back to the person who sent it).
pub fn server_url(req: &actix_web::HttpRequest, public_url: Option<&str>) -> String {
    match public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// The command that sends a first event with API key `key` to the server at `base`,
/// ready to paste.
pub fn first_event(base: &str, key: &str) -> Markup {
    let command = format!(
        "curl -X POST {base}/api/events/track \\\n  -H 'Authorization: Bearer {key}' \\\n  \
         -H 'Content-Type: application/json' \\\n  \
         -d '{{\"provider\": \"openai\", \"model\": \"gpt-4o\", \"input_tokens\": 1200, \"output_tokens\": 300}}'"
    );
    html! {
        div.first-event {
            p { "Send a first event with it (any provider and model in the catalog; your services send one per LLM call):" }
            pre { code #first-event { (command) } }
            p { button.copy type="button" data-copy="first-event" { "Copy the command" } " then see it on the " a href="/overview" { "Overview" } " and under " a href="/events" { "Events" } "." }
        }
    }
}
