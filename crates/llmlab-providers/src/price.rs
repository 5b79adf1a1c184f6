//! Published prices: an exact per-million-token rate and the price versions a model has had.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units::UnitRates;

/// A price in USD per million tokens, held exactly as micro-dollars per million tokens.
///
/// Providers publish at most four decimals (`$0.0375`); six are accepted so negotiated
/// custom rates fit too. Because one micro-dollar per million tokens is one pico-dollar
/// per token, `tokens × rate` is an exact integer count of pico-dollars: no rounding
/// happens until the engine rounds an event's total once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PerMTok(u64);

/// Largest accepted rate: $1,000,000 per million tokens. Far above any real price, and
/// low enough that `tokens × rate` never overflows the engine's arithmetic.
const MAX_MICROS: u64 = 1_000_000 * 1_000_000;

impl PerMTok {
    /// Zero: a bucket the model does not bill.
    pub const ZERO: PerMTok = PerMTok(0);

    /// Builds a rate from micro-dollars per million tokens.
    pub fn from_micros(micros: u64) -> Option<Self> {
        (micros <= MAX_MICROS).then_some(PerMTok(micros))
    }

    /// The rate in micro-dollars per million tokens (= pico-dollars per token).
    pub fn micros(self) -> u64 {
        self.0
    }

    /// Parses a decimal such as `"2.50"` or `"0.0375"` (at most 6 decimals, non-negative).
    pub fn parse(s: &str) -> Result<Self, PriceParseError> {
        parse_scaled(s, 6)
            .and_then(PerMTok::from_micros)
            .ok_or_else(|| PriceParseError(s.trim().to_string()))
    }
}

/// `s`, a non-negative decimal of at most `decimals` decimals, times 10^`decimals`;
/// `None` for anything else or past `u64`.
pub(crate) fn parse_scaled(s: &str, decimals: usize) -> Option<u64> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    if frac.len() > decimals || int.len() > 18 {
        return None;
    }
    let int_v: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_v: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..decimals {
        frac_v *= 10;
    }
    int_v
        .checked_mul(10_u64.pow(decimals as u32))?
        .checked_add(frac_v)
}

impl fmt::Display for PerMTok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.0 / 1_000_000;
        let frac = self.0 % 1_000_000;
        if frac == 0 {
            return write!(f, "{int}");
        }
        let digits = format!("{frac:06}");
        write!(f, "{int}.{}", digits.trim_end_matches('0'))
    }
}

impl FromStr for PerMTok {
    type Err = PriceParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PerMTok::parse(s)
    }
}

impl Serialize for PerMTok {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PerMTok {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        PerMTok::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A price string that is not a non-negative decimal with at most 6 decimals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a price in USD per million tokens (a non-negative decimal, at most 6 decimals)"
)]
pub struct PriceParseError(pub String);

/// The rates billed for each token bucket.
///
/// Built with [`Rates::text`] and the `with_` methods (a later release may bill another
/// bucket, so the struct is not built literally):
///
/// ```
/// use llmlab_providers::{PerMTok, Rates};
///
/// let mtok = |s: &str| PerMTok::parse(s).unwrap();
/// let rates = Rates::text(mtok("3"), mtok("15"))
///     .with_cached_input(mtok("0.30"))
///     .with_cache_write(mtok("3.75"));
/// assert_eq!(rates.cache_write, Some(mtok("3.75")));
/// assert_eq!(rates.input_audio, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Rates {
    /// Uncached prompt tokens.
    pub input: PerMTok,
    /// Output tokens, reasoning tokens included.
    pub output: PerMTok,
    /// Cache-read tokens; `None` when the model has no prompt caching (billed as input).
    pub cached_input: Option<PerMTok>,
    /// Cache-write tokens (Anthropic's 5-minute writes); `None` when writes are not billed
    /// separately (billed as input).
    pub cache_write: Option<PerMTok>,
    /// 1-hour cache-write tokens (Anthropic: 2× input); `None` when the model has no
    /// 1-hour cache (such tokens are refused rather than priced at another rate).
    pub cache_write_1h: Option<PerMTok>,
    /// Uncached audio prompt tokens; `None` when the provider publishes no audio input
    /// rate for the model (audio tokens are refused).
    pub input_audio: Option<PerMTok>,
    /// Audio output tokens; `None` when the provider publishes no audio output rate for
    /// the model (audio tokens are refused).
    pub output_audio: Option<PerMTok>,
    /// What the model bills per image, minute, character, search or session.
    #[serde(skip_serializing_if = "UnitRates::is_empty")]
    pub units: UnitRates,
}

