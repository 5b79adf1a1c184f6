//! What a call is billed for beside its tokens: images, seconds of audio in, characters of
//! speech out, web searches and code sessions.

use llmlab_providers::{ImagePrices, ImageQuality, ImageSize, UnitPrice, UnitRates};
use serde::{Deserialize, Serialize};

use crate::cost::{PER_MINUTE, required};
use crate::error::EngineError;
use crate::usage::Usage;

/// Counts of the non-token units of one call, or sums over many. Plain numbers, as
/// [`Tokens`](crate::Tokens) are: [`Usage::parse`](crate::Usage::parse) checks one call's.
///
/// Serialized under the event format's names (`images`, `audio_input_seconds`, …), each
/// 0 when absent, so a struct that flattens it reads like an event.
///
/// ```
/// use llmlab_engine::Units;
///
/// let call = Units { web_search_calls: 2, ..Units::default() };
/// let mut sum = Units::default();
/// sum.add(&call);
/// sum.add(&call);
/// assert_eq!(sum.web_search_calls, 4);
/// assert!(!sum.is_zero());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Units {
    /// Images generated.
    #[serde(default)]
    pub images: i64,
    /// Seconds of audio transcribed or translated.
    #[serde(default)]
    pub audio_input_seconds: i64,
    /// Characters of text turned into speech.
    #[serde(default)]
    pub output_characters: i64,
    /// Web search calls (for xAI's live search: sources used).
    #[serde(default)]
    pub web_search_calls: i64,
    /// Code-interpreter or container sessions.
    #[serde(default)]
    pub code_sessions: i64,
}

impl Units {
    /// The fields by their wire names, in order.
    pub(crate) fn named(&self) -> [(&'static str, i64); 5] {
        [
            ("images", self.images),
            ("audio_input_seconds", self.audio_input_seconds),
            ("output_characters", self.output_characters),
            ("web_search_calls", self.web_search_calls),
            ("code_sessions", self.code_sessions),
        ]
    }

    /// Adds `other` unit by unit, saturating as [`Tokens::add`](crate::Tokens::add) does.
    pub fn add(&mut self, other: &Units) {
        self.images = self.images.saturating_add(other.images);
        self.audio_input_seconds = self
            .audio_input_seconds
            .saturating_add(other.audio_input_seconds);
        self.output_characters = self
            .output_characters
            .saturating_add(other.output_characters);
        self.web_search_calls = self.web_search_calls.saturating_add(other.web_search_calls);
        self.code_sessions = self.code_sessions.saturating_add(other.code_sessions);
    }

    /// Whether every count is 0 (a plain token call).
    pub fn is_zero(&self) -> bool {
        *self == Units::default()
    }
}

/// Each non-token unit of `usage` as `(count, pico-dollars per price unit, count per
/// price unit)`: images, seconds of audio (priced per minute), characters, web searches,
/// code sessions. A unit used without a price is refused, naming its field.
pub(crate) fn unit_parts(
    units: &UnitRates,
    usage: &Usage,
) -> Result<[(u64, u64, i128); 5], EngineError> {
    let n = usage.units();
    let count = |v: i64| u64::try_from(v).unwrap_or(0);
    let unit = |field: &'static str, v: i64, price: Option<UnitPrice>| {
        required(field, count(v), price.map(UnitPrice::picos)).map(|p| (count(v), p, 1))
    };
    let image = match usage.image() {
        _ if n.images == 0 => 0,
        // No size: only a price for any size applies.
        None => image_price(&units.images, None, ImageQuality::Standard)?.picos(),
        Some((size, quality)) => image_price(&units.images, Some(size), quality)?.picos(),
    };
    Ok([
        (count(n.images), image, 1),
        (
            count(n.audio_input_seconds),
            unit(
                "audio_input_seconds",
                n.audio_input_seconds,
                units.audio_input_minute,
            )?
            .1,
            PER_MINUTE,
        ),
        unit(
            "output_characters",
            n.output_characters,
            units.output_character,
        )?,
        unit(
            "web_search_calls",
            n.web_search_calls,
            units.web_search_call,
        )?,
        unit("code_sessions", n.code_sessions, units.code_session)?,
    ])
}

/// The price of one image of `size` at `quality`, or a refusal naming the field to change.
fn image_price(
    prices: &ImagePrices,
    size: Option<ImageSize>,
    quality: ImageQuality,
) -> Result<UnitPrice, EngineError> {
    if let Some(price) = prices.get(size, quality) {
        return Ok(price);
    }
    let name = |s: Option<ImageSize>| s.map_or("any size", ImageSize::as_str).to_string();
    let (field, offered): (&'static str, Vec<String>) = if prices.is_empty() {
        ("images", Vec::new())
    } else if !prices.has_size(size) {
        let mut sizes: Vec<String> = prices.iter().map(|(s, _, _)| name(s)).collect();
        sizes.dedup();
        ("image_size", sizes)
    } else {
        let qualities = prices
            .iter()
            .filter(|(s, _, _)| *s == size || s.is_none())
            .map(|(_, q, _)| q.to_string())
            .collect();
        ("image_quality", qualities)
    };
    let message = match (offered.is_empty(), size) {
        (true, _) => "the price in effect has no rate for images; pricing them at another rate \
                      would misstate the cost (send the call's cost as cost_usd instead)"
            .to_string(),
        (false, None) => format!(
            "required with images: they are priced by size (priced: {})",
            offered.join(", ")
        ),
        (false, Some(size)) => format!(
            "the price in effect has no rate for a {quality} {size} image (priced: {})",
            offered.join(", ")
        ),
    };
    Err(EngineError::InvalidUsage { field, message })
}
