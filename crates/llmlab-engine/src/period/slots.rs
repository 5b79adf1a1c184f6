//! Slot lengths: the fixed UTC slots the store groups events in, chosen per zone so that
//! folding them into local buckets is exact (see the parent module's "Slots").

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::Zone;

/// First instant covered by the slot check of [`slot_secs_for`]: 1970-01-01T00:00:00Z.
const SCAN_FROM: i64 = 0;
/// End of the slot check of [`slot_secs_for`]: 2100-01-01T00:00:00Z.
const SCAN_TO: i64 = 4_102_444_800;
/// Sampling step when looking for offset changes. The time zone database has no two
/// offset changes of one zone less than six days apart since 1970, so a 12-hour step
/// cannot step over a change and back.
const SCAN_STEP: i64 = 12 * 3600;

/// The largest slot length in seconds (a divisor of 3600: 3600, 1800 or 900 for every zone
/// in use today) such that grouping events in fixed UTC slots of that length, then folding
/// the slots into local buckets of `zone`, is exact for any event from 1970 to 2100.
///
/// It is the greatest common divisor of 3600, every UTC offset the zone used over that
/// span and every instant at which the offset changed: `UTC`, `Europe/Paris` and
/// `America/New_York` give 3600, `Asia/Kolkata` (+05:30) 1800, `Asia/Kathmandu` (+05:45)
/// 900. A few zones changed clocks at odd minutes in the past (`America/St_Johns` until
/// 2011 at 00:01) and give 60; [`slot_secs_between`] answers for just the range a query
/// covers, which for recent data is usually larger.
///
/// Computed once per zone (about 100k offset look-ups) and remembered for the process.
pub fn slot_secs_for(zone: Zone) -> i64 {
    if zone == Zone::UTC {
        return 3600;
    }
    static CACHE: OnceLock<Mutex<HashMap<Tz, i64>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    // A poisoned lock only means another thread panicked mid-insert of a plain integer.
    if let Some(&secs) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&zone.0) {
        return secs;
    }
    let secs = slot_secs_scan(zone.0, SCAN_FROM, SCAN_TO);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(zone.0, secs);
    secs
}

/// Like [`slot_secs_for`], for events between `start` and `end` only (a day of margin is
/// added on both sides so that slots straddling the bounds are covered). Costs about one
/// offset look-up per 12 hours of range; the range is clamped to 1970–2100.
pub fn slot_secs_between(zone: Zone, start: DateTime<Utc>, end: DateTime<Utc>) -> i64 {
    if zone == Zone::UTC {
        return 3600;
    }
    let margin = 86_400;
    let clamp = |t: i64| t.clamp(SCAN_FROM, SCAN_TO);
    let from = clamp(start.timestamp().saturating_sub(margin));
    let to = clamp(end.timestamp().saturating_add(margin));
    slot_secs_scan(zone.0, from, to.max(from))
}

/// Greatest common divisor of 3600 and every offset and offset-change instant in `[from, to]`.
fn slot_secs_scan(tz: Tz, from: i64, to: i64) -> i64 {
    let mut prev = offset_secs(tz, from);
    let mut g = gcd(3600, prev);
    let mut t = from;
    while t < to {
        let next = (t + SCAN_STEP).min(to);
        let off = offset_secs(tz, next);
        if off != prev {
            // Bisect for the first second with the new offset.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_secs(tz, mid) == prev {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            g = gcd(gcd(g, hi), off);
            prev = off;
        }
        t = next;
    }
    g
}

/// The zone's UTC offset in seconds at the Unix time `t`.
pub(super) fn offset_secs(tz: Tz, t: i64) -> i64 {
    let utc = DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .naive_utc();
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    // Both inputs come from 3600 and small offsets, so the result fits.
    i64::try_from(a).unwrap_or(1).max(1)
}
