//! What a workspace's channels hear about, each occasion recorded once per channel.
//!
//! - **Budget alerts** are recorded for channels the moment the alert is
//!   ([`budget_alert`], called where the alert's once-per-level guarantee lives). An
//!   alert stays flagged until its channels are told, so one whose instance died between
//!   the two is found by the next [`tick`] with one query.
//! - **Forecasts, anomalies, unpriced models and reports** are looked for by [`tick`],
//!   which every instance runs every `LLMLAB_NOTIFY_INTERVAL_SECS`, in the workspaces
//!   that are due (`llmlab_store::schedule`): a workspace is due when events arrived or
//!   its channels or budgets changed (it is then looked at whole), when one of its
//!   reports falls due (only the report is made), and once a day (whole). The instances
//!   divide the due workspaces by leasing each for its visit. What is looked for: a
//!   forecast that says a budget will be exceeded before its period ends (from enough
//!   history: never the straight-line projection), an anomaly of severity medium or
//!   high of yesterday or today, a model stored without a price, and the weekly (Monday
//!   09:00) and monthly (the 1st, 09:00) report in the workspace's zone. A report is due
//!   from 09:00 on, so an instance that was down then sends it when it is back; a
//!   channel created after 09:00 waits for the next one.
//!
//! Each occasion has a key (`budget:<alert>`, `forecast:<budget>:<period>`,
//! `anomaly:<day>`, `unpriced:<provider>/<model>`, `report_weekly:<first day>`, …); the
//! store's unique `(channel, key)` is what makes "once" hold across instances racing for
//! the same occasion. Delivery is [`crate::notify`]'s.

use chrono::{DateTime, Duration, Utc};
use llmlab_engine::Usd;
use llmlab_engine::period::{Granularity, Zone, bucket_label, bucket_start};
use llmlab_engine::providers::Catalog;
use llmlab_recs::{AnomalyConfig, Severity};
use llmlab_store::{
    AlertRow, BudgetId, BudgetRow, ChannelId, ChannelRow, Store, WorkspaceId, workspaces,
};
use serde_json::json;

use crate::money::{calls, dollars, number};
use crate::notify::calendar::report_due;
use crate::notify::notice::{Event, Fact, Notice, Section};
use crate::reports::UtcDays;
use crate::{AppError, budgets, recommendations};

pub use crate::notify::tick::{Tick, tick};

/// A workspace as its notifications need it.
pub(crate) struct Audience {
    pub(crate) id: WorkspaceId,
    pub(crate) name: String,
    pub(crate) zone: Zone,
    pub(crate) channels: Vec<ChannelRow>,
}

impl Audience {
    pub(crate) fn of(s: &Store, id: WorkspaceId) -> Result<Audience, AppError> {
        let (name, zone) = s.with_conn(|c| workspaces::name_and_zone(c, id))?;
        Ok(Audience {
            id,
            name,
            zone: Zone::parse(&zone).unwrap_or(Zone::UTC),
            channels: s.list_channels(id)?,
        })
    }

    /// The channels subscribed to `event`, and those in `chosen` (a budget's own).
    pub(crate) fn to(&self, event: Event, chosen: &[ChannelId]) -> Vec<&ChannelRow> {
        self.channels
            .iter()
            .filter(|c| c.subscribes(event.as_str()) || chosen.contains(&c.id))
            .collect()
    }

    pub(crate) fn notice(&self, event: Event, title: String, summary: String) -> Notice {
        Notice {
            event,
            workspace_id: self.id.get(),
            workspace: self.name.clone(),
            title,
            summary,
            facts: Vec::new(),
            sections: Vec::new(),
            page: None,
            data: json!({}),
            created_at: Utc::now(),
        }
    }
}

/// Records `notice` for each of `to` under the occasion `key`; how many were new.
pub(crate) fn record(
    s: &Store,
    to: &[&ChannelRow],
    key: &str,
    notice: &Notice,
) -> Result<usize, AppError> {
    let payload = serde_json::to_string(notice).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut new = 0;
    for channel in to {
        let occasion = (notice.event.as_str(), key);
        new += usize::from(
            s.enqueue_notification(channel.workspace_id, channel.id, occasion, &payload)?
                .is_some(),
        );
    }
    Ok(new)
}