impl Rates {
    /// Plain input/output rates with no caching or audio rates.
    pub fn text(input: PerMTok, output: PerMTok) -> Rates {
        Rates {
            input,
            output,
            cached_input: None,
            cache_write: None,
            cache_write_1h: None,
            input_audio: None,
            output_audio: None,
            units: UnitRates::default(),
        }
    }

    /// These rates with cache reads billed at `rate`.
    pub fn with_cached_input(self, rate: PerMTok) -> Rates {
        Rates {
            cached_input: Some(rate),
            ..self
        }
    }

    /// These rates with (5-minute) cache writes billed at `rate`.
    pub fn with_cache_write(self, rate: PerMTok) -> Rates {
        Rates {
            cache_write: Some(rate),
            ..self
        }
    }

    /// These rates with 1-hour cache writes billed at `rate`.
    pub fn with_cache_write_1h(self, rate: PerMTok) -> Rates {
        Rates {
            cache_write_1h: Some(rate),
            ..self
        }
    }

    /// These rates with uncached audio input billed at `rate`.
    pub fn with_input_audio(self, rate: PerMTok) -> Rates {
        Rates {
            input_audio: Some(rate),
            ..self
        }
    }

    /// These rates with audio output billed at `rate`.
    pub fn with_output_audio(self, rate: PerMTok) -> Rates {
        Rates {
            output_audio: Some(rate),
            ..self
        }
    }

    /// These rates with `units` billed per image, minute, character, search or session.
    pub fn with_units(self, units: UnitRates) -> Rates {
        Rates { units, ..self }
    }
}

/// A provider service tier a call was sent on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServiceTier {
    /// The provider's default tier.
    #[default]
    Standard,
    /// The batch API (priced with the version's batch discount).
    Batch,
    /// OpenAI's Flex processing: slower, cheaper, may be unavailable.
    Flex,
    /// OpenAI's Priority processing: faster, dearer.
    Priority,
}

impl ServiceTier {
    /// Every tier, in wire order.
    pub const ALL: [ServiceTier; 4] = [
        ServiceTier::Standard,
        ServiceTier::Batch,
        ServiceTier::Flex,
        ServiceTier::Priority,
    ];

    /// The wire (and stored) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Batch => "batch",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }

