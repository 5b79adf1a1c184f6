//! When a workspace's notifications next fall due on their own: the weekly (Monday) and
//! monthly (the 1st) reports at 09:00 in the workspace's zone, and the daily look.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use llmlab_engine::period::{Granularity, Zone, bucket_label, bucket_start};
use llmlab_store::schedule::Next;

/// How often a workspace with nothing new is still looked at whole: a budget's new
/// period can be forecast to overrun from history alone.
const DAILY_LOOK: Duration = Duration::days(1);

/// When a workspace visited at `now` is next due on its own: its next weekly or monthly
/// report, or the daily look, whichever comes first.
pub(crate) fn next_due(now: DateTime<Utc>, zone: Zone) -> Next {
    let look = now + DAILY_LOOK;
    let report = [Granularity::Week, Granularity::Month]
        .into_iter()
        .filter_map(|g| next_report(now, g, zone))
        .min();
    match report {
        Some(r) if r < look => Next {
            at: r.timestamp_micros(),
            full: false,
        },
        _ => Next {
            at: look.timestamp_micros(),
            full: true,
        },
    }
}

/// When the next report of granularity `g` falls due after `now` (09:00 local on the
/// first day of a period).
fn next_report(now: DateTime<Utc>, g: Granularity, zone: Zone) -> Option<DateTime<Utc>> {
    let current = bucket_start(now, g, zone);
    let due = report_due(current, zone)?;
    if due > now {
        return Some(due);
    }
    // The start of the next period: a day past this one's longest length.
    let span = if g == Granularity::Week { 8 } else { 32 };
    report_due(bucket_start(current + Duration::days(span), g, zone), zone)
}

/// 09:00 local on the day that starts at `start`.
pub(crate) fn report_due(start: DateTime<Utc>, zone: Zone) -> Option<DateTime<Utc>> {
    let first_day = bucket_label(start, Granularity::Day, zone);
    NaiveDate::parse_from_str(&first_day, "%Y-%m-%d")
        .ok()
        .and_then(|d| nine_am(d, zone))
}

/// The local instant `date` 09:00 in `zone` (the first one, around a clock change).
fn nine_am(date: NaiveDate, zone: Zone) -> Option<DateTime<Utc>> {
    let local = date.and_hms_opt(9, 0, 0)?;
    zone.tz()
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}
