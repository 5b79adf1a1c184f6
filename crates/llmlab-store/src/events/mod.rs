//! The event ledger: idempotent ingestion (single and batch, in `write`) and
//! keyset-paginated listing.

mod write;

use crate::{ApiKeyId, WorkspaceId};
use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::schema::events;
use crate::sql::Sql;
use crate::{AnyConnection, StoreError, TokenCounts, UnitCounts};

pub(crate) use write::{insert_all, stored_row};
pub use write::{insert_batch, insert_event};

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = events)]
pub struct EventRow {
    /// Primary key.
    pub id: i64,
    /// Owner.
    pub workspace_id: WorkspaceId,
    /// The client's idempotency key, unique per workspace.
    pub event_id: Option<String>,
    /// Provider id (`openai`, `anthropic`, …).
    pub provider: String,
    /// The model name as sent.
    pub model: String,
    /// The catalog name the model resolved to (the name as sent when not in the catalog).
    pub resolved_model: String,
    /// Its token counts.
    #[diesel(embed)]
    pub tokens: TokenCounts,
    /// Sent through a provider batch API.
    pub batch: bool,
    /// Cost in USD nano-dollars, fixed at ingestion.
    pub cost_nanos: i64,
    /// `catalog`, `custom_pricing`, `client` or `unpriced`.
    pub cost_source: String,
    /// The `effective_from` date of the catalog price used, if any.
    pub price_effective_from: Option<NaiveDate>,
    /// When the call happened: microseconds since the Unix epoch, UTC.
    pub ts: i64,
    /// Call latency in milliseconds.
    pub latency_ms: Option<i64>,
    /// The tag map as a JSON object.
    pub tags_json: String,
    /// When the event was stored (naive UTC).
    pub created_at: NaiveDateTime,
    /// For `custom_pricing`: the custom price revision (its row id) that priced it.
    pub price_revision: Option<i64>,
    /// `standard`, `batch`, `flex` or `priority`: the tier the event was priced at.
    pub service_tier: String,
    /// The contract that discounted a `catalog` event; `None`: list price.
    pub contract_id: Option<i64>,
    /// That contract's discount in basis points.
    pub contract_discount_bp: Option<i32>,
    /// What it was billed for beside tokens.
    #[diesel(embed)]
    pub units: UnitCounts,
    /// The images' size and quality (`1024x1792/hd`), which pick their price.
    pub image: Option<String>,
}

impl EventRow {
    /// The tag map (empty if `tags_json` is not an object of strings, which the store
    /// never writes).
    pub fn tags(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.tags_json).unwrap_or_default()
    }
}

// The fields it shares with `EventRow` are listed again: a stored row has its id,
// creation time and tags as stored JSON, the event to store its tags as a map.
/// An already validated and priced event to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEvent {
    /// The client's idempotency key.
    pub event_id: Option<String>,
    /// Provider id.
    pub provider: String,
    /// The model name as sent.
    pub model: String,
    /// The catalog name the model resolved to.
    pub resolved_model: String,
    /// Its token counts.
    pub tokens: TokenCounts,
    /// Sent through a provider batch API.
    pub batch: bool,
    /// Cost in USD nano-dollars.
    pub cost_nanos: i64,
    /// `catalog`, `custom_pricing` or `client`.
    pub cost_source: String,
    /// The `effective_from` date of the catalog price used.
    pub price_effective_from: Option<NaiveDate>,
    /// Microseconds since the Unix epoch, UTC.
    pub ts: i64,
    /// Call latency in milliseconds.
    pub latency_ms: Option<i64>,
    /// Tags (a map, so keys are unique).
    pub tags: BTreeMap<String, String>,
    /// For `custom_pricing`: the custom price revision (its row id) used.
    pub price_revision: Option<i64>,
    /// `standard`, `batch`, `flex` or `priority` (empty is stored as `standard`).
    pub service_tier: String,
    /// The API key that sent it; `None` for a person's session.
    pub api_key_id: Option<ApiKeyId>,
    /// The reservation it settles (see [`crate::reservations`]); not stored.
    pub reservation_id: Option<String>,
    /// The contract that discounted a `catalog` event.
    pub contract_id: Option<i64>,
    /// That contract's discount in basis points.
    pub contract_discount_bp: Option<i32>,
    /// What it is billed for beside tokens.
    pub units: UnitCounts,
    /// The images' size and quality (`1024x1792/hd`), which pick their price.
    pub image: Option<String>,
}

