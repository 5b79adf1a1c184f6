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
use super::chart;
use super::form::{Submitted, act_then_back, done, hidden};
use super::pages::{Page, View, remembered};
use super::refused::Refused;
use super::session::{Visitor, visitor};
use super::view::{dollars, page, raw};
use crate::access::MemberOnly;
use llmlab_app::AppState;
use llmlab_app::{AppError, blocking};

/// The budget form.
#[derive(Debug, Clone, Deserialize)]
pub struct BudgetForm {
    /// Present when editing.
    #[serde(default)]
    id: Option<i64>,
    name: String,
    amount_usd: String,
    period: String,
    /// `alert` or `hard`; absent from older forms: alert.
    #[serde(default)]
    enforce: Option<String>,
}

/// Budgets with their progress; members and above create and delete them here.
pub async fn budgets(req: HttpRequest, state: web::Data<AppState>, q: web::Query<View>) -> Page {
    let v = visitor(&req, &state, q.ws).await?;
    show(&state, &v, None).await
}

/// The budgets page, with a refused budget form shown again when there is one.
async fn show(
    state: &web::Data<AppState>,
    v: &Visitor,
    retry: Option<(BudgetForm, Refused)>,
) -> Page {
    let ws = v.workspace();
    let (list, commitments) = blocking(state, move |s| {
        let now = Utc::now();
        let list = llmlab_app::budgets::list(s, ws, now)?
            .into_iter()
            .map(|b| {
                let alerts = llmlab_app::budgets::alerts(s, ws, b.budget.id)?;
                let burn = llmlab_app::budgets::burn_down(s, ws, &b, now)?;
                Ok((b, alerts, burn))
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok::<_, AppError>((list, llmlab_app::commitments::list(s, ws, now)?))
    })
    .await?;
    // The refused form: the edit of budget `id`, or the new one.
    let retry_of = |id: Option<i64>| retry.as_ref().filter(|(f, _)| f.id == id);
    let editable = v.may(Role::Member);
    let body = html! {
        h1 { "Budgets" }
        @if list.is_empty() { p { "No budgets yet." } }
        ul.budgets {
            @for (b, alerts, burn) in &list {
                li {
                    h2 { (b.budget.spec.name) @if hard(b) { " " span.badge.hard title="Reservations beyond what it has left are refused" { "hard" } } }
                    p { (dollars(b.evaluation.spent)) " of " (dollars(Usd::from_nanos(b.budget.spec.amount_nanos))) " · " (b.budget.spec.period) " · " (standing(b)) }
                    @if hard(b) {
                        p.reservations {
                            "spent " (dollars(b.evaluation.spent))
                            " · reserved " (dollars(b.reserved))
                            " · available " (dollars(llmlab_app::budgets::available(&b.evaluation, b.reserved)))
                        }
                    }
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
                    @if let Some(steps) = burn { (burn_down(b, steps)) }
                    details {
                        summary { "Alerts (" (alerts.len()) ")" }
                        @if alerts.is_empty() { p.small { "None so far." } }
                        ul { @for a in alerts { li {
                            (a.alert.created_at.format("%Y-%m-%d %H:%M")) " UTC: " (a.alert.level) " at " (dollars(Usd::from_nanos(a.alert.spent_nanos)))
                            " of " (dollars(Usd::from_nanos(a.alert.amount_nanos))) " · delivery " (a.status())
                        } } }
                    }
                    @if editable {
                        @let stored = BudgetForm {
                            id: Some(b.budget.id.get()),
                            name: b.budget.spec.name.clone(),
                            amount_usd: Usd::from_nanos(b.budget.spec.amount_nanos).to_string(),
                            period: b.budget.spec.period.clone(),
                            enforce: Some(b.budget.spec.enforce.clone()),
                        };
                        @let again = retry_of(stored.id);
                        details open[again.is_some()] {
                            summary { "Edit" }
                            (budget_form(v, &format!("-{}", b.budget.id), again.map_or(&stored, |r| &r.0), again.map(|r| &r.1), &format!("Save {}", b.budget.spec.name)))
                        }
                        form.inline method="post" action=(format!("/budgets/{}/delete", b.budget.id)) {
                            (hidden(v))
                            button.danger type="submit" { "Delete " (b.budget.spec.name) }
                        }
                    }
                }
            }
        }
        @if !commitments.is_empty() { (commitments_table(&commitments)) }
        @if editable {
            h2 { "New budget" }
            @let blank = BudgetForm { id: None, name: String::new(), amount_usd: String::new(), period: "monthly".into(), enforce: None };
            @let again = retry_of(None);
            (budget_form(v, "", again.map_or(&blank, |r| &r.0), again.map(|r| &r.1), "Create budget"))
        }
    };
    let mut response = remembered(state, v, None, page("Budgets", v, "/budgets", body));
    if let Some((_, refused)) = &retry {
        *response.status_mut() = refused.status;
    }
    Ok(response)
}

/// A budget's form (ids suffixed with `suffix`) holding `values`, with why it was
/// refused beside the field it is about.
fn budget_form(
    v: &Visitor,
    suffix: &str,
    values: &BudgetForm,
    refused: Option<&Refused>,
    submit: &str,
) -> Markup {
    let id = |name: &str| format!("{name}{suffix}");
    let invalid = |field: &str| refused.is_some_and(|r| r.about(field)).then_some("true");
    let described = |field: &str| {
        refused
            .is_some_and(|r| r.about(field))
            .then(|| id(&format!("{field}-error")))
    };
    html! {
        form method="post" action="/budgets" {
            (hidden(v))
            @if let Some(r) = refused { (r.above(&["name", "amount_usd", "period", "enforce"])) }
            @if let Some(budget) = values.id { input type="hidden" name="id" value=(budget); }
            label for=(id("name")) { "Name" }
            input id=(id("name")) name="name" value=(values.name) required maxlength="200"
                aria-invalid=[invalid("name")] aria-describedby=[described("name")];
            @if let Some(r) = refused { (r.beside("name", &id("name-error"))) }
            label for=(id("amount")) { "Amount (USD)" }
            input id=(id("amount")) name="amount_usd" value=(values.amount_usd) required inputmode="decimal"
                aria-invalid=[invalid("amount_usd")] aria-describedby=[described("amount_usd")];
            @if let Some(r) = refused { (r.beside("amount_usd", &id("amount_usd-error"))) }
            label for=(id("period")) { "Period" }
            select id=(id("period")) name="period" aria-invalid=[invalid("period")] aria-describedby=[described("period")] {
                @for p in ["daily", "weekly", "monthly", "total"] { option value=(p) selected[p == values.period] { (p) } }
            }
            @if let Some(r) = refused { (r.beside("period", &id("period-error"))) }
            label for=(id("enforce")) { "Enforcement" }
            @let enforce = values.enforce.as_deref().unwrap_or(llmlab_app::budgets::ALERT);
            select id=(id("enforce")) name="enforce" aria-invalid=[invalid("enforce")] aria-describedby=[described("enforce")] {
                option value=(llmlab_app::budgets::ALERT) selected[enforce == llmlab_app::budgets::ALERT] { "Alert only" }
                option value=(llmlab_app::budgets::HARD) selected[enforce == llmlab_app::budgets::HARD] { "Hard: refuse reservations beyond it" }
            }
            @if let Some(r) = refused { (r.beside("enforce", &id("enforce-error"))) }
            button type="submit" { (submit) }
        }
    }
}

pub async fn create_budget(
    state: web::Data<AppState>,
    form: Submitted<MemberOnly, BudgetForm>,
) -> Page {
    let (v, form) = form.into_parts();
    match save(&state, &v, form.clone()).await {
        Ok(()) => Ok(done(&state, &v, "/budgets")),
        Err(e) => show(&state, &v, Some((form, Refused::of(e)?))).await,
    }
}

/// Creates or updates the budget `form` describes.
async fn save(state: &web::Data<AppState>, v: &Visitor, form: BudgetForm) -> Result<(), WebError> {
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
        enforce: form.enforce,
    };
    let allow_private = state.settings.webhooks.allow_private;
    let new = llmlab_app::budgets::validate(&state.catalog, allow_private, body)?;
    let limits = state.settings.limits;
    let (ws, id, identity) = (v.workspace(), form_id.map(BudgetId), v.identity.clone());
    blocking(state, move |s| {
        llmlab_app::budgets::upsert(s, ws, &identity, id, (&new, None), limits, Utc::now())
    })
    .await?;
    Ok(())
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
/// The workspace's commitments (made through `POST /api/commitments`), each with what
/// it consumed, what remains and where the forecast takes it.
fn commitments_table(list: &[llmlab_app::commitments::Standing]) -> Markup {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    html! {
        h2 #commitments { "Commitments" }
        table {
            caption.visually-hidden { "Commitments: consumed, remaining and forecast" }
            thead { tr {
                th scope="col" { "Commitment" } th scope="col" { "Provider" } th scope="col" { "Period" }
                th scope="col" { "Amount" } th scope="col" { "Consumed" } th scope="col" { "Remaining" }
                th scope="col" { "Forecast at end" } th scope="col" { "Runs out" }
            } }
            tbody { @for c in list {
                @let spec = &c.commitment.spec;
                tr {
                    th scope="row" { (spec.name) }
                    td { (spec.provider.as_deref().unwrap_or("all")) }
                    td { (spec.start_date) " – " (spec.end_date) }
                    td { (dollars(Usd::from_nanos(spec.amount_nanos))) }
                    td { (dollars(c.consumed)) }
                    td { (dollars(c.remaining)) }
                    td { (or_dash(c.forecast_end.map(dollars))) }
                    td { (or_dash(c.exhaustion.map(|d| d.to_string()))) }
                }
            } }
        }
    }
}

/// Whether reservations are refused beyond what `b` has left.
fn hard(b: &llmlab_app::budgets::Evaluated) -> bool {
    b.budget.spec.enforce == llmlab_app::budgets::HARD
}

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

/// A budget's burn-down chart, and the same figures as a table.
fn burn_down(
    b: &llmlab_app::budgets::Evaluated,
    steps: &[llmlab_app::budgets::BurnStep],
) -> Markup {
    let amount = Usd::from_nanos(b.budget.spec.amount_nanos);
    let id = b.budget.id.get().to_string();
    let title = format!(
        "{}: spend so far this {} against the even line to {}",
        b.budget.spec.name,
        match b.budget.spec.period.as_str() {
            "daily" => "day",
            "weekly" => "week",
            _ => "month",
        },
        dollars(amount)
    );
    html! {
        details.burn open {
            summary { "Burn-down" }
            (raw(chart::burn_down(&id, steps, amount, b.forecast, &title)))
            p.small { "Solid: spent so far. Dotted: the even line to the amount. Dashed: the forecast to the period's end, with its 80 % range shaded." }
            details {
                summary { "The same as a table" }
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Spent" } th scope="col" { "So far" } th scope="col" { "Even line" } } }
                    tbody { @for s in steps { tr {
                        td { (s.label) }
                        td { @if let Some(x) = s.spent { (dollars(x)) } @else { "—" } }
                        td { @if let Some(x) = s.so_far { (dollars(x)) } @else { "—" } }
                        td { (dollars(s.even)) }
                    } } }
                }
            }
        }
    }
}
