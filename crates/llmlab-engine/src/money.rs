//! Exact money: [`Usd`] is an integer count of nano-dollars.
//!
//! # The rounding rule
//!
//! Pricing multiplies token counts by published rates, a batch discount and a contract's
//! discount exactly (in 10⁻¹⁸ USD, see [`crate::cost`]); the event's exact total is then rounded **once, half away from zero,
//! to a whole nano-dollar** (10⁻⁹ USD). Everything after that — sums, budgets, summaries —
//! is integer addition of stored per-event costs, so a summary always equals the sum of
//! its events. An `i64` of nano-dollars holds ±$9.2 billion.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::EngineError;

mod bill;

/// Nano-dollars in one dollar.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

/// An exact amount of US dollars, held as nano-dollars.
///
/// `+`, `-` and unary `-` are exact and panic on overflow (past ±$9.2 billion), as an
/// amount that wrapped would be a wrong bill; [`Usd::checked_add`] and
/// [`Usd::checked_sub`] answer `None` instead, the `saturating_` ones stop at the ends.
///
/// ```
/// use llmlab_engine::Usd;
///
/// let a = Usd::from_cents(1_250).unwrap();
/// let b: Usd = "0.00525".parse().unwrap();
/// assert_eq!((a + b).to_string(), "12.50525");
/// assert_eq!(format!("{:?}", a - b), "Usd(12.49475)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Usd(i64);

impl Usd {
    /// Zero dollars.
    pub const ZERO: Usd = Usd(0);

    /// From a count of nano-dollars.
    pub const fn from_nanos(nanos: i64) -> Usd {
        Usd(nanos)
    }

    /// The amount in nano-dollars.
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Whole dollars (`Usd::from_dollars(5)` is $5.00); `None` on overflow.
    pub fn from_dollars(dollars: i64) -> Option<Usd> {
        dollars.checked_mul(NANOS_PER_USD).map(Usd)
    }

    /// Cents (`Usd::from_cents(1_250)` is $12.50); `None` on overflow.
    pub fn from_cents(cents: i64) -> Option<Usd> {
        cents.checked_mul(NANOS_PER_USD / 100).map(Usd)
    }

    /// Parses a decimal amount such as `"12.5"`, `"-0.000000001"` or `"3"`: at most 9
    /// decimals (an amount finer than a nano-dollar is rejected, not rounded).
    pub fn parse(s: &str) -> Result<Usd, EngineError> {
        let invalid = || EngineError::InvalidAmount(s.to_string());
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        // Accept exponent-free JSON numbers only; `1e-3` is rejected rather than guessed.
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 9 {
            return Err(invalid());
        }
        let int = int.trim_start_matches('0');
        if int.len() > 11 {
            return Err(invalid());
        }
        let int_v: i64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut frac_v: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| invalid())?
        };
        for _ in frac.len()..9 {
            frac_v *= 10;
        }
        let v = int_v
            .checked_mul(NANOS_PER_USD)
            .and_then(|v| v.checked_add(frac_v))
            .ok_or_else(invalid)?;
        Ok(Usd(if neg { -v } else { v }))
    }

    /// Sum, `None` on overflow.
    pub fn checked_add(self, other: Usd) -> Option<Usd> {
        self.0.checked_add(other.0).map(Usd)
    }

    /// Difference, `None` on overflow.
    pub fn checked_sub(self, other: Usd) -> Option<Usd> {
        self.0.checked_sub(other.0).map(Usd)
    }

    /// Sum, clamped at the representable range (for running totals of stored costs,
    /// which cannot realistically reach $9.2 billion).
    pub fn saturating_add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }

    /// Difference, clamped at the representable range.
    pub fn saturating_sub(self, other: Usd) -> Usd {
        Usd(self.0.saturating_sub(other.0))
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The amount as an `f64` of dollars — for statistics (z-scores, forecasts) only,
    /// never for money that is stored or summed.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_USD as f64
    }

    /// The nearest amount to an `f64` of dollars (half away from zero), for projections
    /// computed statistically; `None` when not finite or out of range.
    pub fn from_f64_rounded(dollars: f64) -> Option<Usd> {
        let nanos = (dollars * NANOS_PER_USD as f64).round();
        (nanos.is_finite() && nanos.abs() < i64::MAX as f64).then_some(Usd(nanos as i64))
    }

    /// `self × num / den`, rounded half away from zero to a nano-dollar; `None` when
    /// `den` is zero or the result overflows. Used for prorating (30-day normalisation,
    /// shares) with the one rounding rule.
    pub fn mul_div(self, num: i64, den: i64) -> Option<Usd> {
        if den == 0 {
            return None;
        }
        let n = i128::from(self.0) * i128::from(num);
        let d = i128::from(den);
        let q = round_half_away(n, d);
        i64::try_from(q).ok().map(Usd)
    }
}

