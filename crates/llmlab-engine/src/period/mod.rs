//! Calendar time in a time zone: report buckets (hour/day/week/month) and budget periods
//! (daily/weekly/monthly/total), both computed on local calendar boundaries.
//!
//! Every boundary is returned as a UTC instant, because that is what the store compares
//! timestamps with. Local days are not always 24 hours long: in `America/New_York` the day of
//! 2024-03-10 lasts 23 hours and the day of 2024-11-03 lasts 25. Some zones have switched
//! their clocks *at* midnight (`America/Santiago`, `America/Sao_Paulo`, `Asia/Beirut`), so a
//! local midnight can be missing or happen twice; a bucket then starts at the first instant
//! of its local day and nothing here panics.
//!
//! # Slots
//!
//! The store does not group events by local bucket in SQL (date truncation in a zone differs
//! per backend and is slow); it groups them in fixed UTC slots of [`slot_secs_for`] seconds
//! and [`crate::aggregate::fold_slots`] merges the slots into local buckets. That is exact
//! when no bucket boundary falls inside a slot, which holds when every UTC offset the zone
//! uses and every instant at which it changes offset are multiples of the slot length.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, LocalResult, Months, NaiveDate, NaiveDateTime,
    NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::EngineError;

mod slots;
use slots::offset_secs;
pub use slots::{slot_secs_between, slot_secs_for};

/// An IANA time zone (`Europe/Paris`, `America/New_York`, `UTC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone(Tz);

impl Zone {
    /// Coordinated Universal Time, the default zone of every report.
    pub const UTC: Zone = Zone(Tz::UTC);

    /// Parses an IANA zone name. The exact spelling is tried first; a name that differs
    /// only in case (`america/new_york`) is accepted too, since query strings are typed by
    /// people.
    pub fn parse(name: &str) -> Result<Zone, EngineError> {
        let trimmed = name.trim();
        if let Ok(tz) = trimmed.parse::<Tz>() {
            return Ok(Zone(tz));
        }
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(trimmed))
            .map(|&tz| Zone(tz))
            .ok_or_else(|| EngineError::InvalidTimeZone(name.to_string()))
    }

    /// The IANA name (`America/New_York`).
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The underlying `chrono-tz` zone, for callers that format local times themselves.
    pub fn tz(self) -> Tz {
        self.0
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::UTC
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Zone {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Zone, EngineError> {
        Zone::parse(s)
    }
}

impl Serialize for Zone {
    /// The IANA name.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Zone {
    /// An IANA name, validated by [`Zone::parse`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Zone, D::Error> {
        let name = String::deserialize(deserializer)?;
        Zone::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// The size of a report bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// A local clock hour.
    Hour,
    /// A local calendar day, from local midnight.
    Day,
    /// An ISO week, from Monday local midnight.
    Week,
    /// A calendar month, from the first of the month at local midnight.
    Month,
}

impl Granularity {
    /// Parses `hour`, `day`, `week` or `month` (any case).
    pub fn parse(s: &str) -> Result<Granularity, EngineError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hour" => Ok(Granularity::Hour),
            "day" => Ok(Granularity::Day),
            "week" => Ok(Granularity::Week),
            "month" => Ok(Granularity::Month),
            _ => Err(EngineError::InvalidValue {
                field: "granularity",
                message: format!("'{s}' is not one of hour, day, week, month"),
            }),
        }
    }

    /// The lowercase name (`day`).
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Granularity {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Granularity, EngineError> {
        Granularity::parse(s)
    }
}

/// The period a budget resets on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// From local midnight to the next local midnight.
    Daily,
    /// From Monday local midnight to the next Monday.
    Weekly,
    /// From the first of the month at local midnight to the first of the next month.
    Monthly,
    /// Never resets: all spend counts.
    Total,
}

