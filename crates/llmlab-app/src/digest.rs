//! The weekly and monthly spend reports: the period's spend and its change against the
//! period before, the top models and tag values, the budgets now, the anomalies of the
//! period and the largest saving found in the last 30 days. Every figure is read from
//! the same reports the API serves.

use chrono::{DateTime, Utc};
use llmlab_engine::Usd;
use llmlab_engine::aggregate::share_pct;
use llmlab_engine::period::{Granularity, Zone, bucket_label};
use llmlab_engine::providers::Catalog;
use llmlab_recs::AnomalyConfig;
use llmlab_store::{EventFilter, Store, WorkspaceId};
use serde_json::json;

use crate::money::{calls, dollars, number};
use crate::notify::notice::{Event, Fact, Notice, Section};
use crate::{AppError, budgets, recommendations};

/// Tag keys a report breaks spend down by, at most.
const TAG_KEYS: u32 = 3;

fn spend(
    s: &Store,
    workspace: WorkspaceId,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Usd, AppError> {
    let filter = EventFilter::between(from.timestamp_micros(), to.timestamp_micros());
    Ok(Usd::from_nanos(s.spend(workspace, &filter)?))
}

/// The report of `kind` for the period `[bounds[1], bounds[2])`, compared with
/// `[bounds[0], bounds[1])`.
pub fn build(
    s: &Store,
    catalog: &Catalog,
    (workspace, name, zone): (WorkspaceId, &str, Zone),
    kind: Event,
    [before, from, to]: [DateTime<Utc>; 3],
    now: DateTime<Utc>,
) -> Result<Notice, AppError> {
    let label = |t: DateTime<Utc>| bucket_label(t, Granularity::Day, zone);
    let last_day = label(to - chrono::Duration::hours(1));
    let period = format!("{} – {last_day}", label(from));
    let total = spend(s, workspace, (from, to))?;
    let prior = spend(s, workspace, (before, from))?;
    let change = if prior == Usd::ZERO {
        "no spend the period before".to_string()
    } else {
        let pct = share_pct(total.saturating_sub(prior), prior);
        format!("{pct:+.1} % against {}", dollars(prior))
    };
    let filter = EventFilter::between(from.timestamp_micros(), to.timestamp_micros());
    let mut sections = Vec::new();
    let models = s.top_models(workspace, &filter, 5)?;
    sections.push(Section {
        heading: "Top models".into(),
        lines: models
            .iter()
            .map(|m| {
                let cost = Usd::from_nanos(m.sums.cost_nanos);
                let share = share_pct(cost, total);
                format!(
                    "{}/{}: {} ({share} %, {})",
                    m.provider,
                    m.model,
                    dollars(cost),
                    calls(u64::try_from(m.sums.calls).unwrap_or(0))
                )
            })
            .collect(),
    });
    for key in s.tag_keys(workspace, &filter, TAG_KEYS)? {
        let values = s.cost_by_tag(workspace, &filter, &key)?.values;
        sections.push(Section {
            heading: format!("Top {key}"),
            lines: values
                .iter()
                .take(5)
                .map(|v| format!("{}: {}", v.value, dollars(Usd::from_nanos(v.cost_nanos))))
                .collect(),
        });
    }
    let evaluated = budgets::list(s, workspace, now)?;
    if !evaluated.is_empty() {
        sections.push(Section {
            heading: "Budgets now".into(),
            lines: evaluated
                .iter()
                .map(|b| {
                    format!(
                        "{}: {} of {} ({}, {} %)",
                        b.budget.spec.name,
                        dollars(b.evaluation.spent),
                        dollars(Usd::from_nanos(b.budget.spec.amount_nanos)),
                        b.evaluation.status.as_str(),
                        b.evaluation.percent_used
                    )
                })
                .collect(),
        });
    }
    // The period's days as the report names them (in its zone); anomalies are judged
    // per UTC day, and a day counts when its date is one of them.
    let (first, last) = (label(from), label(to));
    let found = recommendations::anomalies_for(s, workspace, &AnomalyConfig::default(), now)?;
    let anomalies: Vec<String> = found
        .iter()
        .filter(|a| {
            // ISO dates: their order as text is their order in time.
            let day = a.date.to_string();
            first <= day && day < last
        })
        .map(|a| {
            let severity = format!("{:?}", a.severity).to_lowercase();
            format!(
                "{}: {} ({} above usual, {severity})",
                a.date,
                dollars(a.cost),
                dollars(a.excess)
            )
        })
        .collect();
    if !anomalies.is_empty() {
        sections.push(Section {
            heading: "Anomalies".into(),
            lines: anomalies,
        });
    }
    let switches = recommendations::model_switches(s, catalog, workspace, 30, now)?;
    let best = switches.iter().max_by_key(|w| w.monthly_savings);
    if let Some(w) = best {
        sections.push(Section {
            heading: "Largest saving".into(),
            lines: vec![format!(
                "{}/{} → {}/{}: {} a month ({} %), from your last 30 days",
                w.provider,
                w.current_model,
                w.suggested_provider,
                w.suggested_model,
                dollars(w.monthly_savings),
                w.savings_pct
            )],
        });
    }
    let what = if kind == Event::ReportWeekly {
        "Weekly"
    } else {
        "Monthly"
    };
    Ok(Notice {
        event: kind,
        workspace_id: workspace.get(),
        workspace: name.to_string(),
        title: format!("{what} spend report, {period}"),
        summary: format!("{} spent ({change}).", dollars(total)),
        facts: vec![
            Fact {
                label: "Spend".into(),
                value: dollars(total),
            },
            Fact {
                label: "Period before".into(),
                value: dollars(prior),
            },
        ],
        sections,
        page: Some("/overview".into()),
        data: json!({
            "period_start": from, "period_end": to, "zone": zone.name(),
            "spend_usd": number(total), "previous_spend_usd": number(prior),
            "top_models": models.iter().map(|m| json!({
                "provider": m.provider, "model": m.model,
                "cost_usd": number(Usd::from_nanos(m.sums.cost_nanos)), "calls": m.sums.calls,
            })).collect::<Vec<_>>(),
            "largest_saving": best.map(|w| json!({
                "provider": w.provider, "current_model": w.current_model,
                "suggested_provider": w.suggested_provider, "suggested_model": w.suggested_model,
                "monthly_savings_usd": number(w.monthly_savings),
            })),
        }),
        created_at: now,
    })
}