/// `n / d` rounded half away from zero (`d != 0`).
pub(crate) fn round_half_away(n: i128, d: i128) -> i128 {
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

impl fmt::Display for Usd {
    /// Decimal dollars with trailing zeros trimmed (`0.0015`, `12`, `-3.5`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let int = abs / NANOS_PER_USD as u64;
        let frac = abs % NANOS_PER_USD as u64;
        if frac == 0 {
            return write!(f, "{sign}{int}");
        }
        let digits = format!("{frac:09}");
        write!(f, "{sign}{int}.{}", digits.trim_end_matches('0'))
    }
}

impl FromStr for Usd {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Usd::parse(s)
    }
}

/// `Usd(12.5)`: the amount, not its count of nano-dollars.
impl fmt::Debug for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Usd({self})")
    }
}

impl Add for Usd {
    type Output = Usd;

    /// # Panics
    ///
    /// When the sum is past ±$9.2 billion.
    fn add(self, other: Usd) -> Usd {
        self.checked_add(other)
            .unwrap_or_else(|| panic!("{self} + {other} overflows Usd"))
    }
}

impl Sub for Usd {
    type Output = Usd;

    /// # Panics
    ///
    /// When the difference is past ±$9.2 billion.
    fn sub(self, other: Usd) -> Usd {
        self.checked_sub(other)
            .unwrap_or_else(|| panic!("{self} - {other} overflows Usd"))
    }
}

impl AddAssign for Usd {
    /// # Panics
    ///
    /// As [`Add`].
    fn add_assign(&mut self, other: Usd) {
        *self = *self + other;
    }
}

impl SubAssign for Usd {
    /// # Panics
    ///
    /// As [`Sub`].
    fn sub_assign(&mut self, other: Usd) {
        *self = *self - other;
    }
}

impl Neg for Usd {
    type Output = Usd;

    /// # Panics
    ///
    /// For the one amount without a negative (`i64::MIN` nano-dollars).
    fn neg(self) -> Usd {
        Usd(self
            .0
            .checked_neg()
            .unwrap_or_else(|| panic!("-({self}) overflows Usd")))
    }
}

impl Sum for Usd {
    /// Saturating sum of stored costs.
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, Usd::saturating_add)
    }
}

impl Serialize for Usd {
    /// A decimal string with the exact digits (`"0.0015"`), in every format: TOML, YAML,
    /// JSON, bincode alike. A JSON API that wants a number writes its fields
    /// `#[serde(with = "llmlab_engine::as_json_number")]`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Usd {
    /// Reads a decimal string (`"0.0015"`), an integer, or — from `serde_json` — a JSON
    /// number from its digits, exactly. A binary float from another format is refused: it
    /// cannot say which decimal it meant.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // serde_json answers this name with the value's raw text (a number's digits);
        // every other format treats it as the plain newtype it is.
        deserializer.deserialize_newtype_struct(RAW_JSON, UsdVisitor)
    }
}

/// The token serde_json recognises to hand a value over as its raw text (what its
/// `RawValue` asks for), so a JSON number is read from its digits, not through `f64`.
const RAW_JSON: &str = "$serde_json::private::RawValue";