impl Period {
    /// Parses `daily`, `weekly`, `monthly` or `total` (any case).
    pub fn parse(s: &str) -> Result<Period, EngineError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" => Ok(Period::Daily),
            "weekly" => Ok(Period::Weekly),
            "monthly" => Ok(Period::Monthly),
            "total" => Ok(Period::Total),
            _ => Err(EngineError::InvalidValue {
                field: "period",
                message: format!("'{s}' is not one of daily, weekly, monthly, total"),
            }),
        }
    }

    /// The lowercase name (`monthly`).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Total => "total",
        }
    }

    /// The bucket size whose buckets are this period's windows; `None` for `Total`.
    pub fn granularity(self) -> Option<Granularity> {
        match self {
            Period::Daily => Some(Granularity::Day),
            Period::Weekly => Some(Granularity::Week),
            Period::Monthly => Some(Granularity::Month),
            Period::Total => None,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Period {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Period, EngineError> {
        Period::parse(s)
    }
}

/// A half-open range of instants `[start, end)`; a missing bound is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Window {
    /// First instant inside, `None` for "since the beginning".
    pub start: Option<DateTime<Utc>>,
    /// First instant after, `None` for "no end".
    pub end: Option<DateTime<Utc>>,
}

impl Window {
    /// The window with no bounds.
    pub const UNBOUNDED: Window = Window {
        start: None,
        end: None,
    };

    /// Whether `ts` is inside.
    pub fn contains(&self, ts: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| s <= ts) && self.end.is_none_or(|e| ts < e)
    }

    /// Length in seconds when both bounds are known.
    pub fn duration_secs(&self) -> Option<i64> {
        Some((self.end? - self.start?).num_seconds())
    }
}

/// The start, as a UTC instant, of the local calendar bucket that contains `ts`.
///
/// - `Hour`: the local clock hour. When clocks fall back, the repeated hour is two buckets
///   (their labels differ by offset). A local hour that doesn't exist is skipped; an hour
///   whose start doesn't exist (a 30-minute shift) starts at the first valid instant.
/// - `Day`: local midnight; `Week`: Monday local midnight (ISO weeks); `Month`: the first of
///   the month at local midnight. A midnight that happens twice starts the day at the first
///   one; a midnight that doesn't exist starts the day at its first valid instant.
///
/// Never panics, even at the ends of `DateTime`'s range.
pub fn bucket_start(ts: DateTime<Utc>, g: Granularity, zone: Zone) -> DateTime<Utc> {
    let tz = zone.0;
    let (local, _) = to_local(ts, tz);
    let date = local.date();
    match g {
        Granularity::Hour => {
            let hour = NaiveTime::from_hms_opt(local.hour(), 0, 0).unwrap_or(NaiveTime::MIN);
            resolve_local(tz, date.and_time(hour), Some(ts))
        }
        Granularity::Day => day_start(tz, date),
        Granularity::Week => day_start(tz, monday_of(date)),
        Granularity::Month => day_start(tz, first_of_month(date)),
    }
}

