//! The notice an import sends when the bill it brings drifts from what was tracked:
//! once per import, to the channels subscribed to `drift`.

use llmlab_engine::Usd;
use llmlab_store::billing::ImportRow;
use llmlab_store::{Store, WorkspaceId};
use serde_json::json;

use super::DayDrift;
use crate::AppError;
use crate::money::{dollars, number};
use crate::notifications::{Audience, fact, record};
use crate::notify::notice::Event;

/// A day drifts when its drift passes this share of its bill: 5 %, in basis points.
pub const ALERT_BP: i64 = 500;

/// Whether `d` drifts past [`ALERT_BP`] (or was billed nothing while calls were
/// tracked).
pub fn beyond(d: &DayDrift) -> bool {
    match d.figures.drift_bp() {
        Some(bp) => bp.abs() > ALERT_BP,
        None => d.figures.tracked != Usd::ZERO,
    }
}

/// Tells the workspace's `drift` channels of the days of `import` beyond the threshold;
/// how many notifications were new.
pub(super) fn tell(
    s: &Store,
    workspace: WorkspaceId,
    import: &ImportRow,
    days: &[DayDrift],
) -> Result<usize, AppError> {
    let beyond: Vec<&DayDrift> = days.iter().filter(|d| beyond(d)).collect();
    if beyond.is_empty() {
        return Ok(0);
    }
    let a = Audience::of(s, workspace)?;
    let to = a.to(Event::Drift, &[]);
    if to.is_empty() {
        return Ok(0);
    }
    let drift: Usd = beyond.iter().map(|d| d.figures.drift()).sum();
    let spec = &import.spec;
    let mut n = a.notice(
        Event::Drift,
        format!(
            "The bill drifts from what was tracked on {} day{}",
            beyond.len(),
            if beyond.len() == 1 { "" } else { "s" }
        ),
        format!(
            "The {} report imported for {} to {} differs from what LLMLab tracked by more \
             than 5 % on {} day(s): {} in all on those days (billed − tracked).",
            spec.format,
            spec.start_date,
            spec.end_date,
            beyond.len(),
            dollars(drift)
        ),
    );
    n.facts = beyond
        .iter()
        .take(10)
        .map(|d| {
            fact(
                &format!("{} {}", d.date, d.provider),
                format!(
                    "billed {}, tracked {}",
                    dollars(d.figures.billed),
                    dollars(d.figures.tracked)
                ),
            )
        })
        .collect();
    n.page = Some("/reconciliation".into());
    n.data = json!({
        "import_id": import.id,
        "format": spec.format,
        "start": spec.start_date,
        "end": spec.end_date,
        "threshold_pct": 5,
        "days": beyond.iter().map(|d| json!({
            "date": d.date, "provider": d.provider,
            "billed_usd": number(d.figures.billed), "tracked_usd": number(d.figures.tracked),
            "drift_usd": number(d.figures.drift()),
        })).collect::<Vec<_>>(),
    });
    record(s, &to, &format!("drift:{}", import.id), &n)
}
