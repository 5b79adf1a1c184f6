//! Users: sign-up and lookup.

use diesel::prelude::*;

use crate::schema::users;
use crate::{AnyConnection, StoreError, UserId, now_utc, workspaces};

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    /// Primary key.
    pub id: UserId,
    /// Lowercased email address.
    pub email: String,
    /// The password hash (bcrypt); never the password.
    pub password_hash: String,
    /// Sign-up time (naive UTC).
    pub created_at: chrono::NaiveDateTime,
}

/// The fields of a new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Email address; stored lowercase.
    pub email: String,
    /// The password hash (bcrypt).
    pub password_hash: String,
}

/// Creates a user and their personal workspace; an email already registered (in any
/// case) is a [`StoreError::Conflict`]. Call it in a transaction.
pub fn create(conn: &mut AnyConnection, new: &NewUser) -> Result<UserRow, StoreError> {
    let user: UserRow = diesel::insert_into(users::table)
        .values((
            users::email.eq(new.email.trim().to_lowercase()),
            users::password_hash.eq(&new.password_hash),
            users::created_at.eq(now_utc()),
        ))
        .returning((
            users::id,
            users::email,
            users::password_hash,
            users::created_at,
        ))
        .get_result(conn)
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("email already registered".into()),
            other => other,
        })?;
    workspaces::create(conn, user.id, PERSONAL_WORKSPACE, true)?;
    Ok(user)
}

/// The name a personal workspace starts with.
pub const PERSONAL_WORKSPACE: &str = "Personal";

/// Finds a user by email (case-insensitively).
pub fn find_by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::email.eq(email.trim().to_lowercase()))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// Finds a user by id.
pub fn find_by_id(conn: &mut AnyConnection, id: UserId) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

store_methods! {
    /// See [`users::create`](create).
    fn create_user(new: &NewUser) -> UserRow = transaction(create);

    /// See [`users::find_by_email`](find_by_email).
    fn find_user_by_email(email: &str) -> Option<UserRow> = with_conn(find_by_email);

    /// See [`users::find_by_id`](find_by_id).
    fn find_user(id: UserId) -> Option<UserRow> = with_conn(find_by_id);
}