pub(crate) fn fact(label: &str, value: impl Into<String>) -> Fact {
    Fact {
        label: label.into(),
        value: value.into(),
    }
}

/// Records a new budget alert for the budget's channels and those subscribed to
/// `budget`; how many notifications were new.
pub fn budget_alert(
    s: &Store,
    workspace: WorkspaceId,
    budget: &BudgetRow,
    alert: &AlertRow,
) -> Result<usize, AppError> {
    let new = alert_notice(s, &Audience::of(s, workspace)?, budget, alert)?;
    s.mark_alert_notified(workspace, alert.id)?;
    Ok(new)
}

/// [`budget_alert`] for a workspace already read.
fn alert_notice(
    s: &Store,
    audience: &Audience,
    budget: &BudgetRow,
    alert: &AlertRow,
) -> Result<usize, AppError> {
    let chosen = budgets::channels_of(s, audience.id, budget.id)?;
    let to = audience.to(Event::Budget, &chosen);
    if to.is_empty() {
        return Ok(0);
    }
    let (spent, amount) = (
        Usd::from_nanos(alert.spent_nanos),
        Usd::from_nanos(alert.amount_nanos),
    );
    let what = if alert.level == "exceeded" {
        "exceeded"
    } else {
        "reached its warning level"
    };
    let mut n = audience.notice(
        Event::Budget,
        format!("Budget “{}” {what}", budget.spec.name),
        format!(
            "{} of {} spent in the current {} period.",
            dollars(spent),
            dollars(amount),
            budget.spec.period
        ),
    );
    n.facts = vec![
        fact("Spent", dollars(spent)),
        fact("Amount", dollars(amount)),
        fact("Level", alert.level.clone()),
        fact("Period", budget.spec.period.clone()),
    ];
    n.page = Some("/budgets".into());
    n.data = json!({
        "budget_id": budget.id.get(), "budget_name": budget.spec.name, "alert_id": alert.id,
        "level": alert.level, "spent_usd": number(spent), "amount_usd": number(amount),
        "period": budget.spec.period,
        "period_start": DateTime::from_timestamp_micros(alert.period_start),
    });
    n.created_at = alert.created_at.and_utc();
    record(s, &to, &format!("budget:{}", alert.id), &n)
}

/// Forecast notices of every budget of the workspace (`budgets`, with the channels
/// chosen for each in `links`), from its spend per UTC day (`days`) where that holds
/// what a budget needs.
pub(crate) fn forecasts(
    s: &Store,
    a: &Audience,
    (budgets, links): (&[BudgetRow], &[(BudgetId, ChannelId)]),
    days: UtcDays<'_>,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let mut new = 0;
    for budget in budgets {
        let chosen: Vec<ChannelId> = links
            .iter()
            .filter(|(b, _)| *b == budget.id)
            .map(|(_, c)| *c)
            .collect();
        new += forecast(s, a, budget.clone(), &chosen, days, now)?;
    }
    Ok(new)
}

fn forecast(
    s: &Store,
    a: &Audience,
    budget: BudgetRow,
    chosen: &[ChannelId],
    days: UtcDays<'_>,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let to = a.to(Event::Forecast, chosen);
    if to.is_empty() || budget.spec.period == "total" {
        return Ok(0);
    }
    let Some(over) = budgets::overrun_in(s, a.id, budget, Some(days), now)? else {
        return Ok(0);
    };
    let (b, e) = (&over.budget.budget, &over.budget.evaluation);
    let Some(f) = over.budget.forecast else {
        return Ok(0);
    };
    let amount = Usd::from_nanos(b.spec.amount_nanos);
    let zone = Zone::parse(&b.spec.timezone).unwrap_or(Zone::UTC);
    let day = bucket_label(over.crossing, Granularity::Day, zone);
    let range = match (f.low, f.high) {
        (Some(l), Some(h)) => format!(" (80 % range {} – {})", dollars(l), dollars(h)),
        _ => String::new(),
    };
    let mut n = a.notice(
        Event::Forecast,
        format!("Budget “{}” is on course to be exceeded", b.spec.name),
        format!(
            "At its usual pace, spend reaches {} around {day} and ends the {} period at about {}{range}.",
            dollars(amount),
            b.spec.period,
            dollars(f.expected),
        ),
    );
    n.facts = vec![
        fact("Spent so far", dollars(e.spent)),
        fact("Amount", dollars(amount)),
        fact("Forecast", dollars(f.expected)),
        fact("Expected to cross on", day.clone()),
    ];
    n.page = Some("/budgets".into());
    n.data = json!({
        "budget_id": b.id.get(), "budget_name": b.spec.name, "spent_usd": number(e.spent),
        "amount_usd": number(amount), "forecast_usd": number(f.expected),
        "forecast_low_usd": f.low.map(number), "forecast_high_usd": f.high.map(number), "forecast_method": f.method, "expected_crossing": day,
        "period_start": e.window.start, "period_end": e.window.end,
    });
    let period = e.window.start.map_or(0, |t| t.timestamp());
    record(s, &to, &format!("forecast:{}:{period}", b.id), &n)
}

