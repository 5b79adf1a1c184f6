//! The eight token columns and the five unit columns, as groups every row that carries
//! them embeds.

use diesel::prelude::*;

use crate::schema::events;

/// The eight token columns of an event, or their sums: what `events`, `event_rollups`,
/// `tag_rollups` and the aggregates over them carry under the same names.
///
/// `input_tokens` counts every prompt token; cache reads, the 5-minute and 1-hour cache
/// writes and uncached audio are disjoint parts of it. `output_tokens` counts every
/// generated token; reasoning and audio are disjoint parts of it. The store keeps what it
/// is given: validating the counts is the caller's business.
///
/// Rows embed it (`#[diesel(embed)]`): it selects and inserts as `events`' columns, and a
/// query of its own reads it by column name, from the rollups as well as the events.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Queryable, Selectable, QueryableByName, Insertable,
)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct TokenCounts {
    /// Every prompt token, cached ones included.
    pub input_tokens: i64,
    /// Every output token, reasoning included.
    pub output_tokens: i64,
    /// Prompt tokens read from the cache.
    pub cached_input_tokens: i64,
    /// Prompt tokens written to the cache with a 5-minute lifetime.
    pub cache_write_tokens: i64,
    /// Reasoning tokens (part of `output_tokens`).
    pub reasoning_tokens: i64,
    /// 1-hour cache writes (part of `input_tokens`, disjoint from `cache_write_tokens`).
    pub cache_write_1h_tokens: i64,
    /// Uncached audio prompt tokens (part of `input_tokens`).
    pub input_audio_tokens: i64,
    /// Audio output tokens (part of `output_tokens`).
    pub output_audio_tokens: i64,
}

impl TokenCounts {
    /// Adds `other` column by column. Saturating: a sum past `i64::MAX` (impossible within
    /// [`LEDGER_CEILING`](crate::rollups::LEDGER_CEILING)) fails the ledger's CHECK
    /// instead of wrapping or panicking the writer.
    pub fn add(&mut self, other: &TokenCounts) {
        let sum = |a: &mut i64, b: i64| *a = a.saturating_add(b);
        sum(&mut self.input_tokens, other.input_tokens);
        sum(&mut self.output_tokens, other.output_tokens);
        sum(&mut self.cached_input_tokens, other.cached_input_tokens);
        sum(&mut self.cache_write_tokens, other.cache_write_tokens);
        sum(&mut self.reasoning_tokens, other.reasoning_tokens);
        sum(&mut self.cache_write_1h_tokens, other.cache_write_1h_tokens);
        sum(&mut self.input_audio_tokens, other.input_audio_tokens);
        sum(&mut self.output_audio_tokens, other.output_audio_tokens);
    }
}

/// The five non-token unit columns of an event, or their sums: what `events`,
/// `event_rollups` and `tag_rollups` carry under the same names. Embedded beside
/// [`TokenCounts`] as it is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Queryable, Selectable, QueryableByName, Insertable,
)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct UnitCounts {
    /// Images generated.
    pub images: i64,
    /// Seconds of audio transcribed.
    pub audio_input_seconds: i64,
    /// Characters turned into speech.
    pub output_characters: i64,
    /// Web search calls.
    pub web_search_calls: i64,
    /// Code sessions.
    pub code_sessions: i64,
}

impl UnitCounts {
    /// The column names, in order.
    pub(crate) const COLUMNS: [&'static str; 5] = [
        "images",
        "audio_input_seconds",
        "output_characters",
        "web_search_calls",
        "code_sessions",
    ];

    /// The values, in [`UnitCounts::COLUMNS`]' order.
    pub(crate) fn counts(&self) -> [i64; 5] {
        [
            self.images,
            self.audio_input_seconds,
            self.output_characters,
            self.web_search_calls,
            self.code_sessions,
        ]
    }

    /// Adds `other` column by column, saturating as [`TokenCounts::add`] does.
    pub fn add(&mut self, other: &UnitCounts) {
        let sum = |a: &mut i64, b: i64| *a = a.saturating_add(b);
        sum(&mut self.images, other.images);
        sum(&mut self.audio_input_seconds, other.audio_input_seconds);
        sum(&mut self.output_characters, other.output_characters);
        sum(&mut self.web_search_calls, other.web_search_calls);
        sum(&mut self.code_sessions, other.code_sessions);
    }
}
