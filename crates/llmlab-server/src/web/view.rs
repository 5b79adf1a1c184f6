//! The pages' shared parts: the layout (header, workspace switcher, navigation), money
//! as people read it, and small components.

use llmlab_engine::Usd;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::form::hidden;
use super::session::Visitor;

/// Dollars to the cent with thousands separators (`$1,234.56`), rounded half away from
/// zero: what a person reads. The exact figure is in the API and the events page.
pub fn dollars(amount: Usd) -> String {
    let nanos = i128::from(amount.nanos());
    let cents = (nanos.abs() + 5_000_000) / 10_000_000;
    let (units, cents) = (cents / 100, cents % 100);
    let sign = if nanos < 0 { "-" } else { "" };
    format!("{sign}${}.{cents:02}", grouped(&units.to_string()))
}

/// The exact amount (`$0.0075`), for single events.
pub fn exact(amount: Usd) -> String {
    format!("${amount}")
}

/// A count with thousands separators.
pub fn count(n: u64) -> String {
    grouped(&n.to_string())
}

/// `digits` with a comma before every group of three from the right.
fn grouped(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dollars_read_like_an_invoice() {
        let usd = |s: &str| Usd::parse(s).unwrap();
        assert_eq!(dollars(usd("1234.564")), "$1,234.56");
        assert_eq!(dollars(usd("1234.565")), "$1,234.57");
        assert_eq!(dollars(usd("0")), "$0.00");
        assert_eq!(dollars(usd("0.0049")), "$0.00");
        assert_eq!(dollars(usd("1000000")), "$1,000,000.00");
        assert_eq!(dollars(usd("-12.5")), "-$12.50");
        assert_eq!(exact(usd("0.0075")), "$0.0075");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
    }
}
