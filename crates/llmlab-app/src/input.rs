//! What the application accepts from any caller before it reaches a use case: text the
//! database can store, and dates the server can compute with.
//!
//! Every string a client gives that is stored or compared in SQL passes [`check_text`]. PostgreSQL refuses NUL in `TEXT` (an error, which
//! would be a 500), and control characters in names, tags or ids only ever break the
//! logs, CSV files and dashboards that show them later.

use chrono::{DateTime, Datelike, Utc};
use serde::de::DeserializeOwned;

use crate::AppError;

/// `Ok` when `value` holds no control character (C0, DEL, C1); else a 422 naming `field`.
pub fn check_text(field: &str, value: &str) -> Result<(), AppError> {
    match value.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(AppError::invalid(
            field,
            format!(
                "must not contain control characters (found U+{:04X})",
                u32::from(c)
            ),
        )),
    }
}

/// Years a date in a query or an event may name. Inside them every piece of date
/// arithmetic the server does (a default 30-day range, a zone's offset, the day after an
/// `end` date, a budget period) stays far inside chrono's range, so none can panic.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// `t` when its UTC year is in [`YEARS`], else invalid `field`.
pub fn in_supported_years(field: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    if YEARS.contains(&t.year()) {
        Ok(t)
    } else {
        Err(AppError::invalid(
            field,
            format!(
                "must be between the years {} and {}",
                YEARS.start(),
                YEARS.end()
            ),
        ))
    }
}

/// Parses JSON into `T`: a value of the wrong shape is invalid, naming the field by its
/// path (`events[3].input_tokens`); bytes that are not JSON at all are malformed.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let msg = inner.to_string();
                let field = missing_field(&msg)
                    .map(|f| {
                        if path == "." {
                            f.to_string()
                        } else {
                            format!("{path}.{f}")
                        }
                    })
                    .unwrap_or_else(|| {
                        if path == "." {
                            "body".to_string()
                        } else {
                            path
                        }
                    });
                AppError::invalid(field, strip_position(&msg))
            }
            _ => AppError::MalformedJson(inner.to_string()),
        }
    })?;
    // Trailing bytes after the value make the body not JSON.
    de.end()
        .map_err(|e| AppError::MalformedJson(e.to_string()))?;
    Ok(value)
}

fn missing_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// serde_json appends " at line 1 column 42"; the field name says more to a client.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// A calendar day `YYYY-MM-DD` in the supported years (1970 to 9999).
pub fn parse_day(s: &str) -> Result<chrono::NaiveDate, AppError> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (1970..=9999).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| {
            AppError::invalid(
                "effective_from",
                "must be a date YYYY-MM-DD from 1970 to 9999",
            )
        })
}

/// A CSV field, quoted when it holds a comma, quote or newline; a leading `=`, `+`, `-`,
/// `@`, tab or carriage return is prefixed with `'` so spreadsheets do not run it as a
/// formula (OWASP's CSV injection rule).
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::check_text;

    #[test]
    fn control_characters_are_refused() {
        assert!(check_text("name", "monthly budget ✓").is_ok());
        for bad in [
            "a\u{0}b",
            "tab\there",
            "line\nbreak",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let e = check_text("name", bad).expect_err(bad);
            assert!(matches!(e, crate::AppError::Invalid { ref field, .. } if field == "name"));
        }
    }
}
