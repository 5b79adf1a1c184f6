//! The pages' shared parts: the layout (header, workspace switcher, navigation) and
//! small components; money as people read it is `llmlab_app::money`'s.

pub use llmlab_app::money::{calls, count, dollars, exact};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::form::hidden;
use super::session::Visitor;

/// A page for someone signed in: header with the workspace switcher, navigation, body.
pub fn page(title: &str, visitor: &Visitor, current: &str, body: Markup) -> Markup {
    let nav = [
        ("/overview", "Overview"),
        ("/explore", "Explore"),
        ("/events", "Events"),
        ("/budgets", "Budgets"),
        ("/recommendations", "Recommendations"),
        ("/pricing", "Pricing"),
        ("/settings", "Settings"),
        ("/invitations", "Invitations"),
    ];
    shell(
        title,
        html! {
            header {
                a.brand href="/overview" { "LLMLab" }
                form.switcher method="get" action=(current) {
                    label for="ws" { "Workspace" }
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
                    span { (visitor.email) }
                    button type="submit" { "Sign out" }
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