/// What ingestion did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsertOutcome {
    /// Stored now, with this id.
    Inserted(i64),
    /// Its `event_id` was already stored (or came earlier in the same batch) under this
    /// id; nothing was written.
    Duplicate(i64),
}

impl InsertOutcome {
    /// The id of the stored event.
    pub fn id(self) -> i64 {
        match self {
            InsertOutcome::Inserted(id) | InsertOutcome::Duplicate(id) => id,
        }
    }

    /// Whether the event was a repeat.
    pub fn is_duplicate(self) -> bool {
        matches!(self, InsertOutcome::Duplicate(_))
    }
}

/// Event `id` of `workspace_id`.
pub fn find(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    id: i64,
) -> Result<Option<EventRow>, StoreError> {
    Ok(events::table
        .filter(events::id.eq(id))
        .filter(events::workspace_id.eq(workspace_id))
        .select(EventRow::as_select())
        .first(conn)
        .optional()?)
}

/// Which events a listing or an aggregate covers. Every condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Inclusive lower bound on `ts` (microseconds).
    pub start_micros: Option<i64>,
    /// Exclusive upper bound on `ts` (microseconds).
    pub end_micros: Option<i64>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this model, matched against `resolved_model` (the catalog name).
    pub model: Option<String>,
    /// Only events carrying every one of these `(key, value)` tags.
    pub tags: Vec<(String, String)>,
    /// Only events sent this way. Rollups do not keep the sender, so a filter on it
    /// reads the events themselves.
    pub sender: Option<Sender>,
}

/// Which credential sent an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sender {
    /// An API key.
    Key(ApiKeyId),
    /// A person's session (the dashboard, a signed-in script).
    Session,
}

impl EventFilter {
    /// Events in `[start_micros, end_micros)`.
    pub fn between(start_micros: i64, end_micros: i64) -> EventFilter {
        EventFilter {
            start_micros: Some(start_micros),
            end_micros: Some(end_micros),
            ..EventFilter::default()
        }
    }

    /// Appends `e.workspace_id = … AND …` for this filter to `sql` (the events table is `e`).
    pub(crate) fn push_where(&self, sql: &mut Sql, workspace_id: WorkspaceId) {
        sql.push("e.workspace_id = ").int(workspace_id.get());
        if let Some(start) = self.start_micros {
            sql.push(" AND e.ts >= ").int(start);
        }
        if let Some(end) = self.end_micros {
            sql.push(" AND e.ts < ").int(end);
        }
        if let Some(provider) = &self.provider {
            sql.push(" AND e.provider = ").text(provider);
        }
        if let Some(model) = &self.model {
            sql.push(" AND e.resolved_model = ").text(model);
        }
        match self.sender {
            Some(Sender::Key(key)) => {
                sql.push(" AND e.api_key_id = ").int(key.get());
            }
            Some(Sender::Session) => {
                sql.push(" AND e.api_key_id IS NULL");
            }
            None => {}
        }
        for (key, value) in &self.tags {
            // event_tags repeats workspace_id and ts so this subquery is one index range scan.
            sql.push(" AND e.id IN (SELECT t.event_id FROM event_tags t WHERE t.workspace_id = ")
                .int(workspace_id.get())
                .push(" AND t.key = ")
                .text(key)
                .push(" AND t.value = ")
                .text(value);
            if let Some(start) = self.start_micros {
                sql.push(" AND t.ts >= ").int(start);
            }
            if let Some(end) = self.end_micros {
                sql.push(" AND t.ts < ").int(end);
            }
            sql.push(")");
        }
    }
}

