//! Amounts LLMLab did not compute, as someone else's bill states them.

use super::{Usd, round_half_away};
use crate::error::EngineError;

impl Usd {
    /// Parses a decimal number as a bill states it, in any JSON form (`0.06`,
    /// `0.0028800000000000006`, `5e-06`), rounding an amount finer than a nano-dollar
    /// once, half away from zero (the one rounding rule). For amounts LLMLab did not
    /// compute, such as a provider's cost report; [`Usd::parse`] refuses what it would
    /// have to round.
    ///
    /// ```
    /// use llmlab_engine::Usd;
    /// assert_eq!(Usd::parse_rounded("0.0028800000000000006").unwrap().to_string(), "0.00288");
    /// assert_eq!(Usd::parse_rounded("5e-06").unwrap().nanos(), 5_000);
    /// assert_eq!(Usd::parse_rounded("-0.0000000015").unwrap().nanos(), -2);
    /// ```
    pub fn parse_rounded(s: &str) -> Result<Usd, EngineError> {
        let invalid = || EngineError::InvalidAmount(s.to_string());
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (mantissa, exp) = match t.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().map_err(|_| invalid())?),
            None => (t, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
            return Err(invalid());
        }
        // The digits as one integer with `scale` decimals, exactly.
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 36 {
            return Err(invalid());
        }
        let value: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| invalid())?
        };
        let scale = i64::try_from(frac.len()).map_err(|_| invalid())? - i64::from(exp);
        // Nano-dollars = value × 10^(9 − scale), rounded once.
        let shift = 9 - scale;
        let nanos = if value == 0 {
            0
        } else if shift >= 0 {
            let factor = 10_i128.checked_pow(u32::try_from(shift).map_err(|_| invalid())?);
            factor
                .and_then(|f| value.checked_mul(f))
                .ok_or_else(invalid)?
        } else {
            match 10_i128.checked_pow(u32::try_from(-shift).map_err(|_| invalid())?) {
                Some(d) => round_half_away(value, d),
                None => 0,
            }
        };
        let nanos = i64::try_from(nanos).map_err(|_| invalid())?;
        Ok(Usd(if neg { -nanos } else { nanos }))
    }
}
