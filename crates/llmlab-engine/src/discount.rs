//! A negotiated discount off list prices: what an enterprise agreement takes off the
//! catalog's rates, applied inside pricing so the one rounding rule still rounds once.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::EngineError;
use crate::money::Usd;

/// A percentage off list prices, from 0 to 100 with at most two decimals (`12.5`,
/// `33.33`), held exactly as basis points.
///
/// ```
/// use llmlab_engine::Discount;
///
/// let d: Discount = "12.5".parse().unwrap();
/// assert_eq!(d.basis_points(), 1_250);
/// assert_eq!(d.to_string(), "12.5");
/// assert!("12.345".parse::<Discount>().is_err()); // finer than a basis point
/// assert!("100.01".parse::<Discount>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Discount(u16);

/// Basis points in 100 %.
pub(crate) const WHOLE: u16 = 10_000;

impl Discount {
    /// No discount: list prices.
    pub const NONE: Discount = Discount(0);

    /// From basis points (`1_250` is 12.5 %); `None` past 10,000.
    pub const fn from_basis_points(bp: u16) -> Option<Discount> {
        if bp <= WHOLE {
            Some(Discount(bp))
        } else {
            None
        }
    }

    /// The discount in basis points.
    pub const fn basis_points(self) -> u16 {
        self.0
    }

    /// Parses a percentage such as `"12.5"`: 0 to 100, at most two decimals.
    pub fn parse(s: &str) -> Result<Discount, EngineError> {
        let invalid = || EngineError::InvalidValue {
            field: "discount_pct",
            message: format!("'{s}' is not a percentage from 0 to 100 with at most two decimals"),
        };
        // A percent with two decimals is a decimal with nine, read exactly by `Usd`.
        let nanos = Usd::parse(s).map_err(|_| invalid())?.nanos();
        let per_bp = crate::NANOS_PER_USD / 100;
        if nanos < 0 || nanos % per_bp != 0 {
            return Err(invalid());
        }
        u16::try_from(nanos / per_bp)
            .ok()
            .and_then(Discount::from_basis_points)
            .ok_or_else(invalid)
    }
}

impl std::str::FromStr for Discount {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Discount, EngineError> {
        Discount::parse(s)
    }
}

impl fmt::Display for Discount {
    /// The percentage, without trailing zeros (`12.5`, `20`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => write!(f, "{whole}"),
            f2 if f2 % 10 == 0 => write!(f, "{whole}.{}", f2 / 10),
            f2 => write!(f, "{whole}.{f2:02}"),
        }
    }
}

impl Serialize for Discount {
    /// A JSON number with its exact digits (`12.5`); other formats get the text.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::value::RawValue::from_string(self.to_string()) {
            Ok(raw) => raw.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

impl<'de> Deserialize<'de> for Discount {
    /// A JSON number read from its digits, or a decimal string; never through `f64`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let exact = Usd::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("a percentage from 0 to 100 with at most two decimals")
        })?;
        Discount::parse(&exact.to_string()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_percentages_exactly_and_nothing_else() {
        for (text, bp) in [("0", 0), ("12.5", 1_250), ("33.33", 3_333), ("100", 10_000)] {
            let d: Discount = serde_json::from_str(text).unwrap();
            assert_eq!(d.basis_points(), bp, "{text}");
            assert_eq!(serde_json::to_string(&d).unwrap(), text);
        }
        assert_eq!(serde_json::from_str::<Discount>("\"7.25\"").unwrap().0, 725);
        for bad in ["-1", "100.5", "0.001", "\"x\"", "true", "1e1"] {
            assert!(serde_json::from_str::<Discount>(bad).is_err(), "{bad}");
        }
    }
}
