//! Helpers shared by the unit tests.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Utc};

/// The instant of an RFC 3339 timestamp.
pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}
