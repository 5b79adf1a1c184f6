//! Revoked session tokens, shared by every server instance through the database.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{revoked_tokens, users};
use crate::{AnyConnection, Store, StoreError, truncate_micros};

/// Revokes the token `jti` of `user_id` until `expires_at` (after which it is invalid
/// anyway and the row may be purged). Revoking twice is not an error.
pub fn revoke(
    conn: &mut AnyConnection,
    jti: &str,
    user_id: i64,
    expires_at: NaiveDateTime,
) -> Result<(), StoreError> {
    let row = (
        revoked_tokens::jti.eq(jti),
        revoked_tokens::user_id.eq(user_id),
        revoked_tokens::expires_at.eq(truncate_micros(expires_at)),
    );
    with_backend!(conn, |c| diesel::insert_into(revoked_tokens::table)
        .values(row)
        .on_conflict(revoked_tokens::jti)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// Whether the token `jti` has been revoked.
pub fn is_revoked(conn: &mut AnyConnection, jti: &str) -> Result<bool, StoreError> {
    let found = revoked_tokens::table
        .find(jti)
        .select(revoked_tokens::jti)
        .first::<String>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// For a session token `jti` of `user_id`: whether it is revoked and the user's
/// custom-prices version, in one round trip; `None` when the user does not exist.
pub fn session_state(
    conn: &mut AnyConnection,
    jti: &str,
    user_id: i64,
) -> Result<Option<(bool, i64)>, StoreError> {
    Ok(users::table
        .find(user_id)
        .select((
            diesel::dsl::exists(revoked_tokens::table.find(jti)),
            users::prices_version,
        ))
        .first(conn)
        .optional()?)
}

/// Deletes revocations whose token expired before `now`; returns how many.
pub fn purge_expired(conn: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)))
            .execute(conn)?,
    )
}

impl Store {
    /// See [`tokens::revoke`](revoke).
    pub fn revoke_token(
        &self,
        jti: &str,
        user_id: i64,
        expires_at: NaiveDateTime,
    ) -> Result<(), StoreError> {
        self.write(|c| revoke(c, jti, user_id, expires_at))
    }

    /// See [`tokens::session_state`](session_state).
    pub fn session_state(
        &self,
        jti: &str,
        user_id: i64,
    ) -> Result<Option<(bool, i64)>, StoreError> {
        self.with_conn(|c| session_state(c, jti, user_id))
    }

    /// See [`tokens::purge_expired`](purge_expired).
    pub fn purge_revoked_tokens(&self, now: NaiveDateTime) -> Result<usize, StoreError> {
        self.write(|c| purge_expired(c, now))
    }
}
