//! Budgets: each with its progress, forecast and alert history; members and above
//! create, edit and delete them through forms.

use actix_web::{HttpRequest, web};
use chrono::Utc;
use llmlab_app::{BudgetId, Role};
use llmlab_engine::Usd;
use llmlab_engine::period::Zone;
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::form::{Submitted, act_then_back, done, hidden};
use super::pages::{Page, View, remembered};
use super::session::visitor;
use super::view::{dollars, page};
use crate::access::MemberOnly;
use llmlab_app::AppState;
use llmlab_app::{AppError, blocking};

/// The budget form.
#[derive(Debug, Deserialize)]
pub struct BudgetForm {
    /// Present when editing.
    #[serde(default)]
    id: Option<i64>,
    name: String,
    amount_usd: String,
    period: String,
}

/// Budgets with their progress; members and above create and delete them here.
pub async fn budgets(req: HttpRequest, state: web::Data<AppState>, q: web::Query<View>) -> Page {
    let v = visitor(&req, &state, q.ws).await?;
    let ws = v.workspace();
    let list = blocking(&state, move |s| {
        llmlab_app::budgets::list(s, ws, Utc::now())?
            .into_iter()
            .map(|b| {
                let alerts = llmlab_app::budgets::alerts(s, ws, b.budget.id)?;
                Ok((b, alerts))
            })
            .collect::<Result<Vec<_>, AppError>>()
    })
    .await?;
    let editable = v.may(Role::Member);
    let body = html! {
        h1 { "Budgets" }
        @if list.is_empty() { p { "No budgets yet." } }
        ul.budgets {
            @for (b, alerts) in &list {
                li {
                    h2 { (b.budget.spec.name) }
                    p { (dollars(b.evaluation.spent)) " of " (dollars(Usd::from_nanos(b.budget.spec.amount_nanos))) " · " (b.budget.spec.period) " · " (standing(b)) }
                    progress max="100" value=(b.evaluation.percent_used.clamp(0.0, 100.0)) aria-label=(format!("{} % used", b.evaluation.percent_used)) {
                        (b.evaluation.percent_used) " %"
                    }
                    @if let Some(f) = b.forecast {
                        p.small {
                            "forecast for the period: " (dollars(f.expected))
                            @if let (Some(low), Some(high)) = (f.low, f.high) {
                                " (80 % range " (dollars(low)) " – " (dollars(high)) ")"
                            } @else {
                                " (under two weeks of history: a straight-line projection)"
                            }
                        }
                    }
                    details {
                        summary { "Alerts (" (alerts.len()) ")" }
                        @if alerts.is_empty() { p.small { "None so far." } }
                        ul { @for a in alerts { li {
                            (a.alert.created_at.format("%Y-%m-%d %H:%M")) " UTC: " (a.alert.level) " at " (dollars(Usd::from_nanos(a.alert.spent_nanos)))
                            " of " (dollars(Usd::from_nanos(a.alert.amount_nanos))) " · delivery " (a.status())
                        } } }
                    }
                    @if editable {
                        details {
                            summary { "Edit" }
                            form method="post" action="/budgets" {
                                (hidden(&v))
                                input type="hidden" name="id" value=(b.budget.id);
                                label for=(format!("name-{}", b.budget.id)) { "Name" }
                                input id=(format!("name-{}", b.budget.id)) name="name" value=(b.budget.spec.name) required;
                                label for=(format!("amount-{}", b.budget.id)) { "Amount (USD)" }
                                input id=(format!("amount-{}", b.budget.id)) name="amount_usd" value=(Usd::from_nanos(b.budget.spec.amount_nanos)) required;
                                label for=(format!("period-{}", b.budget.id)) { "Period" }
                                select id=(format!("period-{}", b.budget.id)) name="period" {
                                    @for p in ["daily", "weekly", "monthly", "total"] { option value=(p) selected[p == b.budget.spec.period] { (p) } }
                                }
                                button type="submit" { "Save " (b.budget.spec.name) }
                            }
                        }
                        form.inline method="post" action=(format!("/budgets/{}/delete", b.budget.id)) {
                            (hidden(&v))
                            button.danger type="submit" { "Delete " (b.budget.spec.name) }
                        }
                    }
                }
            }
        }
        @if editable {
            h2 { "New budget" }
            form method="post" action="/budgets" {
                (hidden(&v))
                label for="name" { "Name" }
                input #name name="name" required maxlength="200";
                label for="amount" { "Amount (USD)" }
                input #amount name="amount_usd" required inputmode="decimal";
                label for="period" { "Period" }
                select #period name="period" {
                    @for p in ["daily", "weekly", "monthly", "total"] { option value=(p) selected[p == "monthly"] { (p) } }
                }
                button type="submit" { "Create budget" }
            }
        }
    };
    Ok(remembered(
        &state,
        &v,
        None,
        page("Budgets", &v, "/budgets", body),
    ))
}

pub async fn create_budget(
    state: web::Data<AppState>,
    form: Submitted<MemberOnly, BudgetForm>,
) -> Page {
    let (v, form) = form.into_parts();
    let form_id = form.id;
    let amount = Usd::parse(&form.amount_usd).map_err(|_| {
        WebError::from(AppError::invalid(
            "amount_usd",
            "must be an amount such as 250 or 12.50",
        ))
    })?;
    let body = llmlab_app::budgets::BudgetForm {
        name: form.name,
        amount_usd: amount,
        period: form.period,
        scope: None,
        alert_threshold_pct: None,
        webhook_url: None,
        timezone: None,
    };
    let allow_private = state.settings.webhooks.allow_private;
    let new = llmlab_app::budgets::validate(&state.catalog, allow_private, body)?;
    let limits = state.settings.limits;
    let (ws, id, identity) = (v.workspace(), form_id.map(BudgetId), v.identity.clone());
    blocking(&state, move |s| {
        llmlab_app::budgets::upsert(s, ws, &identity, id, (&new, None), limits, Utc::now())
    })
    .await?;
    Ok(done(&state, &v, "/budgets"))
}

pub async fn delete_budget(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: Submitted<MemberOnly>,
) -> Page {
    let id = BudgetId(path.into_inner());
    act_then_back(&state, form, "/budgets", |ws, by| {
        blocking(&state, move |s| llmlab_app::budgets::remove(s, ws, &by, id))
    })
    .await
}

/// A budget's status as its spend and its forecast give it: `exceeded` or `warning` by
/// the spend, and, while not exceeded, the day the forecast has it cross the amount
/// (in the budget's time zone), so a budget heading past its amount never reads `ok`.
fn standing(b: &llmlab_app::budgets::Evaluated) -> Markup {
    let status = b.evaluation.status.as_str();
    let exceeds_on = b.crossing.map(|at| {
        let day = Zone::parse(&b.budget.spec.timezone)
            .map(|zone| at.with_timezone(&zone.tz()).date_naive())
            .unwrap_or_else(|_| at.date_naive());
        day.format("%b %-d").to_string()
    });
    html! {
        @match exceeds_on {
            Some(day) => strong class="status heading" { (status) ", on track to exceed on " (day) },
            None => strong class=(format!("status {status}")) { (status) },
        }
    }
}
