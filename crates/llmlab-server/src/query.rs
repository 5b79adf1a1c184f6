//! Query strings: the shared filters of event listing and cost reports, parsed into
//! store filters once (repeatable `tag=key:value`, dates or RFC 3339 instants).

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use llmlab_store::EventFilter;

use crate::error::ApiError;

/// All `key=value` pairs of a query string, in order (repeated keys kept).
pub struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// Parses a raw query string; a malformed one is a 422.
    pub fn parse(raw: &str) -> Result<QueryPairs, ApiError> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map_err(|e| ApiError::validation("query", format!("malformed query string: {e}")))?;
        // Values reach SQL as filters; PostgreSQL refuses NUL in text, so a filter with
        // one would fail the query instead of matching nothing.
        for (k, v) in &pairs {
            crate::app::input::check_text("query", k)?;
            crate::app::input::check_text(k, v)?;
        }
        Ok(QueryPairs(pairs))
    }

    /// The last value of `key`, trimmed, if present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// An integer parameter within `min..=max`, `default` when absent.
    pub fn int(
        &self,
        key: &'static str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::validation(key, format!("must be an integer between {min} and {max}"))
                }),
        }
    }

    /// A number parameter within `min..=max`.
    pub fn float(
        &self,
        key: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Result<f64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && (min..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::validation(key, format!("must be a number between {min} and {max}"))
                }),
        }
    }

    /// The shared filters. `default_days` gives the range when `start` is absent
    /// (cost reports: the last 30 days); `None` means unbounded (event listing).
    pub fn filter(&self, now: DateTime<Utc>, default_days: Option<i64>) -> Result<Range, ApiError> {
        let end = match self.get("end") {
            Some(v) => parse_instant("end", v, true)?,
            None => None,
        };
        let start = match self.get("start") {
            Some(v) => parse_instant("start", v, false)?,
            None => None,
        };
        let (start, end) = match default_days {
            Some(days) => {
                let end = end.unwrap_or(now);
                (Some(start.unwrap_or(end - Duration::days(days))), Some(end))
            }
            None => (start, end),
        };
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(ApiError::validation("start", "start must not be after end"));
        }
        let mut tags = Vec::new();
        for t in self.all("tag") {
            let (k, v) = t
                .split_once(':')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| ApiError::validation("tag", "tags filter as key:value"))?;
            tags.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(Range {
            start,
            end,
            filter: EventFilter {
                start_micros: start.map(|s| s.timestamp_micros()),
                end_micros: end.map(|e| e.timestamp_micros()),
                provider: self.get("provider").map(str::to_ascii_lowercase),
                model: self.get("model").map(str::to_ascii_lowercase),
                tags,
            },
        })
    }
}

/// Filters with their resolved bounds.
pub struct Range {
    /// Inclusive start.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive end.
    pub end: Option<DateTime<Utc>>,
    /// The store filter.
    pub filter: EventFilter,
}

/// RFC 3339, or `YYYY-MM-DD` (UTC midnight; as an `end`, the following midnight, so the
/// named day is included). Years outside [`YEARS`](crate::app::input::YEARS) are a 422.
fn parse_instant(
    field: &'static str,
    v: &str,
    is_end: bool,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(crate::app::input::in_supported_years(
            field,
            t.with_timezone(&Utc),
        )?));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let day =
            crate::app::input::in_supported_years(field, d.and_time(NaiveTime::MIN).and_utc())?;
        return Ok(Some(if is_end { day + Duration::days(1) } else { day }));
    }
    Err(ApiError::validation(
        field,
        "must be RFC 3339 (2026-11-20T10:00:00Z) or a date (2026-11-20)",
    ))
}
