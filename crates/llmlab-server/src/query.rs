//! Query strings, read by serde into the same structs (`dto::*Query`) the OpenAPI
//! document lists each operation's parameters from, so the document and the parser
//! cannot drift; then validated into domain values with the contract's errors.
//!
//! Every parameter is a string: the last value of a repeated key wins, except for `tag`
//! (`key:value`), the one repeatable parameter, whose every value is kept. An empty value
//! is a value, not an absence: `days=` is refused as not a number rather than taken for
//! the default.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use llmlab_app::EventFilter;
use llmlab_engine::period::{Granularity, Zone};

use crate::dto::RangeQuery;
use crate::error::ApiError;

/// A query string read into `T` (a `dto::*Query`), or a 422.
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned> actix_web::FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Query<T>, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            QueryPairs::parse(req.query_string())
                .and_then(|pairs| pairs.read())
                .map(Query),
        )
    }
}

/// The one repeatable parameter.
const REPEATABLE: &str = "tag";

/// All `key=value` pairs of a query string, in order (repeated keys kept).
struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// Parses a raw query string; a malformed one is a 422.
    fn parse(raw: &str) -> Result<QueryPairs, ApiError> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map_err(|e| ApiError::validation("query", format!("malformed query string: {e}")))?;
        // Values reach SQL as filters; PostgreSQL refuses NUL in text, so a filter with
        // one would fail the query instead of matching nothing.
        for (k, v) in &pairs {
            llmlab_app::input::check_text("query", k)?;
            llmlab_app::input::check_text(k, v)?;
        }
        Ok(QueryPairs(pairs))
    }

    /// The pairs as `T`: each key's last value (trimmed, empty included) as a string, and every
    /// value of [`REPEATABLE`] as a list.
    fn read<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let mut map = serde_json::Map::new();
        for (k, v) in &self.0 {
            if k == REPEATABLE {
                if let Some(values) = map
                    .entry(k.clone())
                    .or_insert_with(|| serde_json::Value::Array(Vec::new()))
                    .as_array_mut()
                {
                    values.push(v.clone().into());
                }
            } else {
                // Kept when empty: `days=` is not a number and gets the 422 that says
                // so, instead of passing for the default.
                map.insert(k.clone(), v.trim().into());
            }
        }
        serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| ApiError::validation("query", format!("invalid query: {e}")))
    }
}

/// An integer parameter `value` of `field` within `min..=max`, `default` when absent.
pub fn int(
    field: &'static str,
    value: Option<&str>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ApiError> {
    bounded(field, value, default, min..=max, "an integer")
}

/// A number parameter `value` of `field` within `min..=max`, `default` when absent.
pub fn float(
    field: &'static str,
    value: Option<&str>,
    default: f64,
    min: f64,
    max: f64,
) -> Result<f64, ApiError> {
    // NaN and the infinities are outside every range.
    bounded(field, value, default, min..=max, "a number")
}

fn bounded<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    field: &'static str,
    value: Option<&str>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    kind: &str,
) -> Result<T, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::validation(
                    field,
                    format!(
                        "must be {kind} between {} and {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

impl RangeQuery {
    /// The shared filters. `default_days` gives the range when `start` is absent
    /// (cost reports: the last 30 days); `None` means unbounded (event listing).
    pub fn resolve(
        &self,
        now: DateTime<Utc>,
        default_days: Option<i64>,
    ) -> Result<Range, ApiError> {
        let end = match self.end.as_deref() {
            Some(v) => parse_instant("end", v, true)?,
            None => None,
        };
        let start = match self.start.as_deref() {
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
        for t in &self.tag {
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
                provider: self.provider.as_deref().map(str::to_ascii_lowercase),
                model: self.model.as_deref().map(str::to_ascii_lowercase),
                tags,
                sender: None,
            },
        })
    }
}

impl Range {
    /// The spend summary this range asks for, bucketed by `granularity` (default `day`)
    /// in the zone `tz` (default UTC): what `GET /api/costs/summary` and the dashboard's
    /// explore page both read.
    pub fn summary(
        self,
        granularity: Option<&str>,
        tz: Option<&str>,
    ) -> Result<llmlab_app::reports::SummaryAsk, ApiError> {
        Ok(llmlab_app::reports::SummaryAsk {
            granularity: Granularity::parse(granularity.unwrap_or("day"))?,
            zone: Zone::parse(tz.unwrap_or("UTC"))?,
            start: self.start.unwrap_or_default(),
            end: self.end.unwrap_or_default(),
            filter: self.filter,
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
/// named day is included). Years outside [`YEARS`](llmlab_app::input::YEARS) are a 422.
fn parse_instant(
    field: &'static str,
    v: &str,
    is_end: bool,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(llmlab_app::input::in_supported_years(
            field,
            t.with_timezone(&Utc),
        )?));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let day =
            llmlab_app::input::in_supported_years(field, d.and_time(NaiveTime::MIN).and_utc())?;
        return Ok(Some(if is_end { day + Duration::days(1) } else { day }));
    }
    Err(ApiError::validation(
        field,
        "must be RFC 3339 (2026-11-20T10:00:00Z) or a date (2026-11-20)",
    ))
}
