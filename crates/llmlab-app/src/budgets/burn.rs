//! A budget's burn-down: its spend so far in the current period, bucket by bucket and
//! added up, beside the even line from nothing to its amount; the chart's figures.

use chrono::{DateTime, Utc};
use llmlab_engine::Usd;
use llmlab_engine::period::Granularity;
use llmlab_store::{Store, WorkspaceId};

use super::{Evaluated, scope_filter, spec};
use crate::AppError;
use crate::reports::summary;

/// One bucket of a burn-down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurnStep {
    /// The bucket's label in the budget's zone (a day, or an hour of a daily budget).
    pub label: String,
    /// Spent in it; `None` for buckets still to come.
    pub spent: Option<Usd>,
    /// Spent from the period's start to the bucket's end; `None` for those to come.
    pub so_far: Option<Usd>,
    /// The even line's value at the bucket's end: the amount × the share of the period
    /// elapsed by then (the one rounding rule of [`Usd::mul_div`]).
    pub even: Usd,
}

/// The burn-down of `budget` at `now`: every bucket of its current period (hours of a
/// daily budget, days of the others); `None` for a `total` budget, which has no period
/// to burn down.
pub fn burn_down(
    s: &Store,
    workspace: WorkspaceId,
    budget: &Evaluated,
    now: DateTime<Utc>,
) -> Result<Option<Vec<BurnStep>>, AppError> {
    let (spec, scope) = spec(&budget.budget)?;
    let window = budget.evaluation.window;
    let (Some(start), Some(end)) = (window.start, window.end) else {
        return Ok(None);
    };
    let granularity = if end - start <= chrono::Duration::days(1) {
        Granularity::Hour
    } else {
        Granularity::Day
    };
    let filter = scope_filter(scope);
    let series = summary(s, workspace, &filter, (start, end), granularity, spec.zone)?;
    let length = (end - start).num_seconds().max(1);
    let mut so_far = Usd::ZERO;
    let steps = series
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let bucket_end = series
                .buckets
                .get(i + 1)
                .map_or(end, |next| next.start)
                .min(end);
            let elapsed = (bucket_end - start).num_seconds().clamp(0, length);
            let even = spec.amount.mul_div(elapsed, length).unwrap_or(spec.amount);
            let started = b.start <= now;
            if started {
                so_far = so_far.saturating_add(b.totals.cost);
            }
            BurnStep {
                label: b.label.clone(),
                spent: started.then_some(b.totals.cost),
                so_far: started.then_some(so_far),
                even,
            }
        })
        .collect();
    Ok(Some(steps))
}