struct UsdVisitor;

impl<'de> serde::de::Visitor<'de> for UsdVisitor {
    type Value = Usd;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount of US dollars as a decimal string or number (\"0.0015\")")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Usd, E> {
        Usd::parse(v).map_err(E::custom)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Usd, E> {
        Usd::from_dollars(v).ok_or_else(|| E::custom(format!("{v} dollars is out of range")))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Usd, E> {
        i64::try_from(v)
            .ok()
            .and_then(Usd::from_dollars)
            .ok_or_else(|| E::custom(format!("{v} dollars is out of range")))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Usd, E> {
        Err(E::custom(format!(
            "{v} is a binary floating-point number; write the amount as a decimal string"
        )))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Usd, D::Error> {
        // Binary formats (bincode, postcard) do not describe themselves: they hold the
        // string written; text formats may hold a string or a number.
        if d.is_human_readable() {
            d.deserialize_any(self)
        } else {
            d.deserialize_str(self)
        }
    }

    /// serde_json's arbitrary-precision hand-over of a number's text: one entry whose
    /// key is the token and whose value is the text.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Usd, A::Error> {
        let key: Option<std::borrow::Cow<'de, str>> = map.next_key()?;
        match key.as_deref() {
            Some(RAW_JSON) => {
                let text: std::borrow::Cow<'de, str> = map.next_value()?;
                let text = text
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .unwrap_or(&text);
                Usd::parse(text).map_err(serde::de::Error::custom)
            }
            _ => Err(serde::de::Error::invalid_type(
                serde::de::Unexpected::Map,
                &self,
            )),
        }
    }
}

/// `#[serde(with = "llmlab_engine::as_json_number")]`: a [`Usd`] as a JSON number with
/// its exact digits (`0.0015`, never `0.0015000000000000000313`), for JSON APIs whose
/// contract says number. serde_json only (it writes through serde_json's raw value);
/// reading accepts a number or a decimal string.
///
/// ```
/// use llmlab_engine::Usd;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Line {
///     #[serde(with = "llmlab_engine::as_json_number")]
///     cost_usd: Usd,
///     #[serde(with = "llmlab_engine::as_json_number::option")]
///     cap_usd: Option<Usd>,
/// }
///
/// let line = Line { cost_usd: "0.00525".parse().unwrap(), cap_usd: None };
/// let json = serde_json::to_string(&line).unwrap();
/// assert_eq!(json, r#"{"cost_usd":0.00525,"cap_usd":null}"#);
/// let back: Line = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.cost_usd, line.cost_usd);
/// ```
pub mod as_json_number {
    use super::Usd;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `usd` as a JSON number with its exact digits.
    ///
    /// # Errors
    /// Only what the serializer itself reports.
    pub fn serialize<S: Serializer>(usd: &Usd, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::value::RawValue::from_string(usd.to_string()) {
            Ok(raw) => raw.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }

    /// Reads a JSON number (or a decimal string) exactly.
    ///
    /// # Errors
    /// Anything that is not an exact amount.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Usd, D::Error> {
        Usd::deserialize(deserializer)
    }

    /// The same for an `Option<Usd>` (`null` when `None`).
    pub mod option {
        use super::Usd;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `usd` as an exact JSON number, or `null`.
        ///
        /// # Errors
        /// Only what the serializer itself reports.
        pub fn serialize<S: Serializer>(
            usd: &Option<Usd>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match usd {
                Some(usd) => super::serialize(usd, serializer),
                None => serializer.serialize_none(),
            }
        }

        /// Reads an exact JSON number, a decimal string or `null`.
        ///
        /// # Errors
        /// Anything that is not an exact amount or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Usd>, D::Error> {
            Option::<Usd>::deserialize(deserializer)
        }
    }
}

/// `Usd` ↔ [`rust_decimal::Decimal`] (feature `rust_decimal`), exact both ways.
#[cfg(feature = "rust_decimal")]
mod decimal {
    use super::Usd;
    use crate::EngineError;
    use rust_decimal::Decimal;

    impl From<Usd> for Decimal {
        /// The amount with nine decimals, exactly.
        fn from(usd: Usd) -> Decimal {
            Decimal::new(usd.nanos(), 9)
        }
    }

    impl TryFrom<Decimal> for Usd {
        type Error = EngineError;

        /// The amount, when it is a whole number of nano-dollars within ±$9.2 billion;
        /// otherwise an error, never a rounded amount.
        fn try_from(d: Decimal) -> Result<Usd, EngineError> {
            // `Usd::parse` holds the one set of rules for what an exact amount is.
            Usd::parse(&d.normalize().to_string())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn conversions_are_exact_or_refused() {
            let usd = Usd::from_nanos(-1_234_567_890_123);
            let d = Decimal::from(usd);
            assert_eq!(d.to_string(), "-1234.567890123");
            assert_eq!(Usd::try_from(d).ok(), Some(usd));
            assert_eq!(
                Usd::try_from(Decimal::new(15, 1)).ok(),
                Some(Usd::from_nanos(1_500_000_000))
            );
            assert!(Usd::try_from(Decimal::new(1, 10)).is_err());
            assert!(Usd::try_from(Decimal::from(10_000_000_000i64)).is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_are_exact() {
        assert_eq!(Usd::parse("0.0015").map(Usd::nanos), Ok(1_500_000));
        assert_eq!(Usd::parse("12").map(Usd::nanos), Ok(12 * NANOS_PER_USD));
        assert_eq!(Usd::parse("-0.000000001").map(Usd::nanos), Ok(-1));
        assert_eq!(
            Usd::parse("1.500000000000").map(Usd::nanos),
            Ok(1_500_000_000)
        );
        assert_eq!(Usd::from_nanos(1_500_000).to_string(), "0.0015");
        assert_eq!(Usd::from_nanos(-3_500_000_000).to_string(), "-3.5");
        assert_eq!(Usd::ZERO.to_string(), "0");
    }

    #[test]
    fn parse_rejects_inexact_or_malformed() {
        for bad in [
            "",
            "-",
            ".",
            "1e3",
            "0.0000000001",
            "abc",
            "1.2.3",
            "NaN",
            "99999999999999",
        ] {
            assert!(Usd::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn serde_writes_a_decimal_string_and_reads_numbers_exactly() {
        let usd = Usd::from_nanos(123_456_789_012);
        assert_eq!(
            serde_json::to_string(&usd).ok().as_deref(),
            Some(r#""123.456789012""#)
        );
        for (json, nanos) in [
            ("0.1", 100_000_000),
            (r#""0.1""#, 100_000_000),
            ("12", 12 * NANOS_PER_USD),
            ("0.000000007", 7),
            ("-3.5", -3_500_000_000),
        ] {
            assert_eq!(
                serde_json::from_str::<Usd>(json).map(Usd::nanos).ok(),
                Some(nanos),
                "{json}"
            );
        }
        // From a `serde_json::Value` too (what a stored JSON document is read through).
        let value = serde_json::json!({"a": 0.1, "b": "2.5"});
        assert_eq!(
            serde_json::from_value::<Usd>(value["a"].clone()).ok(),
            Some(Usd::from_nanos(100_000_000))
        );
        assert_eq!(
            serde_json::from_value::<Usd>(value["b"].clone()).ok(),
            Some(Usd::from_nanos(2_500_000_000))
        );
        for bad in ["true", "1e3", "0.0000000001", r#""abc""#, "{}", "[]"] {
            assert!(serde_json::from_str::<Usd>(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn serde_round_trips_through_toml_and_json() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Budget {
            amount: Usd,
            spent: Option<Usd>,
        }
        let budget = Budget {
            amount: Usd::from_nanos(1_234_560_000_001),
            spent: Some(Usd::from_nanos(-7)),
        };
        let toml = toml::to_string(&budget).unwrap_or_default();
        assert_eq!(
            toml,
            "amount = \"1234.560000001\"\nspent = \"-0.000000007\"\n"
        );
        assert_eq!(toml::from_str::<Budget>(&toml).ok().as_ref(), Some(&budget));
        // Integers are whole dollars; a float is refused rather than guessed at.
        assert_eq!(
            toml::from_str::<Budget>("amount = 12")
                .ok()
                .map(|b| b.amount),
            Some(Usd::from_nanos(12 * NANOS_PER_USD))
        );
        assert!(toml::from_str::<Budget>("amount = 0.1").is_err());
        let json = serde_json::to_string(&budget).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<Budget>(&json).ok().as_ref(),
            Some(&budget)
        );
    }

    #[test]
    fn as_json_number_writes_the_exact_digits() {
        #[derive(Serialize, Deserialize)]
        struct Line {
            #[serde(with = "crate::as_json_number")]
            cost: Usd,
            #[serde(with = "crate::as_json_number::option")]
            cap: Option<Usd>,
        }
        let line = Line {
            cost: Usd::from_nanos(1_500_000),
            cap: Some(Usd::from_nanos(-3_500_000_000)),
        };
        let json = serde_json::to_string(&line).unwrap_or_default();
        assert_eq!(json, r#"{"cost":0.0015,"cap":-3.5}"#);
        let back: Option<Line> = serde_json::from_str(&json).ok();
        assert_eq!(back.map(|l| (l.cost, l.cap)), Some((line.cost, line.cap)));
        // Into a serde_json::Value (as `json!` does) it stays a number.
        let value = serde_json::to_value(&line).unwrap_or_default();
        assert!(value["cost"].is_number(), "{value}");
    }

    #[test]
    fn operators_are_exact_and_refuse_to_wrap() {
        let (a, b) = (Usd::from_nanos(12_500_000_000), Usd::from_nanos(1));
        assert_eq!(Usd::from_cents(1_250), Some(a));
        assert_eq!((a + b).nanos(), 12_500_000_001);
        assert_eq!((a - b).nanos(), 12_499_999_999);
        assert_eq!((-a).to_string(), "-12.5");
        let mut c = a;
        c += a;
        c -= b;
        assert_eq!(c.nanos(), 24_999_999_999);
        assert_eq!(Usd::from_cents(i64::MAX), None);
        assert_eq!(format!("{:?}", Usd::from_nanos(5_250_000)), "Usd(0.00525)");
        let max = Usd::from_nanos(i64::MAX);
        assert!(std::panic::catch_unwind(|| max + b).is_err());
        assert!(std::panic::catch_unwind(|| Usd::from_nanos(i64::MIN) - b).is_err());
        assert!(std::panic::catch_unwind(|| -Usd::from_nanos(i64::MIN)).is_err());
    }

    #[test]
    fn bills_are_read_exactly_and_rounded_once() {
        for (text, nanos) in [
            ("0.06", 60_000_000),
            ("123.45", 123_450_000_000),
            ("0.0000000005", 1),
            ("0.00000000049999", 0),
            ("-0.0000000005", -1),
            ("1.5E+2", 150_000_000_000),
            ("1e-9", 1),
            ("0e5", 0),
            ("1e-400", 0),
        ] {
            assert_eq!(
                Usd::parse_rounded(text).expect("an amount").nanos(),
                nanos,
                "{text}"
            );
        }
        for bad in ["", ".", "1e", "abc", "1.2.3", "1e99", "--1", "0x10"] {
            assert!(Usd::parse_rounded(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mul_div_rounds_half_away_from_zero() {
        assert_eq!(Usd::from_nanos(5).mul_div(1, 2), Some(Usd::from_nanos(3)));
        assert_eq!(Usd::from_nanos(-5).mul_div(1, 2), Some(Usd::from_nanos(-3)));
        assert_eq!(Usd::from_nanos(4).mul_div(1, 3), Some(Usd::from_nanos(1)));
        assert_eq!(Usd::from_nanos(1).mul_div(1, 0), None);
    }
}
