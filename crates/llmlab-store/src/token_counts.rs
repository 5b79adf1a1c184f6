//! The eight token columns, as one group every row that carries them embeds.

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