/// A position in a newest-first listing: the last `(ts, id)` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventCursor {
    /// `ts` of the last event returned.
    pub ts: i64,
    /// `id` of the last event returned.
    pub id: i64,
}

impl EventCursor {
    /// An opaque, URL-safe token (32 lowercase hex digits).
    pub fn encode(&self) -> String {
        // Bit-for-bit, so negative values round-trip.
        format!("{:016x}{:016x}", self.ts as u64, self.id as u64)
    }

    /// Reads a token made by [`EventCursor::encode`]; `None` if it is not one.
    pub fn decode(token: &str) -> Option<EventCursor> {
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let ts = u64::from_str_radix(token.get(..16)?, 16).ok()? as i64;
        let id = u64::from_str_radix(token.get(16..)?, 16).ok()? as i64;
        Some(EventCursor { ts, id })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// Events, newest first (by `ts`, then `id`).
    pub events: Vec<EventRow>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<EventCursor>,
}

/// The columns a stored event is written with, in the one order every statement lists
/// them (`id` and `created_at` aside: each statement says where they come from).
pub(crate) const COLUMNS: [&str; 31] = [
    "workspace_id",
    "event_id",
    "provider",
    "model",
    "resolved_model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "batch",
    "cost_nanos",
    "cost_source",
    "price_effective_from",
    "ts",
    "latency_ms",
    "tags_json",
    "price_revision",
    "cache_write_1h_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "service_tier",
    "api_key_id",
    "contract_id",
    "contract_discount_bp",
    "images",
    "audio_input_seconds",
    "output_characters",
    "web_search_calls",
    "code_sessions",
    "image",
];

/// [`COLUMNS`] as a list, each name behind `prefix` (`"u."`, or `""`).
pub(crate) fn column_list(prefix: &str) -> String {
    COLUMNS
        .iter()
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every column of an [`EventRow`], from the alias `e`.
pub(crate) static EVENT_COLUMNS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("e.id, {}, e.created_at", column_list("e.")));

/// Up to `limit` (at least 1) events of `workspace_id` matching `filter`, newest first,
/// starting after `after`.
pub fn list(
    conn: &mut AnyConnection,
    workspace_id: WorkspaceId,
    filter: &EventFilter,
    after: Option<EventCursor>,
    limit: u32,
) -> Result<EventPage, StoreError> {
    let limit = limit.max(1);
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT ")
        .push(&EVENT_COLUMNS)
        .push(" FROM events e WHERE ");
    filter.push_where(&mut sql, workspace_id);
    if let Some(cursor) = after {
        sql.push(" AND (e.ts, e.id) < (")
            .int(cursor.ts)
            .push(", ")
            .int(cursor.id)
            .push(")");
    }
    sql.push(" ORDER BY e.ts DESC, e.id DESC LIMIT ")
        .int(i64::from(limit) + 1);
    let mut events: Vec<EventRow> = sql.load(conn)?;
    let next_cursor = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events.last().map(|e| EventCursor { ts: e.ts, id: e.id })
    } else {
        None
    };
    Ok(EventPage {
        events,
        next_cursor,
    })
}

store_methods! {
    /// See [`events::insert_event`](insert_event).
    fn insert_event(
        workspace_id: WorkspaceId,
        event: &NewEvent,
    ) -> (EventRow, InsertOutcome) = write(insert_event);

    /// See [`events::insert_batch`](insert_batch).
    fn insert_batch(
        workspace_id: WorkspaceId,
        batch: &[NewEvent],
    ) -> Vec<InsertOutcome> = write(insert_batch);

    /// See [`events::find`](find).
    fn event(workspace_id: WorkspaceId, id: i64) -> Option<EventRow> = with_conn(find);

    /// See [`events::list`](list).
    fn list_events(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        after: Option<EventCursor>,
        limit: u32,
    ) -> EventPage = with_conn(list);
}
