//! Money and counts as people read them, in notices, reports and the dashboard: dollars
//! to the cent with thousands separators from a dollar up, every significant digit below
//! one, exact amounts for single events. The exact figure is always in the API.

use llmlab_engine::Usd;

/// Dollars as people read them: from a dollar up, to the cent with thousands separators
/// (`$1,234.56`, rounded half away from zero); under a dollar, every significant digit
/// with at least two decimals (`$0.50`, `$0.0065`), so a small amount is never shown as
/// `$0.00`, nor rounded up to a cent it did not reach.
pub fn dollars(amount: Usd) -> String {
    let nanos = i128::from(amount.nanos());
    let sign = if nanos < 0 { "-" } else { "" };
    if nanos != 0 && nanos.abs() < 1_000_000_000 {
        // `Usd`'s own exact decimal (`0.0065`, `-0.5`), given a second decimal if it has one.
        let exact = amount.to_string();
        let exact = exact.trim_start_matches('-');
        let pad = if exact.len() - exact.find('.').unwrap_or(0) < 3 {
            "0"
        } else {
            ""
        };
        return format!("{sign}${exact}{pad}");
    }
    let cents = (nanos.abs() + 5_000_000) / 10_000_000;
    let (units, cents) = (cents / 100, cents % 100);
    format!("{sign}${}.{cents:02}", grouped(&units.to_string()))
}

/// An amount as a JSON number, in the data of a notice (receivers read money as the API
/// writes it: a number, not `Usd`'s own decimal string).
pub fn number(amount: Usd) -> serde_json::Value {
    #[derive(serde::Serialize)]
    struct Number(#[serde(with = "llmlab_engine::as_json_number")] Usd);
    serde_json::to_value(Number(amount)).unwrap_or(serde_json::Value::Null)
}

/// `value` (a library type's serde form, such as a recommendation's evidence) with every
/// amount in a field named `…_usd` — the API's name for money — as a JSON number, where
/// the library writes `Usd`'s decimal string.
pub fn usd_numbers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, v)| {
                    let v = match v {
                        Value::String(s) if key.ends_with("_usd") => match Usd::parse(&s) {
                            Ok(amount) => number(amount),
                            Err(_) => Value::String(s),
                        },
                        other => usd_numbers(other),
                    };
                    (key, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(usd_numbers).collect()),
        other => other,
    }
}

/// The exact amount (`$0.0075`), for single events.
pub fn exact(amount: Usd) -> String {
    format!("${amount}")
}

/// A count with thousands separators.
pub fn count(n: u64) -> String {
    grouped(&n.to_string())
}

/// A number of calls in words that agree with it: `1 call`, `2,500 calls`.
pub fn calls(n: u64) -> String {
    match n {
        1 => "1 call".to_string(),
        n => format!("{} calls", count(n)),
    }
}

/// `digits` with a comma before every group of three from the right.
fn grouped(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn usd_fields_become_numbers_and_nothing_else_does() {
        let v = serde_json::json!({
            "cost_usd": "0.00525", "name": "12", "nested": [{"excess_usd": "-3.5"}],
            "note_usd": "n/a", "calls": 3,
        });
        let v = usd_numbers(v);
        assert_eq!(
            v.to_string(),
            r#"{"calls":3,"cost_usd":0.00525,"name":"12","nested":[{"excess_usd":-3.5}],"note_usd":"n/a"}"#
        );
    }

    #[test]
    fn dollars_read_like_an_invoice() {
        let usd = |s: &str| Usd::parse(s).unwrap();
        assert_eq!(dollars(usd("1234.564")), "$1,234.56");
        assert_eq!(dollars(usd("1234.565")), "$1,234.57");
        assert_eq!(dollars(usd("0")), "$0.00");
        assert_eq!(dollars(usd("0.0049")), "$0.0049");
        assert_eq!(dollars(usd("0.0065")), "$0.0065");
        assert_eq!(dollars(usd("0.5")), "$0.50");
        assert_eq!(dollars(usd("0.01")), "$0.01");
        assert_eq!(dollars(usd("0.999999999")), "$0.999999999");
        assert_eq!(dollars(usd("-0.25")), "-$0.25");
        assert_eq!(dollars(usd("1000000")), "$1,000,000.00");
        assert_eq!(dollars(usd("-12.5")), "-$12.50");
        assert_eq!(exact(usd("0.0075")), "$0.0075");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(calls(1), "1 call");
        assert_eq!(calls(0), "0 calls");
        assert_eq!(calls(2_500), "2,500 calls");
    }
}
