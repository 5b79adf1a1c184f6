//! Attempt counters, shared by every server instance through the database: logins,
//! signups, and the invitations a workspace sends.
//!
//! Each subject (the server hashes an email, a client address or a workspace into
//! `key_hash`) has one row: when its current window began and how many attempts it has
//! made in it. A window starts with the first attempt after the previous one ended, as
//! in a fixed-window limiter kept in memory, but every instance counts into the same row.

use diesel::dsl::case_when;
use diesel::prelude::*;

use crate::schema::login_attempts as la;
use diesel::sql_types::{BigInt, Integer};

use crate::{AnyConnection, Store, StoreError};

/// A subject's window after counting one more attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptWindow {
    /// Attempts in the window, this one included.
    pub attempts: i32,
    /// When the window began, in microseconds since the Unix epoch.
    pub window_start: i64,
}

impl AttemptWindow {
    /// Whole seconds from `now` (microseconds) until this window of `window_micros`
    /// ends, at least 1: what `Retry-After` says.
    pub fn seconds_left(&self, now: i64, window_micros: i64) -> u64 {
        let left = self.window_start + window_micros - now;
        u64::try_from(left.div_euclid(1_000_000) + 1).unwrap_or(1)
    }
}

/// Counts one attempt for `key_hash` at `now` (microseconds) in a window of
/// `window_micros`, starting a new window when the last one is over. One statement, so
/// concurrent attempts on any instance each count.
pub fn count(
    conn: &mut AnyConnection,
    key_hash: &str,
    now: i64,
    window_micros: i64,
) -> Result<AttemptWindow, StoreError> {
    let over = la::window_start.le(now - window_micros);
    let (attempts, window_start) = with_backend!(conn, |c| diesel::insert_into(la::table)
        .values((
            la::key_hash.eq(key_hash),
            la::window_start.eq(now),
            la::attempts.eq(1),
            la::window_micros.eq(window_micros),
        ))
        .on_conflict(la::key_hash)
        .do_update()
        .set((
            la::attempts.eq(case_when::<_, _, Integer>(over, 1).otherwise(la::attempts + 1)),
            la::window_start.eq(case_when::<_, _, BigInt>(over, now).otherwise(la::window_start)),
        ))
        .returning((la::attempts, la::window_start))
        .get_result::<(i32, i64)>(c))?;
    Ok(AttemptWindow {
        attempts,
        window_start,
    })
}

/// Deletes the rows of subjects whose window (of its own length) ended before `now`;
/// returns how many.
pub fn purge_ended(conn: &mut AnyConnection, now: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(la::table.filter((la::window_start + la::window_micros).le(now)))
            .execute(conn)?,
    )
}

impl Store {
    /// Counts one login attempt for each of `key_hashes` (see [`count`]) in one
    /// transaction, after purging ended windows; returns the windows in the same order.
    pub fn count_login_attempts(
        &self,
        key_hashes: &[String],
        now: i64,
        window_micros: i64,
    ) -> Result<Vec<AttemptWindow>, StoreError> {
        self.transaction(|c| {
            purge_ended(c, now)?;
            key_hashes
                .iter()
                .map(|k| count(c, k, now, window_micros))
                .collect()
        })
    }
}