/// A commitment is told of as a forecast warning when the weekday trend (never the
/// straight line of a few days) has it used up before its end, or ending with more than
/// this share of it unused, in percent.
const UNDERUSE_PCT: i64 = 10;

/// Forecast notices of the workspace's commitments: one when a commitment is on course
/// to run out before its end, one when it is on course to be underused; each once.
pub(crate) fn commitments(
    s: &Store,
    a: &Audience,
    rows: &[llmlab_store::commitments::CommitmentRow],
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let to = a.to(Event::Forecast, &[]);
    if to.is_empty() {
        return Ok(0);
    }
    let mut new = 0;
    for row in rows {
        let c = crate::commitments::standing(s, a.id, row.clone(), now)?;
        let Some(expected) = c.forecast_end.filter(|_| c.trend) else {
            continue;
        };
        let spec = &c.commitment.spec;
        let amount = Usd::from_nanos(spec.amount_nanos);
        let unused = amount.saturating_sub(expected);
        let (kind, title, text) = match c.exhaustion {
            Some(day) => (
                "runs_out",
                format!("Commitment “{}” is on course to run out early", spec.name),
                format!(
                    "At its usual pace, spend uses up its {} around {day}, before its end on {}.",
                    dollars(amount),
                    spec.end_date
                ),
            ),
            None if unused.nanos() > i128_pct(amount, UNDERUSE_PCT) => (
                "underused",
                format!("Commitment “{}” is on course to be underused", spec.name),
                format!(
                    "At its usual pace, spend ends it on {} at about {} of its {}: {} unused.",
                    spec.end_date,
                    dollars(expected),
                    dollars(amount),
                    dollars(unused)
                ),
            ),
            None => continue,
        };
        let mut n = a.notice(Event::Forecast, title, text);
        n.facts = vec![
            fact("Consumed so far", dollars(c.consumed)),
            fact("Amount", dollars(amount)),
            fact("Forecast at its end", dollars(expected)),
        ];
        n.page = Some("/overview".into());
        n.data = json!({
            "commitment_id": c.commitment.id, "commitment_name": spec.name,
            "provider": spec.provider, "amount_usd": number(amount),
            "consumed_usd": number(c.consumed), "forecast_end_usd": number(expected),
            "projected_exhaustion_date": c.exhaustion, "projected_unused_usd": number(unused),
            "start": spec.start_date, "end": spec.end_date,
        });
        new += record(
            s,
            &to,
            &format!("commitment:{}:{kind}", c.commitment.id),
            &n,
        )?;
    }
    Ok(new)
}

/// `pct` percent of `amount`, in nano-dollars, rounded down.
fn i128_pct(amount: Usd, pct: i64) -> i64 {
    i64::try_from(i128::from(amount.nanos()) * i128::from(pct) / 100).unwrap_or(i64::MAX)
}

