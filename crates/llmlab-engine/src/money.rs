//! Exact money: [`Usd`] is an integer count of nano-dollars.
//!
//! # The rounding rule
//!
//! Pricing multiplies token counts by published rates exactly (in 10⁻¹⁴ USD, see
//! [`crate::cost`]); the event's exact total is then rounded **once, half away from zero,
//! to a whole nano-dollar** (10⁻⁹ USD). Everything after that — sums, budgets, summaries —
//! is integer addition of stored per-event costs, so a summary always equals the sum of
//! its events. An `i64` of nano-dollars holds ±$9.2 billion.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::EngineError;

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
    /// A JSON number with the exact decimal digits (`0.0015`, never `0.0015000000000000000313`).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.to_string();
        match serde_json::value::RawValue::from_string(text) {
            Ok(raw) => raw.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

impl<'de> Deserialize<'de> for Usd {
    /// Reads a JSON number (or a decimal string) from its text, exactly.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        let text = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        Usd::parse(text).map_err(serde::de::Error::custom)
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
    fn json_numbers_keep_their_digits() {
        let v = serde_json::to_string(&Usd::from_nanos(123_456_789_012)).unwrap_or_default();
        assert_eq!(v, "123.456789012");
        let back: Usd = serde_json::from_str("0.1").unwrap_or_default();
        assert_eq!(back.nanos(), 100_000_000);
        assert!(serde_json::from_str::<Usd>("true").is_err());
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
    fn mul_div_rounds_half_away_from_zero() {
        assert_eq!(Usd::from_nanos(5).mul_div(1, 2), Some(Usd::from_nanos(3)));
        assert_eq!(Usd::from_nanos(-5).mul_div(1, 2), Some(Usd::from_nanos(-3)));
        assert_eq!(Usd::from_nanos(4).mul_div(1, 3), Some(Usd::from_nanos(1)));
        assert_eq!(Usd::from_nanos(1).mul_div(1, 0), None);
    }
}
