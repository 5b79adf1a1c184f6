//! The audit log: who changed what in a workspace. Entries are written in the
//! transaction of the change they record and never updated or deleted (they go only with
//! their workspace).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::audit_log;
use crate::{AnyConnection, StoreError, WorkspaceId, now_utc};

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person, by user id, labelled with their email.
    User {
        /// The user.
        id: i64,
        /// Their email when it happened.
        label: String,
    },
    /// An API key, labelled with its name.
    ApiKey {
        /// The key.
        id: i64,
        /// Its name when it happened.
        label: String,
    },
}

impl Actor {
    /// `(kind, id, label)` as the log stores them.
    pub fn parts(&self) -> (&'static str, i64, &str) {
        match self {
            Actor::User { id, label } => ("user", *id, label),
            Actor::ApiKey { id, label } => ("api_key", *id, label),
        }
    }
}

/// An entry to record.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    /// Who did it.
    pub actor: &'a Actor,
    /// What was done, e.g. `budget.create`.
    pub action: &'a str,
    /// The kind of thing it was done to, e.g. `budget`.
    pub target_kind: &'a str,
    /// Its id.
    pub target_id: String,
    /// What changed, as a JSON object.
    pub details_json: String,
}

/// A recorded entry.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    /// Increasing with time; the list's cursor.
    pub id: i64,
    /// When (naive UTC).
    pub at: NaiveDateTime,
    /// `user` or `api_key`.
    pub actor_kind: String,
    /// The user's or key's id.
    pub actor_id: i64,
    /// The user's email or the key's name.
    pub actor_label: String,
    /// What was done.
    pub action: String,
    /// The kind of thing it was done to.
    pub target_kind: String,
    /// Its id.
    pub target_id: String,
    /// What changed, as a JSON object.
    pub details_json: String,
}

/// Records `entry` in workspace `workspace`. Call it in the transaction of the change.
pub fn record(
    conn: &mut AnyConnection,
    workspace: WorkspaceId,
    entry: &NewAuditEntry<'_>,
) -> Result<(), StoreError> {
    let (kind, id, label) = entry.actor.parts();
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::workspace_id.eq(workspace),
            audit_log::at.eq(now_utc()),
            audit_log::actor_kind.eq(kind),
            audit_log::actor_id.eq(id),
            audit_log::actor_label.eq(label),
            audit_log::action.eq(entry.action),
            audit_log::target_kind.eq(entry.target_kind),
            audit_log::target_id.eq(&entry.target_id),
            audit_log::details_json.eq(&entry.details_json),
        ))
        .execute(conn)?;
    Ok(())
}

/// Up to `limit` entries of `workspace`, newest first, older than the entry `before`
/// when given, with action `action` when given.
pub fn list(
    conn: &mut AnyConnection,
    workspace: WorkspaceId,
    limit: i64,
    before: Option<i64>,
    action: Option<&str>,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut query = audit_log::table
        .filter(audit_log::workspace_id.eq(workspace))
        .select(AuditRow::as_select())
        .order(audit_log::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(audit_log::id.lt(before));
    }
    if let Some(action) = action {
        query = query.filter(audit_log::action.eq(action.to_string()));
    }
    Ok(query.load(conn)?)
}
