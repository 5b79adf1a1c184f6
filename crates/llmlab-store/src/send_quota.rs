//! Per-workspace sending allowances (channel test sends, email), shared by every server
//! instance through the database, so adding instances does not multiply them.
//!
//! Each workspace has one row per kind: when its current window began and how much of the
//! allowance it has used in it. A window starts with the first use after the previous one
//! ended, as in `login_attempts`. Unlike a login attempt, a use that does not fit is not
//! counted: [`admit`] is one conditional `UPDATE`, so racing requests on any instance
//! each either fit or are refused, and a refusal rolls back the caller's transaction.

use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};

use crate::schema::send_quota as q;
use crate::{AnyConnection, StoreError, WorkspaceId};

/// What an allowance counts.
pub mod kind {
    /// `POST /api/channels/{id}/test`, one per call.
    pub const CHANNEL_TEST: &str = "channel_test";
    /// Email, one per recipient of each message (confirmations included).
    pub const EMAIL: &str = "email";
}

/// An allowance: so much per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// What it counts (see [`kind`]).
    pub kind: &'static str,
    /// How much a window allows.
    pub limit: i32,
    /// The window, in microseconds.
    pub window_micros: i64,
}

/// Counts `n` of `allowance` for `workspace_id` at `now` (microseconds since the epoch)
/// when they fit in its window, starting a new window when the last one is over;
/// [`StoreError::RateLimited`] with the seconds until the window ends when they do not
/// (nothing counted). Call it in the transaction of what it allows, so a refusal undoes
/// that too.
pub fn admit(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    allowance: Allowance,
    n: i32,
    now: i64,
) -> Result<(), StoreError> {
    let Allowance {
        kind,
        limit,
        window_micros,
    } = allowance;
    with_backend!(conn, |c| diesel::insert_into(q::table)
        .values((
            q::workspace_id.eq(workspace_id),
            q::kind.eq(kind),
            q::window_start.eq(now),
            q::used.eq(0),
        ))
        .on_conflict((q::workspace_id, q::kind))
        .do_nothing()
        .execute(c))?;
    let over = q::window_start.le(now - window_micros);
    let mine = q::table
        .filter(q::workspace_id.eq(workspace_id))
        .filter(q::kind.eq(kind));
    // A running window admits what fits in the rest of it; a new one starts with this
    // use (which the server never makes larger than a whole window).
    let admitted = diesel::update(mine.filter(over.or((q::used + n).le(limit))))
        .set((
            q::used.eq(case_when::<_, _, Integer>(over, n).otherwise(q::used + n)),
            q::window_start.eq(case_when::<_, _, BigInt>(over, now).otherwise(q::window_start)),
        ))
        .execute(conn)?;
    if admitted == 1 {
        return Ok(());
    }
    let window_start: i64 = mine.select(q::window_start).first(conn)?;
    let left = (window_start + window_micros - now).max(0);
    Err(StoreError::RateLimited {
        kind,
        retry_after_secs: u64::try_from(left.div_euclid(1_000_000) + 1).unwrap_or(1),
    })
}

impl crate::Store {
    /// [`admit`] in a transaction of its own.
    pub fn admit_send(
        &self,
        workspace_id: WorkspaceId,
        allowance: Allowance,
        n: i32,
        now: i64,
    ) -> Result<(), StoreError> {
        self.transaction(|c| admit(c, workspace_id, allowance, n, now))
    }
}
