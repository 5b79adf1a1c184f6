//! Revoked session tokens, shared by every server instance through the database.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::revoked_tokens;
use crate::{AnyConnection, StoreError, UserId, truncate_micros};

/// Revokes the token `jti` of `user_id` until `expires_at` (after which it is invalid
/// anyway and the row may be purged). Revoking twice is not an error.
pub fn revoke(
    conn: &mut AnyConnection,
    jti: &str,
    user_id: UserId,
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

/// Deletes revocations whose token expired before `now`; returns how many.
pub fn purge_expired(conn: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)))
            .execute(conn)?,
    )
}

store_methods! {
    /// See [`tokens::revoke`](revoke).
    fn revoke_token(jti: &str, user_id: UserId, expires_at: NaiveDateTime) -> () = write(revoke);

    /// See [`tokens::purge_expired`](purge_expired).
    fn purge_revoked_tokens(now: NaiveDateTime) -> usize = write(purge_expired);
}