/// Anomaly notices of the workspace, from its spend per day over the anomaly history
/// (`days`, as [`recommendations::anomalies_in`] takes it).
pub(crate) fn anomalies(
    s: &Store,
    a: &Audience,
    days: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let to = a.to(Event::Anomaly, &[]);
    let since = now.date_naive() - Duration::days(1);
    let found = recommendations::anomalies_in(s, a.id, &AnomalyConfig::default(), now, days)?;
    let mut new = 0;
    for day in found
        .iter()
        .filter(|d| d.date >= since && d.severity >= Severity::Medium)
    {
        let key = format!("anomaly:{}", day.date);
        let mut n = a.notice(
            Event::Anomaly,
            format!("Unusual spend on {}", day.date),
            format!(
                "{} spent, {} above the usual {} for that day.",
                dollars(day.cost),
                dollars(day.excess),
                dollars(day.mean)
            ),
        );
        n.facts = vec![
            fact("Spent", dollars(day.cost)),
            fact("Usual", dollars(day.mean)),
            fact("Severity", format!("{:?}", day.severity).to_lowercase()),
        ];
        n.sections = vec![Section {
            heading: "What drove it".into(),
            lines: day
                .drivers
                .iter()
                .take(8)
                .map(|d| format!("{}: +{}", d.dimension.label(), dollars(d.excess)))
                .collect(),
        }];
        n.page = Some("/recommendations".into());
        n.data = crate::money::usd_numbers(serde_json::to_value(day).unwrap_or_default());
        new += record(s, &to, &key, &n)?;
    }
    Ok(new)
}

pub(crate) fn unpriced(s: &Store, a: &Audience) -> Result<usize, AppError> {
    let to = a.to(Event::Unpriced, &[]);
    let models = s.with_conn(|c| llmlab_store::ledger::unpriced(c, a.id, 100))?;
    let mut new = 0;
    for m in models {
        let key = format!("unpriced:{}/{}", m.provider, m.model);
        if to.iter().all(|c| has(s, c, &key)) {
            continue;
        }
        let since = DateTime::from_timestamp_micros(m.first_seen).unwrap_or_default();
        let verb = if m.calls == 1 { "is" } else { "are" };
        let mut n = a.notice(
            Event::Unpriced,
            format!("No price for {}/{}", m.provider, m.model),
            format!(
                "{} since {} {verb} stored at $0 until the model has a price: set a \
                 custom price, then re-price them.",
                calls(u64::try_from(m.calls).unwrap_or(0)),
                since.format("%Y-%m-%d %H:%M UTC")
            ),
        );
        n.facts = vec![
            fact("Calls", m.calls.to_string()),
            fact("Input tokens", m.input_tokens.to_string()),
            fact("Output tokens", m.output_tokens.to_string()),
        ];
        n.page = Some("/pricing".into());
        n.data = json!({"provider": m.provider, "model": m.model, "calls": m.calls,
                        "first_seen": since});
        new += record(s, &to, &key, &n)?;
    }
    Ok(new)
}

fn has(s: &Store, c: &ChannelRow, key: &str) -> bool {
    s.has_notification(c.workspace_id, c.id, key)
        .unwrap_or(false)
}

/// The report of `kind` due now, if it is past 09:00 on its day and some channel that
/// existed then has not had it.
pub(crate) fn report(
    s: &Store,
    catalog: &Catalog,
    a: &Audience,
    kind: Event,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let g = if kind == Event::ReportWeekly {
        Granularity::Week
    } else {
        Granularity::Month
    };
    // The period that ended at the start of the current one.
    let current = bucket_start(now, g, a.zone);
    let previous = bucket_start(current - Duration::days(1), g, a.zone);
    let Some(due) = report_due(current, a.zone) else {
        return Ok(0);
    };
    if now < due {
        return Ok(0);
    }
    let key = format!(
        "{}:{}",
        kind.as_str(),
        bucket_label(previous, Granularity::Day, a.zone)
    );
    let to: Vec<&ChannelRow> = a
        .to(kind, &[])
        .into_iter()
        .filter(|c| c.created_at.and_utc() <= due && !has(s, c, &key))
        .collect();
    if to.is_empty() {
        return Ok(0);
    }
    let before = bucket_start(previous - Duration::days(1), g, a.zone);
    let n = super::digest::build(
        s,
        catalog,
        (a.id, &a.name, a.zone),
        kind,
        [before, previous, current],
        now,
    )?;
    record(s, &to, &key, &n)
}
