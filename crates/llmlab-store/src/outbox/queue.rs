//! The queue as a delivering instance takes from it: it looks at the due notifications
//! in claim order, oldest first, past the receivers it already has enough deliveries in
//! flight to ([`peek`]), picks the ones it can attempt at once, and claims exactly those
//! ([`claim`]). A row is claimed only to be attempted now, so no lease runs out while a
//! row waits in memory, and rows for a busy receiver stay in the database, where any
//! instance with room for them finds them.
//!
//! Claim order is served by the partial index `notifications_queue` (`id` of the pending
//! and delivering rows): a look reads the first due rows in order instead of sorting
//! every due row, however long the backlog.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::{NextStep, NotificationDeliveryRow, NotificationRow, delivery, record_attempt};
use crate::schema::{channels, notifications};
use crate::sql::Sql;
use crate::{AnyConnection, ChannelRow, StoreError, WorkspaceId, truncate_micros, write_tx};

/// The receiver a channel's deliveries go to, as far as a bound per receiver counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// The SMTP server every email goes through.
    Smtp,
    /// A webhook's or Slack's URL up to the end of its authority, as the channel's target
    /// spells it (`https://hooks.slack.com`); a target that is not a URL is its own.
    Origin(String),
}

impl Host {
    /// Where deliveries to a channel of `kind` with `target` go.
    pub fn of(kind: &str, target: &str) -> Host {
        if kind == "email" {
            return Host::Smtp;
        }
        let end = target.find("://").map_or(target.len(), |scheme| {
            let authority = scheme + 3;
            target[authority..]
                .find(['/', '?', '#'])
                .map_or(target.len(), |end| authority + end)
        });
        Host::Origin(target[..end].to_string())
    }

    /// Appends `AND` a condition true of the channels (`c`) whose deliveries do not go
    /// to this host.
    fn exclude(&self, sql: &mut Sql) {
        match self {
            Host::Smtp => {
                sql.push(" AND c.kind <> 'email'");
            }
            Host::Origin(origin) => {
                // The target is the origin, or the origin followed by what ends an
                // authority: the same split as `Host::of`.
                let next = i64::try_from(origin.chars().count() + 1).unwrap_or(i64::MAX);
                sql.push(" AND NOT (c.kind <> 'email' AND (c.target = ")
                    .text(origin)
                    .push(" OR substr(c.target, 1, CAST(")
                    .int(next)
                    .push(" AS INTEGER)) IN (")
                    .text(&format!("{origin}/"))
                    .push(", ")
                    .text(&format!("{origin}?"))
                    .push(", ")
                    .text(&format!("{origin}#"))
                    .push(")))");
            }
        }
    }
}

/// A due notification seen by [`peek`], not claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Its workspace.
    pub workspace_id: WorkspaceId,
    /// Its id.
    pub id: i64,
    /// Where its channel's deliveries go.
    pub host: Host,
}

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = BigInt)]
    workspace_id: WorkspaceId,
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    target: String,
}

/// Up to `limit` notifications due at `now` — pending ones whose backoff has passed,
/// and claimed ones whose lease expired (their instance died) — oldest first, leaving
/// out those whose channel's deliveries go to one of `busy`. Reads only: nothing is
/// claimed.
pub fn peek(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    busy: &[Host],
    limit: u32,
) -> Result<Vec<Due>, StoreError> {
    let mut sql = Sql::new(conn.backend());
    // The states are written out, not bound, so that both planners can match the
    // partial index's own condition.
    sql.push(&format!(
        "SELECT n.workspace_id, n.id, c.kind, c.target FROM notifications n \
         JOIN channels c ON c.workspace_id = n.workspace_id AND c.id = n.channel_id \
         WHERE n.status IN ('{}', '{}') \
         AND (n.next_attempt_at IS NULL OR n.next_attempt_at <= ",
        delivery::PENDING,
        delivery::DELIVERING
    ))
    .timestamp(truncate_micros(now))
    .push(")");
    for host in busy {
        host.exclude(&mut sql);
    }
    sql.push(" ORDER BY n.id LIMIT ").int(i64::from(limit));
    let rows: Vec<DueRow> = match conn {
        // Statistics taken before a burst of new rows (a report to every channel) say
        // almost nothing is pending, and PostgreSQL would then collect and sort the
        // whole backlog for each look. Reading the index in order is right whatever
        // the statistics say: the look wants the first few rows.
        AnyConnection::Postgresql(_) => conn.transaction(|conn| {
            diesel::sql_query("SET LOCAL enable_sort = off").execute(conn)?;
            sql.load(conn)
        })?,
        AnyConnection::Sqlite(_) => sql.load(conn)?,
    };
    Ok(rows
        .into_iter()
        .map(|r| Due {
            workspace_id: r.workspace_id,
            id: r.id,
            host: Host::of(&r.kind, &r.target),
        })
        .collect())
}

