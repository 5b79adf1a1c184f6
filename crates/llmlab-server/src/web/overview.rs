//! The overview: a span of days (this month by default; last month, the last 7, 30 or
//! 90 days, or any dates) in the visitor's time zone, split by provider, model, a tag
//! key or the API key that sent the events, all kept in the URL so a view can be
//! shared: spend, calls, the change against the span before, the daily chart with the
//! daily budgets drawn on it (and the same as a table), top models and providers.

use actix_web::{HttpRequest, web};
use chrono::{NaiveDate, Utc};
use llmlab_app::overview::{self, Grouping, Span};
use llmlab_app::{AppError, AppState, Role, blocking_read};
use llmlab_engine::Usd;
use llmlab_engine::period::Zone;
use maud::{Markup, html};
use serde::Deserialize;

use super::chart;
use super::form::hidden;
use super::pages::{Page, remembered};
use super::session::{self, Visitor, visitor};
use super::view::{count, dollars, page, raw};

/// The overview's query: the workspace, the zone, the span and the grouping.
#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    ws: Option<i64>,
    tz: Option<String>,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    group: Option<String>,
    key: Option<String>,
    /// A currency to show beside dollars (else the workspace's display currency).
    currency: Option<String>,
}

/// The spans offered, as the URL names them and people read them.
const SPANS: [(&str, &str); 6] = [
    ("this-month", "This month"),
    ("last-month", "Last month"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("custom", "From … to …"),
];

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn date(field: &str, v: &Option<String>) -> Result<Option<NaiveDate>, AppError> {
    given(v)
        .map(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| AppError::invalid(field.to_string(), "a date such as 2026-11-30"))
        })
        .transpose()
}

