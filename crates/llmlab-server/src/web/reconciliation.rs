//! Reconciliation: what the providers billed (their imported cost reports) against what
//! LLMLab tracked, per day, as two series on one chart and a table with the drift.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, NaiveDate, Utc};
use llmlab_app::reconciliation::{self as use_case, Drift};
use llmlab_app::{AppError, AppState, blocking_read, input};
use llmlab_engine::Usd;
use maud::html;
use serde::Deserialize;

use super::chart::{self, Series};
use super::session::visitor;
use super::view::{dollars, exact, page, raw};
use super::{WebError, html as respond};
use crate::dto::ReconciliationOut;

/// The page's filters, kept in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct ReconciliationQuery {
    start: Option<String>,
    end: Option<String>,
    provider: Option<String>,
}

/// A date typed in the filter form, or `default` when empty.
fn day(field: &str, typed: Option<&str>, default: NaiveDate) -> Result<NaiveDate, WebError> {
    match typed.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => input::parse_day(t)
            .map_err(|_| AppError::invalid(field, "must be a date such as 2026-01-31").into()),
        None => Ok(default),
    }
}

/// A drift in basis points as a percentage (`−5.26 %`), or `—`.
fn pct(bp: Option<i64>) -> String {
    match bp {
        None => "—".into(),
        Some(bp) => {
            let sign = if bp < 0 { "−" } else { "" };
            format!(
                "{sign}{}.{:02} %",
                bp.unsigned_abs() / 100,
                bp.unsigned_abs() % 100
            )
        }
    }
}

/// Billed against tracked over the chosen days, and the imports the bills came from.
pub async fn reconciliation(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReconciliationQuery>,
) -> Result<HttpResponse, WebError> {
    let v = visitor(&req, &state, None).await?;
    let end = day("end", q.end.as_deref(), Utc::now().date_naive())?;
    let start = day("start", q.start.as_deref(), end - Duration::days(29))?;
    let provider = q
        .provider
        .as_deref()
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty());
    let ws = v.workspace();
    let asked = provider.clone();
    let (found, imports) = blocking_read(&state, move |s| {
        let found = use_case::reconcile(s, ws, (start, end), (asked.as_deref(), false))?;
        Ok::<_, AppError>((found, use_case::imports(s, ws)?))
    })
    .await?;
    let threshold = u16::try_from(use_case::ALERT_BP)
        .ok()
        .and_then(llmlab_engine::Discount::from_basis_points)
        .unwrap_or_default();
    let out = ReconciliationOut::new(found.clone(), threshold);
    // The chart: every provider's day summed, each day of the range a pair of bars.
    let mut per_day: BTreeMap<NaiveDate, Drift> = BTreeMap::new();
    for d in &found.days {
        let sum = per_day.entry(d.date).or_default();
        sum.billed = sum.billed.saturating_add(d.figures.billed);
        sum.tracked = sum.tracked.saturating_add(d.figures.tracked);
    }
    let labels: Vec<String> = per_day.keys().map(NaiveDate::to_string).collect();
    let series = |name: &str, f: fn(&Drift) -> Usd| Series {
        name: name.into(),
        amounts: per_day.values().map(f).collect(),
    };
    let (billed, tracked) = (
        series("billed", |d| d.billed),
        series("tracked", |d| d.tracked),
    );
    let body = html! {
        h1 { "Reconciliation" }
        p { "What the providers billed, from the cost reports imported, against what LLMLab tracked, per day (UTC)." }
        form.inline method="get" action="/reconciliation" {
            label for="rec-start" { "From" }
            input #rec-start name="start" type="date" value=(start);
            label for="rec-end" { "To" }
            input #rec-end name="end" type="date" value=(end);
            label for="rec-provider" { "Provider" }
            input #rec-provider name="provider" value=(provider.clone().unwrap_or_default()) placeholder="all";
            button type="submit" { "Show" }
        }
        @if found.days.is_empty() {
            p { "No imported bill covers these days. Import a provider's cost report with "
                code { "POST /api/reconciliation/imports?format=openai_costs" } " (or "
                code { "anthropic_cost_report" } ", " code { "focus" } "), the file as the body." }
        } @else {
            (raw(chart::paired(&labels, [&billed, &tracked], "Billed and tracked per day")))
            ul.legend { li { span.swatch.s0 {} "billed" } li { span.swatch.s1 {} "tracked" } }
            p { "In all: billed " strong { (exact(found.total.billed)) } ", tracked " strong { (exact(found.total.tracked)) }
                ", drift " strong { (exact(found.total.drift())) } " (" (pct(found.total.drift_bp())) ")."
                @if let Some(d) = found.suggested_discount {
                    " A contract of " strong { (d) " %" } " off would have made them agree."
                }
            }
            table {
                thead { tr { th scope="col" { "Day" } th scope="col" { "Provider" } th scope="col" { "Billed" }
                    th scope="col" { "Tracked" } th scope="col" { "Drift" } th scope="col" { "Drift %" } } }
                tbody {
                    @for d in &out.days {
                        tr.flagged[d.beyond_threshold] {
                            td { (d.date) } td { (d.provider) } td { (exact(d.billed_usd)) } td { (exact(d.tracked_usd)) }
                            td { (exact(d.drift_usd)) }
                            td { (pct(d.drift_pct)) @if d.beyond_threshold { " " strong { "beyond 5 %" } } }
                        }
                    }
                }
            }
        }
        h2 { "Imports" }
        @if imports.is_empty() { p { "None yet." } }
        @else {
            table {
                thead { tr { th scope="col" { "Imported" } th scope="col" { "Format" } th scope="col" { "Provider" }
                    th scope="col" { "Days" } th scope="col" { "Lines" } th scope="col" { "Billed" } } }
                tbody {
                    @for i in &imports {
                        tr {
                            td { (i.created_at.format("%Y-%m-%d %H:%M")) } td { (i.spec.format) }
                            td { (i.spec.provider.clone().unwrap_or_else(|| "several".into())) }
                            td { (i.spec.start_date) " – " (i.spec.end_date) } td { (i.spec.rows_read) }
                            td { (dollars(Usd::from_nanos(i.spec.billed_nanos))) }
                        }
                    }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Reconciliation", &v, "/pricing", body),
    ))
}