/// Claims the notifications `due` (from [`peek`]) that are still due at `now`, by moving
/// each to [`delivery::DELIVERING`] until `lease_until`, in one transaction: each with
/// its channel as it is now. A row another instance claimed meanwhile is left out, so
/// when several instances take at once each row goes to one.
pub fn claim(
    conn: &mut AnyConnection,
    due: &[(WorkspaceId, i64)],
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> Result<Vec<(NotificationRow, ChannelRow)>, StoreError> {
    use notifications as t;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let now = truncate_micros(now);
    let lease_until = truncate_micros(lease_until);
    let states = [delivery::PENDING, delivery::DELIVERING];
    write_tx(conn, |conn| {
        if let AnyConnection::Postgresql(_) = conn {
            // A claim lost with a crash of the database is a lease lost with a crash of
            // the instance: the row is due again and attempted again, as it would be if
            // the instance had died after its attempt. The attempt's record, which
            // matters, is committed durably (and so is every claim before it).
            diesel::sql_query("SET LOCAL synchronous_commit = off").execute(conn)?;
        }
        let mut won = Vec::with_capacity(due.len());
        for &(workspace_id, id) in due {
            let still_due = t::next_attempt_at.is_null().or(t::next_attempt_at.le(now));
            let row: Option<NotificationRow> = with_backend!(conn, |c| diesel::update(
                t::table
                    .filter(t::workspace_id.eq(workspace_id))
                    .filter(t::id.eq(id))
                    .filter(t::status.eq_any(states))
                    .filter(still_due),
            )
            .set((
                t::status.eq(delivery::DELIVERING),
                t::next_attempt_at.eq(lease_until),
            ))
            .returning(NotificationRow::as_returning())
            .get_result(c)
            .optional())?;
            won.extend(row);
        }
        if won.is_empty() {
            return Ok(Vec::new());
        }
        let workspaces: Vec<WorkspaceId> = won.iter().map(|n| n.workspace_id).collect();
        let ids: Vec<_> = won.iter().map(|n| n.channel_id).collect();
        let found: Vec<ChannelRow> = channels::table
            .filter(channels::workspace_id.eq_any(workspaces))
            .filter(channels::id.eq_any(ids))
            .select(ChannelRow::as_select())
            .load(conn)?;
        Ok(won
            .into_iter()
            .filter_map(|n| {
                let channel = found
                    .iter()
                    .find(|c| c.workspace_id == n.workspace_id && c.id == n.channel_id)?;
                Some((n, channel.clone()))
            })
            .collect())
    })
}

/// Claims up to `limit` notifications due at `now`, oldest first, whatever their
/// receivers: [`peek`], then [`claim`].
pub fn claim_due(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: u32,
) -> Result<Vec<NotificationRow>, StoreError> {
    let due: Vec<(WorkspaceId, i64)> = peek(conn, now, &[], limit)?
        .into_iter()
        .map(|d| (d.workspace_id, d.id))
        .collect();
    Ok(claim(conn, &due, now, lease_until)?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// One attempt to record with [`record_attempts`]: the claimed notification, the
/// attempt, and what comes next.
pub type Attempted = (NotificationRow, NotificationDeliveryRow, NextStep);

/// [`record_attempt`] for each of `batch`, in one transaction when every one can be
/// recorded; one failing (its notification deleted meanwhile) is retried on its own
/// transaction with each of the others, so only it reports the error. One result per
/// attempt, in order.
pub fn record_attempts(
    conn: &mut AnyConnection,
    batch: &[Attempted],
) -> Vec<Result<bool, StoreError>> {
    let together = write_tx(conn, |conn| {
        batch
            .iter()
            .map(|(n, attempt, next)| record_attempt(conn, n, attempt, *next))
            .collect::<Result<Vec<bool>, StoreError>>()
    });
    match together {
        Ok(recorded) => recorded.into_iter().map(Ok).collect(),
        Err(StoreError::Unavailable(e)) => batch
            .iter()
            .map(|_| Err(StoreError::Unavailable(e.clone())))
            .collect(),
        Err(_) if batch.len() > 1 => batch
            .iter()
            .map(|(n, attempt, next)| record_attempt(conn, n, attempt, *next))
            .collect(),
        Err(e) => vec![Err(e)],
    }
}

store_methods! {
    /// See [`queue::peek`](peek).
    fn peek_due_notifications(
        now: NaiveDateTime,
        busy: &[Host],
        limit: u32,
    ) -> Vec<Due> = with_conn(peek);
    /// See [`queue::claim`](claim).
    fn claim_notifications(
        due: &[(WorkspaceId, i64)],
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
    ) -> Vec<(NotificationRow, ChannelRow)> = write(claim);
    /// See [`queue::claim_due`](claim_due).
    fn claim_due_notifications(
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> Vec<NotificationRow> = write(claim_due);
}

impl crate::Store {
    /// See [`queue::record_attempts`](record_attempts); every attempt fails alike when no
    /// connection can be had.
    pub fn record_attempts(&self, batch: &[Attempted]) -> Vec<Result<bool, StoreError>> {
        self.write(|c| Ok(record_attempts(c, batch)))
            .unwrap_or_else(|e| batch.iter().map(|_| Err(e.clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::Host;

    #[test]
    fn hosts_end_where_the_authority_does() {
        let origin = |t: &str| Host::of("webhook", t);
        let o = |s: &str| Host::Origin(s.to_string());
        assert_eq!(
            origin("https://hooks.slack.com/services/T/B/x"),
            o("https://hooks.slack.com")
        );
        assert_eq!(origin("http://127.0.0.1:8080"), o("http://127.0.0.1:8080"));
        assert_eq!(origin("http://a.example?x=1/2"), o("http://a.example"));
        assert_eq!(origin("http://u:p@a.example#f"), o("http://u:p@a.example"));
        assert_eq!(origin("http://[::1]:9/h"), o("http://[::1]:9"));
        assert_eq!(origin(""), o(""));
        assert_eq!(Host::of("email", "a@example.com,b@example.com"), Host::Smtp);
        assert_eq!(
            Host::of("slack", "https://hooks.slack.com/x"),
            o("https://hooks.slack.com")
        );
    }
}