    /// Parses a wire name (`standard`, `batch`, `flex`, `priority`).
    pub fn parse(s: &str) -> Option<ServiceTier> {
        ServiceTier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for ServiceTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A long-context tier: above `threshold_tokens` prompt tokens the whole request is billed at `rates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LongContextTier {
    /// Prompt tokens (cached included) above which the tier applies.
    pub threshold_tokens: u64,
    /// The rates of the whole request once the threshold is crossed.
    pub rates: Rates,
}

/// One price version of a model: the rates in effect from `effective_from` until the next version.
///
/// Built with [`PriceVersion::new`] and the `with_` methods:
///
/// ```
/// use chrono::NaiveDate;
/// use llmlab_providers::{PerMTok, PriceVersion, Rates};
///
/// let mtok = |s: &str| PerMTok::parse(s).unwrap();
/// let day = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
/// let version = PriceVersion::new(day, Rates::text(mtok("2"), mtok("8")), "https://example.com/pricing", day)
///     .with_batch_discount_pct(50);
/// assert_eq!(version.tiers().len(), 2); // standard and batch
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PriceVersion {
    /// First UTC day these rates apply.
    pub effective_from: NaiveDate,
    /// Standard rates.
    pub rates: Rates,
    /// Discount in percent for the provider's batch API, if it has one.
    pub batch_discount_pct: Option<u8>,
    /// Optional long-context tier.
    pub long_context: Option<LongContextTier>,
    /// Rates for fine-tuned derivatives (`ft:` models), where published.
    pub fine_tuned: Option<Rates>,
    /// Rates of the Flex service tier, where published.
    pub flex: Option<Rates>,
    /// Rates of the Priority service tier, where published.
    pub priority: Option<Rates>,
    /// Where the price was published.
    pub source: String,
    /// When the price was last checked against `source`.
    pub checked: NaiveDate,
}

impl PriceVersion {
    /// Rates in effect from `effective_from`, as published at `source` and checked on
    /// `checked`, with no batch discount, long-context tier or other tiers.
    pub fn new(
        effective_from: NaiveDate,
        rates: Rates,
        source: impl Into<String>,
        checked: NaiveDate,
    ) -> PriceVersion {
        PriceVersion {
            effective_from,
            rates,
            batch_discount_pct: None,
            long_context: None,
            fine_tuned: None,
            flex: None,
            priority: None,
            source: source.into(),
            checked,
        }
    }

    /// This version with the provider's batch API discounted by `pct` percent.
    pub fn with_batch_discount_pct(self, pct: u8) -> PriceVersion {
        PriceVersion {
            batch_discount_pct: Some(pct),
            ..self
        }
    }

    /// This version with a long-context tier.
    pub fn with_long_context(self, tier: LongContextTier) -> PriceVersion {
        PriceVersion {
            long_context: Some(tier),
            ..self
        }
    }

    /// This version with rates for fine-tuned derivatives.
    pub fn with_fine_tuned(self, rates: Rates) -> PriceVersion {
        PriceVersion {
            fine_tuned: Some(rates),
            ..self
        }
    }

    /// This version with Flex tier rates.
    pub fn with_flex(self, rates: Rates) -> PriceVersion {
        PriceVersion {
            flex: Some(rates),
            ..self
        }
    }

    /// This version with Priority tier rates.
    pub fn with_priority(self, rates: Rates) -> PriceVersion {
        PriceVersion {
            priority: Some(rates),
            ..self
        }
    }

    /// The rates for a request with `prompt_tokens` prompt tokens: the long-context tier's
    /// when the prompt exceeds its threshold.
    pub fn rates_for(&self, prompt_tokens: u64) -> (&Rates, bool) {
        match &self.long_context {
            Some(t) if prompt_tokens > t.threshold_tokens => (&t.rates, true),
            _ => (&self.rates, false),
        }
    }

    /// The service tiers this version prices: standard always, batch when it has a batch
    /// discount, flex and priority when it carries their rates.
    pub fn tiers(&self) -> Vec<ServiceTier> {
        let mut tiers = vec![ServiceTier::Standard];
        if self.batch_discount_pct.is_some() {
            tiers.push(ServiceTier::Batch);
        }
        if self.flex.is_some() {
            tiers.push(ServiceTier::Flex);
        }
        if self.priority.is_some() {
            tiers.push(ServiceTier::Priority);
        }
        tiers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_published_decimals_exactly() {
        assert_eq!(PerMTok::parse("2.50").map(PerMTok::micros), Ok(2_500_000));
        assert_eq!(PerMTok::parse("0.0375").map(PerMTok::micros), Ok(37_500));
        assert_eq!(PerMTok::parse("15").map(PerMTok::micros), Ok(15_000_000));
        assert_eq!(PerMTok::parse(".5").map(PerMTok::micros), Ok(500_000));
        assert_eq!(PerMTok::parse("0.000001").map(PerMTok::micros), Ok(1));
    }

    #[test]
    fn rejects_what_is_not_a_price() {
        for bad in [
            "",
            ".",
            "-1",
            "1.2.3",
            "abc",
            "1e3",
            "0.0000001",
            "99999999",
            " ",
            "1,5",
        ] {
            assert!(PerMTok::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["2.5", "0.0375", "15", "0", "0.000001"] {
            let p = PerMTok::parse(s).expect("valid");
            assert_eq!(p.to_string(), s);
        }
    }
}
