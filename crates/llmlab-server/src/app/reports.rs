//! Cost reports that are more than one aggregate: the summary's series, folded from the
//! store's fixed UTC slots into local calendar buckets and bounded in size.

use chrono::{DateTime, Utc};
use llmlab_engine::Usd;
use llmlab_engine::aggregate::{Bucket, Slot, Totals, fill_gaps, fold_slots};
use llmlab_engine::period::{Granularity, Zone, max_buckets_between, slot_secs_for};
use llmlab_store::WorkspaceId;
use llmlab_store::{EventFilter, Store};

use crate::app::AppError;

/// Most buckets one summary returns (10,000: hourly over a year is 8,760).
pub const MAX_SUMMARY_BUCKETS: u64 = 10_000;

/// Store sums (never negative) → engine totals.
pub fn totals(cost_nanos: i64, calls: i64, input_tokens: i64, output_tokens: i64) -> Totals {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Totals {
        cost: Usd::from_nanos(cost_nanos),
        calls: n(calls),
        input_tokens: n(input_tokens),
        output_tokens: n(output_tokens),
        ..Totals::default()
    }
}

/// Spend from `start` to `end` bucketed by `granularity` in `zone`, every bucket present
/// (empty ones too). A range that would hold more than [`MAX_SUMMARY_BUCKETS`] is refused
/// before anything is built. Run on the blocking pool: folding is CPU work proportional
/// to the buckets.
pub fn summary(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    granularity: Granularity,
    zone: Zone,
) -> Result<Series, AppError> {
    let buckets = max_buckets_between(start, end, granularity);
    if buckets > MAX_SUMMARY_BUCKETS {
        return Err(AppError::invalid(
            "granularity",
            format!(
                "{start}..{end} spans up to {buckets} {} buckets; a summary holds at most \
                 {MAX_SUMMARY_BUCKETS}: narrow the range or choose a coarser granularity",
                granularity.as_str()
            ),
        ));
    }
    let slot_secs = u32::try_from(slot_secs_for(zone)).unwrap_or(900);
    let rows = s.slots(workspace, filter, slot_secs)?;
    let slots = rows.iter().map(|r| Slot {
        start: DateTime::from_timestamp_micros(r.slot_start_micros).unwrap_or_default(),
        totals: totals(r.cost_nanos, r.calls, r.input_tokens, r.output_tokens),
    });
    let folded = fold_slots(slots, granularity, zone);
    Ok(Series {
        buckets: fill_gaps(folded, start, end, granularity, zone),
        unpriced_calls: rows.iter().map(|r| r.unpriced_calls).sum(),
    })
}

/// A summary's buckets and the calls in them stored without a price.
pub struct Series {
    /// Every bucket of the range.
    pub buckets: Vec<Bucket>,
    /// Calls stored unpriced (cost 0 until re-priced).
    pub unpriced_calls: i64,
}