pub async fn overview(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<OverviewQuery>,
) -> Page {
    let v = visitor(&req, &state, q.ws).await?;
    let asked = q.tz.clone().or_else(|| {
        req.cookie(session::TIME_ZONE)
            .map(|c| c.value().to_string())
    });
    let zone = asked
        .as_deref()
        .and_then(|z| Zone::parse(z).ok())
        .unwrap_or(Zone::UTC);
    let range = given(&q.range).unwrap_or("this-month");
    let span = Span::parse(range, date("from", &q.from)?, date("to", &q.to)?)?;
    let grouping = match (given(&q.group).unwrap_or("provider"), given(&q.key)) {
        ("provider", _) => Grouping::Provider,
        ("model", _) => Grouping::Model,
        ("tag", Some(key)) => Grouping::Tag(key.to_string()),
        ("key", _) => Grouping::Key,
        ("tag", None) => {
            return Err(AppError::invalid("key", "grouping by tag needs a tag key").into());
        }
        _ => {
            return Err(AppError::invalid("group", "one of provider, model, tag, key").into());
        }
    };
    let ws = v.workspace();
    let by = grouping.clone();
    // The currency asked for, else the workspace's display currency: the spend is shown
    // in it too.
    let display = match given(&q.currency) {
        Some(c) => Some(llmlab_app::fx::Currency::parse("currency", c)?),
        None => v.workspaces.iter().find(|w| w.id == ws).and_then(|w| {
            llmlab_app::fx::Currency::parse("display_currency", &w.display_currency).ok()
        }),
    }
    .filter(|c| c.as_str() != "USD");
    let shown_in = display
        .as_ref()
        .map_or(String::new(), |c| c.as_str().to_string());
    let (o, converted) = blocking_read(&state, move |s| {
        let o = overview::overview(s, ws, (span, zone, &by), Utc::now())?;
        // Each day's spend in the display currency, or why there is none.
        let converted = match display.clone() {
            None => None,
            Some(c) => Some(
                match llmlab_app::fx::daily_in(s, ws, c.clone(), (o.start, o.end), zone) {
                    Ok(days) => Ok((c, days)),
                    Err(AppError::FxRateMissing { currency, day }) => Err(format!(
                        "No {currency} rate on or before {day}: upload one to see {currency}"
                    )),
                    Err(e) => return Err(e),
                },
            ),
        };
        Ok::<_, AppError>((o, converted))
    })
    .await?;
    if let Some(key) = &o.wants_ranking {
        llmlab_app::tag_rankings::build_in_background(&state, ws, key);
    }
    let name = SPANS
        .iter()
        .find(|(k, _)| *k == range)
        .map_or("", |(_, n)| n);
    let (from, to) = (
        o.start.with_timezone(&zone.tz()).date_naive(),
        (o.end - chrono::Duration::microseconds(1))
            .with_timezone(&zone.tz())
            .date_naive(),
    );
    let shown = match span {
        Span::Dates(..) => format!("{from} to {to}"),
        _ => format!("{name} ({from} to {to})"),
    };
    let before = match span {
        Span::ThisMonth | Span::LastMonth => "the month before".to_string(),
        _ => "the same number of days before".to_string(),
    };
    let split = match &grouping {
        Grouping::Provider => "provider".to_string(),
        Grouping::Model => "model".to_string(),
        Grouping::Tag(key) => format!("tag {key}"),
        Grouping::Key => "API key".to_string(),
    };
    let total = o.series.total();
    let change = (o.previous.cost.nanos() > 0).then(|| {
        let delta = total.cost.nanos() as f64 - o.previous.cost.nanos() as f64;
        delta / o.previous.cost.nanos() as f64 * 100.0
    });
    let labels: Vec<String> = o.series.buckets.iter().map(|b| b.label.clone()).collect();
    let lines: Vec<(String, Usd)> = o
        .budgets
        .iter()
        .filter(|b| b.budget.spec.period == "daily")
        .map(|b| {
            // A hard budget refuses reservations beyond it: the line says so.
            let name = match b.budget.spec.enforce.as_str() {
                llmlab_app::budgets::HARD => format!("{} (hard)", b.budget.spec.name),
                _ => b.budget.spec.name.clone(),
            };
            (name, Usd::from_nanos(b.budget.spec.amount_nanos))
        })
        .collect();
    let svg = chart::stacked(
        &labels,
        &o.stacks,
        &lines,
        &o.anomalies,
        &format!("Daily spend, {shown}, by {split}"),
    );
    let body = html! {
        h1 { "Overview" }
        @if o.no_events { (first_steps(&v)) }
        form.filters method="get" action="/overview" {
            div.field {
                label for="range" { "Range" }
                select #range name="range" {
                    @for (k, n) in SPANS { option value=(k) selected[k == range] { (n) } }
                }
            }
            div.field { label for="from" { "From (custom)" } input #from name="from" type="date" value=(from); }
            div.field { label for="to" { "To (custom)" } input #to name="to" type="date" value=(to); }
            div.field {
                label for="group" { "Split by" }
                select #group name="group" {
                    @for (k, n) in [("provider", "Provider"), ("model", "Model"), ("tag", "Tag key"), ("key", "API key")] {
                        option value=(k) selected[k == given(&q.group).unwrap_or("provider")] { (n) }
                    }
                }
            }
            div.field { label for="key" { "Tag key" } input #key name="key" value=[given(&q.key)] placeholder="e.g. team"; }
            div.field {
                label for="tz" { "Time zone" }
                input #tz name="tz" value=(zone.name()) list="zones";
                datalist #zones { @for z in ["UTC", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"] { option value=(z) {} } }
            }
            div.field {
                label for="currency" { "Also in" }
                input #currency name="currency" value=(shown_in) placeholder="USD" size="4" maxlength="3";
            }
            button type="submit" { "Show" }
        }
        p #shown { "Showing " strong { (shown) } ", " (zone.name()) ", by " (split) "." }
        section.cards aria-label="The range" {
            div.card {
                h2 { "Spend" } p.big #total { (dollars(total.cost)) }
                @match &converted {
                    Some(Ok((c, days))) => p.small #converted {
                        "≈ " (days.iter().copied().sum::<llmlab_app::fx::Amount>()) " " (c.as_str()) " at this workspace's rates"
                    },
                    Some(Err(why)) => p.small #converted { (why) },
                    None => {},
                }
            }
            div.card { h2 { "Calls" } p.big { (count(total.calls)) } }
            div.card {
                h2 { "Against " (before) }
                p.big { @match change { Some(c) => (format!("{c:+.1} %")), None => "—" } }
                p.small { "then: " (dollars(o.previous.cost)) }
            }
            @if o.series.unpriced_calls > 0 {
                div.card.warn { h2 { "Unpriced calls" } p.big { (o.series.unpriced_calls) } p.small { "models without a price; see the pricing docs" } }
            }
        }
        section aria-labelledby="daily" {
            h2 #daily { "Daily spend" }
            (raw(svg))
            ul.legend {
                @for (k, s) in o.stacks.iter().enumerate() { li { span class=(format!("swatch s{}", k % 6)) {} (s.name) } }
                @if !o.anomalies.is_empty() { li { span.swatch.anomaly {} "anomaly (see Recommendations)" } }
            }
            details {
                summary { "The same as a table" }
                table {
                    @let daily = match &converted { Some(Ok((c, days))) => Some((c, days)), _ => None };
                    thead { tr { th scope="col" { "Day" } th scope="col" { "Spend" }
                        @if let Some((c, _)) = daily { th scope="col" { "In " (c.as_str()) } }
                        th scope="col" { "Calls" } } }
                    tbody { @for (i, b) in o.series.buckets.iter().enumerate() { tr { td { (b.label) } td { (dollars(b.totals.cost)) }
                        @if let Some((_, days)) = daily { td { (days.get(i).copied().unwrap_or_default()) } }
                        td { (count(b.totals.calls)) } } } }
                }
            }
        }
        div.columns {
            section aria-labelledby="models" {
                h2 #models { "Top models" }
                table {
                    thead { tr { th scope="col" { "Model" } th scope="col" { "Spend" } th scope="col" { "Calls" } } }
                    tbody { @for m in &o.models { tr { td { (m.provider) "/" (m.model) } td { (dollars(Usd::from_nanos(m.sums.cost_nanos))) } td { (m.sums.calls) } } } }
                }
            }
            section aria-labelledby="providers" {
                h2 #providers { "Spend by provider" }
                table {
                    thead { tr { th scope="col" { "Provider" } th scope="col" { "Spend" } th scope="col" { "Calls" } } }
                    tbody { @for p in &o.providers { tr { td { (p.provider) } td { (dollars(Usd::from_nanos(p.sums.cost_nanos))) } td { (p.sums.calls) } } } }
                }
            }
        }
    };
    let shown = page("Overview", &v, "/overview", body);
    Ok(remembered(&state, &v, Some(&zone), shown))
}

/// What a workspace without events does next: a key (created here, shown once on the
/// page that follows with the command that sends an event with it), then an event.
fn first_steps(v: &Visitor) -> Markup {
    html! {
        section.notice aria-labelledby="first-steps" {
            h2 #first-steps { "No events in this workspace yet" }
            @if v.may(Role::Member) {
                ol {
                    li { "Create an API key for this workspace: "
                        form.inline method="post" action="/settings/keys" {
                            (hidden(v))
                            input type="hidden" name="name" value="first key";
                            button type="submit" { "Create a key" }
                        }
                    }
                    li { "Send an event with it: the next page shows the key once, with the command to paste." }
                }
            } @else {
                p { "A member or admin of this workspace creates its API keys; events sent with them appear here." }
            }
        }
    }
}
