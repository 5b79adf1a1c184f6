//! The rows aggregates return.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use crate::{TokenCounts, UnitCounts};

/// Totals over a selection of events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct Totals {
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Events stored without a price (cost 0 until re-priced).
    #[diesel(sql_type = BigInt)]
    pub unpriced_calls: i64,
    /// The sums of every token column.
    #[diesel(embed)]
    pub tokens: TokenCounts,
    /// The sums of every unit column (images, audio seconds, …).
    #[diesel(embed)]
    pub units: UnitCounts,
}

/// The sums every breakdown (slot, provider, model) reports for its key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct Sums {
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Sum of `input_tokens`.
    #[diesel(sql_type = BigInt)]
    pub input_tokens: i64,
    /// Sum of `output_tokens`.
    #[diesel(sql_type = BigInt)]
    pub output_tokens: i64,
    /// Events stored without a price (cost 0 until re-priced).
    #[diesel(sql_type = BigInt)]
    pub unpriced_calls: i64,
    /// The sums of every unit column (images, audio seconds, …).
    #[diesel(embed)]
    pub units: UnitCounts,
}

/// Totals of one UTC time slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct SlotRow {
    /// Start of the slot, microseconds since the epoch (a multiple of the slot width).
    #[diesel(sql_type = BigInt)]
    pub slot_start_micros: i64,
    /// Its sums.
    #[diesel(embed)]
    pub sums: Sums,
}

/// Totals of one provider.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct GroupTotals {
    /// Provider id.
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// Its sums.
    #[diesel(embed)]
    pub sums: Sums,
}

/// Totals of one `(provider, resolved_model)`.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ModelTotals {
    /// Provider id.
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// The resolved (catalog) model name.
    #[diesel(sql_type = Text)]
    pub model: String,
    /// Its sums.
    #[diesel(embed)]
    pub sums: Sums,
}

/// Totals of one value of a tag key.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TagTotals {
    /// The tag value.
    #[diesel(sql_type = Text)]
    pub value: String,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
}

/// Cost of one `(provider, resolved_model)` on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DailyModelRow {
    /// Start of the UTC day, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub day_start_micros: i64,
    /// Provider id.
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// The resolved (catalog) model name.
    #[diesel(sql_type = Text)]
    pub model: String,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
}

// Its cost and calls repeat `DailyModelRow`'s: each is the row of its own query, read
// by name, and the recommendations read them by field.
/// Cost of one value of a tag key on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DailyTagRow {
    /// Start of the UTC day, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub day_start_micros: i64,
    /// The tag value; `None` for the key's other values, added up.
    #[diesel(sql_type = Nullable<Text>)]
    pub value: Option<String>,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
}

/// How one `(provider, resolved_model)` is used with or without the batch API: the token
/// mix recommendations reprice at other models' prices.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TokenMixRow {
    /// Provider id.
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// The resolved (catalog) model name.
    #[diesel(sql_type = Text)]
    pub model: String,
    /// Whether these events went through a batch API.
    #[diesel(sql_type = Bool)]
    pub batch: bool,
    /// Number of events.
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Cost, nano-dollars.
    #[diesel(sql_type = BigInt)]
    pub cost_nanos: i64,
    /// The largest `input_tokens` of one event (to check context windows).
    #[diesel(sql_type = BigInt)]
    pub max_input_tokens: i64,
    /// The sums of every token column.
    #[diesel(embed)]
    pub tokens: TokenCounts,
}

/// A row whose figures add up when two parts of a plan (rollups and raw edges) return the
/// same key.
pub(super) trait Summed {
    /// Adds `other`'s figures into `self` (its key is the same).
    fn add(&mut self, other: &Self);
}

/// Implements [`Summed`] by adding the named columns (and keeping the larger of `max`
/// columns) and the embedded groups after `add` ([`Sums`], [`TokenCounts`]), or by
/// adding an embedded [`Sums`] alone.
macro_rules! summed {
    ($row:ty => $sums:ident) => {
        impl Summed for $row {
            fn add(&mut self, other: &Self) {
                self.$sums.add(&other.$sums);
            }
        }
    };
    ($row:ty: $($col:ident),+ $(; max $m:ident)? $(; add $($g:ident),+)?) => {
        impl Summed for $row {
            fn add(&mut self, other: &Self) {
                $(self.$col = self.$col.saturating_add(other.$col);)+
                $(self.$m = self.$m.max(other.$m);)?
                $($(self.$g.add(&other.$g);)+)?
            }
        }
    };
}

summed!(Totals: cost_nanos, calls, unpriced_calls; add tokens, units);
summed!(Sums: cost_nanos, calls, input_tokens, output_tokens, unpriced_calls; add units);
summed!(SlotRow => sums);
summed!(GroupTotals => sums);
summed!(ModelTotals => sums);
summed!(DailyModelRow: cost_nanos, calls);
summed!(TokenMixRow: calls, cost_nanos; max max_input_tokens; add tokens);