/// The start of the bucket that follows the one starting at `start` (a value returned by
/// [`bucket_start`]). Always later than `start`, except at the very end of `DateTime`'s range.
pub fn next_bucket_start(start: DateTime<Utc>, g: Granularity, zone: Zone) -> DateTime<Utc> {
    let tz = zone.0;
    let date = to_local(start, tz).0.date();
    let calendar_next = |step: &dyn Fn(NaiveDate, u32) -> Option<NaiveDate>| {
        // A later date can still resolve to `start` when whole local days are missing
        // (Pacific/Apia skipped 2011-12-30): try the following ones.
        (1..=3)
            .filter_map(|n| step(date, n))
            .map(|d| day_start(tz, d))
            .find(|&s| s > start)
    };
    let next = match g {
        Granularity::Day => calendar_next(&|d, n| d.checked_add_days(Days::new(u64::from(n)))),
        Granularity::Week => {
            calendar_next(&|d, n| monday_of(d).checked_add_days(Days::new(7 * u64::from(n))))
        }
        Granularity::Month => {
            calendar_next(&|d, n| first_of_month(d).checked_add_months(Months::new(n)))
        }
        Granularity::Hour => {
            // Every hour boundary is a multiple of the slot length (see `slot_secs_between`),
            // so stepping by it from a boundary finds the next boundary exactly. Local hours
            // are not always 60 minutes long (Australia/Lord_Howe shifts by 30 minutes), and a
            // fall-back can return to an older bucket, hence "the first later bucket".
            let step = slot_secs_between(zone, start, start);
            let max_steps = 3 * 3600 / step + 1;
            (1..=max_steps)
                .filter_map(|k| start.checked_add_signed(TimeDelta::seconds(k * step)))
                .map(|t| bucket_start(t, g, zone))
                .find(|&s| s > start)
        }
    };
    next.or_else(|| start.checked_add_signed(TimeDelta::hours(1)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Most buckets a series from `start` to `end` can hold at granularity `g`, in any zone:
/// the range over the shortest such bucket (a 23-hour day, a month of 28 days less an
/// hour), plus the two partial buckets at the ends. Callers bound the work of a report
/// with it before building the series.
pub fn max_buckets_between(start: DateTime<Utc>, end: DateTime<Utc>, g: Granularity) -> u64 {
    let secs = u64::try_from((end - start).num_seconds()).unwrap_or(0);
    let whole = match g {
        // Clock hours are an hour long but for a transition (Australia/Lord_Howe's is a
        // 30-minute one), and zones change their offset at most a few times a year.
        Granularity::Hour => secs / 3_600 + secs / (150 * 86_400),
        Granularity::Day => secs / (23 * 3_600),
        Granularity::Week => secs / (7 * 86_400 - 3_600),
        Granularity::Month => secs / (28 * 86_400 - 3_600),
    };
    whole + 2
}

/// The label of the bucket starting at `start`: the local date (`2024-03-10`) for day, week
/// (the Monday) and month (the first), or the local start time with its offset in RFC 3339
/// for hour (`2024-03-10T03:00:00-04:00`), so the two hours of a fall-back stay distinct.
pub fn bucket_label(start: DateTime<Utc>, g: Granularity, zone: Zone) -> String {
    let (local, offset) = to_local(start, zone.0);
    match g {
        Granularity::Hour => format!("{}{offset}", local.format("%Y-%m-%dT%H:%M:%S")),
        Granularity::Day | Granularity::Week | Granularity::Month => {
            local.date().format("%Y-%m-%d").to_string()
        }
    }
}

/// The current calendar period in `zone` that contains `now`: today, this ISO week (from
/// Monday) or this month, from local midnight to local midnight. `Total` is unbounded.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use llmlab_engine::period::{period_window, Period, Zone};
///
/// let now = Utc.with_ymd_and_hms(2025, 3, 31, 23, 30, 0).unwrap();
/// // Already April in Berlin: its month starts at local midnight, 22:00 UTC.
/// let april = period_window(Period::Monthly, now, Zone::parse("Europe/Berlin").unwrap());
/// assert_eq!(april.start, Some(Utc.with_ymd_and_hms(2025, 3, 31, 22, 0, 0).unwrap()));
/// assert_eq!(april.end, Some(Utc.with_ymd_and_hms(2025, 4, 30, 22, 0, 0).unwrap()));
/// assert_eq!(period_window(Period::Total, now, Zone::UTC).end, None);
/// ```
pub fn period_window(period: Period, now: DateTime<Utc>, zone: Zone) -> Window {
    match period.granularity() {
        None => Window::UNBOUNDED,
        Some(g) => {
            let start = bucket_start(now, g, zone);
            Window {
                start: Some(start),
                end: Some(next_bucket_start(start, g, zone)),
            }
        }
    }
}

/// The local time of `ts` and the zone's offset then. chrono's own conversion panics when
/// the local time falls outside its range (the last hours of year 262143); there the UTC
/// time is used instead.
fn to_local(ts: DateTime<Utc>, tz: Tz) -> (NaiveDateTime, FixedOffset) {
    let offset = tz.offset_from_utc_datetime(&ts.naive_utc()).fix();
    match ts.naive_utc().checked_add_offset(offset) {
        Some(local) => (local, offset),
        None => (ts.naive_utc(), FixedOffset::east_opt(0).unwrap_or(offset)),
    }
}

fn monday_of(date: NaiveDate) -> NaiveDate {
    let back = u64::from(date.weekday().num_days_from_monday());
    date.checked_sub_days(Days::new(back)).unwrap_or(date)
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// The first instant of the local day `date`.
fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    resolve_local(tz, date.and_time(NaiveTime::MIN), None)
}

/// The UTC instant of the local time `local` in `tz`.
///
/// - A local time that happens twice: the later occurrence when it is not after
///   `latest_before` (so an instant in the repeated hour finds its own hour), else the
///   earlier one.
/// - A local time that doesn't exist: the first instant after the gap.
fn resolve_local(
    tz: Tz,
    local: NaiveDateTime,
    latest_before: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            let (early, late) = if a <= b { (a, b) } else { (b, a) };
            match latest_before {
                Some(ts) if late <= ts => late,
                _ => early,
            }
        }
        LocalResult::None => chrono_tz::GapInfo::new(&local, &tz)
            .and_then(|gap| gap.end)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| {
                // Outside the zone's transition table (or outside chrono's range): use
                // the offset in force at that instant, which is then constant.
                let naive = local.and_utc();
                let off = offset_secs(tz, naive.timestamp());
                naive
                    .checked_sub_signed(TimeDelta::seconds(off))
                    .unwrap_or(naive)
            }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::utc;

    fn zone(name: &str) -> Zone {
        Zone::parse(name).unwrap()
    }

    fn start(ts: &str, g: Granularity, z: &str) -> String {
        let s = bucket_start(utc(ts), g, zone(z));
        s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// `(instant, granularity, expected)`: one row of a table of bucket cases.
    type Case = (&'static str, Granularity, &'static str);

    /// The zone, by IANA name, that a table of bucket cases is checked in.
    #[derive(Clone, Copy)]
    struct In(&'static str);

    impl In {
        /// Asserts the start of the bucket holding each instant, as RFC 3339 in UTC.
        fn starts(self, cases: &[Case]) {
            for &(ts, g, want) in cases {
                assert_eq!(start(ts, g, self.0), want, "{ts} by {g:?} in {}", self.0);
            }
        }

        /// Asserts the label of the bucket starting at each instant.
        fn labels(self, cases: &[Case]) {
            for &(ts, g, want) in cases {
                let label = bucket_label(utc(ts), g, zone(self.0));
                assert_eq!(label, want, "{ts} by {g:?} in {}", self.0);
            }
        }

        /// Asserts the start of the bucket after the one starting at each instant.
        fn nexts(self, cases: &[Case]) {
            for &(ts, g, want) in cases {
                let next = next_bucket_start(utc(ts), g, zone(self.0));
                assert_eq!(next, utc(want), "after {ts} by {g:?} in {}", self.0);
            }
        }
    }

    use Granularity::{Day, Hour, Month, Week};

    #[test]
    fn zones_parse_by_iana_name() {
        assert_eq!(zone("America/New_York").name(), "America/New_York");
        assert_eq!(zone(" america/new_york ").name(), "America/New_York");
        assert_eq!(zone("UTC"), Zone::UTC);
        assert_eq!(
            Zone::parse("Mars/Olympus"),
            Err(EngineError::InvalidTimeZone("Mars/Olympus".into()))
        );
        let json = serde_json::to_string(&zone("Asia/Tokyo")).unwrap();
        assert_eq!(json, "\"Asia/Tokyo\"");
        assert_eq!(
            serde_json::from_str::<Zone>(&json).unwrap(),
            zone("Asia/Tokyo")
        );
        assert!(serde_json::from_str::<Zone>("\"Nowhere\"").is_err());
    }

    #[test]
    fn granularity_and_period_parse() {
        assert_eq!(Granularity::parse("Week"), Ok(Week));
        assert_eq!(Period::parse("monthly"), Ok(Period::Monthly));
        let Err(EngineError::InvalidValue { field, .. }) = Granularity::parse("minute") else {
            panic!("minute accepted")
        };
        assert_eq!(field, "granularity");
        let Err(EngineError::InvalidValue { field, .. }) = Period::parse("yearly") else {
            panic!("yearly accepted")
        };
        assert_eq!(field, "period");
        assert_eq!(serde_json::to_string(&Period::Total).unwrap(), "\"total\"");
        assert_eq!(
            serde_json::from_str::<Granularity>("\"hour\"").unwrap(),
            Hour
        );
    }

    #[test]
    fn utc_buckets() {
        let ts = "2024-05-15T13:45:12Z";
        In("UTC").starts(&[
            (ts, Hour, "2024-05-15T13:00:00Z"),
            (ts, Day, "2024-05-15T00:00:00Z"),
            // 2024-05-15 is a Wednesday.
            (ts, Week, "2024-05-13T00:00:00Z"),
            (ts, Month, "2024-05-01T00:00:00Z"),
            // A bucket start is its own bucket start.
            ("2024-05-13T00:00:00Z", Week, "2024-05-13T00:00:00Z"),
        ]);
    }

    #[test]
    fn weeks_start_on_monday() {
        In("UTC").starts(&[
            // Sunday 2024-03-10 belongs to the week of Monday 2024-03-04.
            ("2024-03-10T23:59:59Z", Week, "2024-03-04T00:00:00Z"),
            ("2024-03-11T00:00:00Z", Week, "2024-03-11T00:00:00Z"),
            // A week that spans a month and a year end.
            ("2025-01-01T12:00:00Z", Week, "2024-12-30T00:00:00Z"),
        ]);
    }

    #[test]
    fn month_ends_and_leap_day() {
        In("UTC").starts(&[
            ("2024-02-29T23:59:59Z", Day, "2024-02-29T00:00:00Z"),
            ("2024-02-29T23:59:59Z", Month, "2024-02-01T00:00:00Z"),
        ]);
        In("UTC").nexts(&[
            ("2024-02-01T00:00:00Z", Month, "2024-03-01T00:00:00Z"),
            ("2024-01-31T00:00:00Z", Day, "2024-02-01T00:00:00Z"),
            ("2024-12-01T00:00:00Z", Month, "2025-01-01T00:00:00Z"),
            // 2023 is not a leap year.
            ("2023-02-28T00:00:00Z", Day, "2023-03-01T00:00:00Z"),
        ]);
        // New York: the month of March 2024 starts at EST and ends at EDT.
        let ny = In("America/New_York");
        ny.starts(&[("2024-03-31T23:00:00-04:00", Month, "2024-03-01T05:00:00Z")]);
        ny.nexts(&[("2024-03-01T05:00:00Z", Month, "2024-04-01T04:00:00Z")]);
    }

    #[test]
    fn new_york_spring_forward() {
        let ny = In("America/New_York");
        // 2024-03-10: 02:00 EST becomes 03:00 EDT; the day is 23 hours long.
        let day = utc("2024-03-10T05:00:00Z");
        let next = next_bucket_start(day, Day, zone(ny.0));
        assert_eq!(next, utc("2024-03-11T04:00:00Z"));
        assert_eq!((next - day).num_hours(), 23);
        ny.starts(&[
            ("2024-03-10T12:00:00Z", Day, "2024-03-10T05:00:00Z"),
            // Hours: 01:00 EST (06:00Z), then 03:00 EDT (07:00Z): no 02:00.
            ("2024-03-10T06:59:59Z", Hour, "2024-03-10T06:00:00Z"),
            ("2024-03-10T07:00:00Z", Hour, "2024-03-10T07:00:00Z"),
        ]);
        ny.nexts(&[("2024-03-10T06:00:00Z", Hour, "2024-03-10T07:00:00Z")]);
        ny.labels(&[
            ("2024-03-10T06:00:00Z", Hour, "2024-03-10T01:00:00-05:00"),
            ("2024-03-10T07:00:00Z", Hour, "2024-03-10T03:00:00-04:00"),
            ("2024-03-10T05:00:00Z", Day, "2024-03-10"),
        ]);
    }

    #[test]
    fn new_york_fall_back() {
        let ny = In("America/New_York");
        // 2024-11-03: 02:00 EDT becomes 01:00 EST; the day is 25 hours long.
        let day = utc("2024-11-03T04:00:00Z");
        let next = next_bucket_start(day, Day, zone(ny.0));
        assert_eq!(next, utc("2024-11-04T05:00:00Z"));
        assert_eq!((next - day).num_hours(), 25);
        ny.starts(&[
            ("2024-11-03T04:00:00Z", Day, "2024-11-03T04:00:00Z"),
            ("2024-11-04T04:59:59Z", Day, "2024-11-03T04:00:00Z"),
            // The 01:00 hour happens twice: two buckets told apart by their offset.
            ("2024-11-03T05:30:00Z", Hour, "2024-11-03T05:00:00Z"),
            ("2024-11-03T06:30:00Z", Hour, "2024-11-03T06:00:00Z"),
            // The week containing the switch still starts on Monday local midnight (EDT).
            ("2024-11-03T12:00:00Z", Week, "2024-10-28T04:00:00Z"),
        ]);
        ny.labels(&[
            ("2024-11-03T05:00:00Z", Hour, "2024-11-03T01:00:00-04:00"),
            ("2024-11-03T06:00:00Z", Hour, "2024-11-03T01:00:00-05:00"),
        ]);
        ny.nexts(&[
            ("2024-11-03T05:00:00Z", Hour, "2024-11-03T06:00:00Z"),
            ("2024-11-03T06:00:00Z", Hour, "2024-11-03T07:00:00Z"),
            ("2024-10-28T04:00:00Z", Week, "2024-11-04T05:00:00Z"),
        ]);
    }

    #[test]
    fn kolkata_half_hour_offset() {
        let k = In("Asia/Kolkata");
        k.starts(&[
            // 2024-05-15T20:00Z is 2024-05-16 01:30 IST.
            ("2024-05-15T20:00:00Z", Day, "2024-05-15T18:30:00Z"),
            ("2024-05-15T20:00:00Z", Hour, "2024-05-15T19:30:00Z"),
        ]);
        k.labels(&[
            ("2024-05-15T19:30:00Z", Hour, "2024-05-16T01:00:00+05:30"),
            ("2024-05-15T18:30:00Z", Day, "2024-05-16"),
        ]);
        k.nexts(&[("2024-05-15T19:30:00Z", Hour, "2024-05-15T20:30:00Z")]);
        assert_eq!(slot_secs_for(zone(k.0)), 1800);
    }

    #[test]
    fn tokyo_day_is_not_a_utc_day() {
        let t = In("Asia/Tokyo");
        t.starts(&[
            // 2024-05-15T16:00Z is already 2024-05-16 01:00 JST.
            ("2024-05-15T16:00:00Z", Day, "2024-05-15T15:00:00Z"),
            ("2024-05-15T14:59:59Z", Day, "2024-05-14T15:00:00Z"),
            // June 1 JST begins on May 31 UTC.
            ("2024-05-31T15:00:00Z", Month, "2024-05-31T15:00:00Z"),
        ]);
        t.labels(&[
            ("2024-05-15T15:00:00Z", Day, "2024-05-16"),
            ("2024-05-31T15:00:00Z", Month, "2024-06-01"),
        ]);
    }

    #[test]
    fn missing_midnight_starts_at_first_valid_instant() {
        // Santiago 2022-09-11: 00:00 -04 became 01:00 -03, so that day has no midnight.
        let s = In("America/Santiago");
        s.starts(&[
            ("2022-09-11T12:00:00Z", Day, "2022-09-11T04:00:00Z"),
            ("2022-09-11T04:30:00Z", Hour, "2022-09-11T04:00:00Z"),
        ]);
        s.labels(&[("2022-09-11T04:00:00Z", Day, "2022-09-11")]);
        s.nexts(&[("2022-09-10T04:00:00Z", Day, "2022-09-11T04:00:00Z")]);
        // Beirut 2023-03-26: midnight (+02) jumped to 01:00 (+03).
        In("Asia/Beirut").starts(&[("2023-03-26T12:00:00Z", Day, "2023-03-25T22:00:00Z")]);
        // Samoa skipped Friday 2011-12-30 altogether.
        let apia = zone("Pacific/Apia");
        let thu = bucket_start(utc("2011-12-29T12:00:00Z"), Day, apia);
        let sat = next_bucket_start(thu, Day, apia);
        assert_eq!(bucket_label(sat, Day, apia), "2011-12-31");
        assert_eq!((sat - thu).num_hours(), 24);
    }

    #[test]
    fn repeated_midnight_starts_at_the_first() {
        // Sao Paulo 2019-02-17: midnight -02 fell back to 2019-02-16 23:00 -03, so 2019-02-16
        // lasted 25 hours and 2019-02-17 began at 00:00 -03.
        let sp = In("America/Sao_Paulo");
        sp.starts(&[
            ("2019-02-17T02:30:00Z", Day, "2019-02-16T02:00:00Z"),
            ("2019-02-17T03:00:00Z", Day, "2019-02-17T03:00:00Z"),
        ]);
        let d = utc("2019-02-16T02:00:00Z");
        assert_eq!((next_bucket_start(d, Day, zone(sp.0)) - d).num_hours(), 25);
    }

    #[test]
    fn lord_howe_half_hour_shifts() {
        let lh = zone("Australia/Lord_Howe");
        // 2024-10-06: 02:00 +10:30 became 02:30 +11, so the 02:00 hour starts at 02:30.
        let h = bucket_start(utc("2024-10-05T15:45:00Z"), Hour, lh);
        assert_eq!(bucket_label(h, Hour, lh), "2024-10-06T02:30:00+11:00");
        assert_eq!(h, utc("2024-10-05T15:30:00Z"));
        let before = next_bucket_start(utc("2024-10-05T14:30:00Z"), Hour, lh);
        assert_eq!(before, h);
        assert_eq!(next_bucket_start(h, Hour, lh), utc("2024-10-05T16:00:00Z"));
    }

    #[test]
    fn period_windows() {
        let now = utc("2024-03-10T15:00:00Z"); // Sunday
        let w = period_window(Period::Daily, now, Zone::UTC);
        assert_eq!(w.start, Some(utc("2024-03-10T00:00:00Z")));
        assert_eq!(w.end, Some(utc("2024-03-11T00:00:00Z")));
        let w = period_window(Period::Weekly, now, Zone::UTC);
        assert_eq!(w.start, Some(utc("2024-03-04T00:00:00Z")));
        assert_eq!(w.end, Some(utc("2024-03-11T00:00:00Z")));
        let w = period_window(Period::Monthly, now, Zone::UTC);
        assert_eq!(w.start, Some(utc("2024-03-01T00:00:00Z")));
        assert_eq!(w.end, Some(utc("2024-04-01T00:00:00Z")));
        assert_eq!(
            period_window(Period::Total, now, Zone::UTC),
            Window::UNBOUNDED
        );
        assert!(Window::UNBOUNDED.contains(now));

        let ny = zone("America/New_York");
        let w = period_window(Period::Daily, now, ny);
        assert_eq!(w.start, Some(utc("2024-03-10T05:00:00Z")));
        assert_eq!(w.duration_secs(), Some(23 * 3600));
        assert!(w.contains(now));
        let w = period_window(
            Period::Monthly,
            utc("2024-02-29T23:00:00Z"),
            zone("Asia/Tokyo"),
        );
        // 2024-03-01 08:00 JST: already March in Tokyo.
        assert_eq!(w.start, Some(utc("2024-02-29T15:00:00Z")));
        assert_eq!(w.end, Some(utc("2024-03-31T15:00:00Z")));
    }

    #[test]
    fn slot_lengths() {
        assert_eq!(slot_secs_for(Zone::UTC), 3600);
        assert_eq!(slot_secs_for(zone("Europe/Paris")), 3600);
        assert_eq!(slot_secs_for(zone("America/New_York")), 3600);
        assert_eq!(slot_secs_for(zone("Asia/Tokyo")), 3600);
        assert_eq!(slot_secs_for(zone("Asia/Kathmandu")), 900);
        assert_eq!(slot_secs_for(zone("Australia/Lord_Howe")), 1800);
        // Changed clocks at 00:01 local until 2011; whole half hours since.
        assert_eq!(slot_secs_for(zone("America/St_Johns")), 60);
        let st_johns = slot_secs_between(
            zone("America/St_Johns"),
            utc("2024-01-01T00:00:00Z"),
            utc("2025-01-01T00:00:00Z"),
        );
        assert_eq!(st_johns, 1800);
    }

    #[test]
    fn extremes_do_not_panic() {
        for ts in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::UNIX_EPOCH,
        ] {
            for g in [Hour, Day, Week, Month] {
                for z in [
                    Zone::UTC,
                    zone("Pacific/Kiritimati"),
                    zone("Pacific/Pago_Pago"),
                ] {
                    let s = bucket_start(ts, g, z);
                    let _ = next_bucket_start(s, g, z);
                    let _ = bucket_label(s, g, z);
                }
            }
        }
    }

    /// The bound a report checks before building a series never undercounts it, in zones
    /// with DST, half-hour shifts and skipped days.
    #[test]
    fn max_buckets_bounds_the_filled_series() {
        let zones = [
            "UTC",
            "America/New_York",
            "Australia/Lord_Howe",
            "Pacific/Apia",
            "Asia/Kathmandu",
        ];
        let ranges = [
            ("2011-12-01T00:00:00Z", "2012-01-10T00:00:00Z"),
            ("2024-03-01T13:00:00Z", "2024-11-20T07:30:00Z"),
            ("2024-06-01T00:00:00Z", "2024-06-01T00:00:01Z"),
        ];
        for name in zones {
            let z = Zone::parse(name).expect("zone");
            for (from, to) in ranges {
                let (from, to) = (utc(from), utc(to));
                for g in [
                    Granularity::Hour,
                    Granularity::Day,
                    Granularity::Week,
                    Granularity::Month,
                ] {
                    let series = crate::aggregate::fill_gaps(Vec::new(), from, to, g, z);
                    let bound = max_buckets_between(from, to, g);
                    assert!(
                        series.len() as u64 <= bound,
                        "{name} {g:?} {from}..{to}: {} > {bound}",
                        series.len()
                    );
                }
            }
        }
    }

    /// Checks that the slot length is exact for every zone from 2015 to 2030: the first and
    /// last second of each slot are in the same hour bucket (every day, week and month
    /// boundary is also an hour boundary). About 10 s in release: run with
    /// `cargo test --release -- --ignored` after a time zone database update.
    #[test]
    #[ignore = "about 10 s in release: run after a time zone database update"]
    fn slot_length_is_exact_for_every_zone() {
        let (from, to) = (utc("2015-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z"));
        for &tz in chrono_tz::TZ_VARIANTS.iter() {
            let z = Zone(tz);
            let l = slot_secs_between(z, from, to);
            let mut t = from;
            while t < to {
                let a = bucket_start(t, Hour, z);
                let b = bucket_start(t + TimeDelta::seconds(l - 1), Hour, z);
                assert_eq!(a, b, "{} slot of {l}s at {t}", z.name());
                t += TimeDelta::seconds(l);
            }
        }
    }
}
