//! Reading an OTLP JSON export: its arrays counted as they are parsed (so parsing stops
//! at the first element past a limit), and attribute values read as the kind their key
//! names, with nothing of a skipped value kept.

use std::cell::Cell;
use std::fmt;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::{AnyValue, Counts, KeyValue, Span, Value};

thread_local! {
    /// What the JSON export being parsed on this thread has held so far. Parsing is
    /// synchronous and starts with a reset, so one thread parses one export at a time.
    pub(super) static BUDGET: Cell<Counts> = Cell::new(Counts::default());
}

/// A JSON array of `T`, each element counted by `count` once parsed; parsing stops at the
/// first element past a limit (so at most one element more than the limit is ever held).
fn counted<'de, D, T>(d: D, count: fn(&mut Counts)) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Elements<T>(fn(&mut Counts), std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Elements<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array")
        }
        fn visit_unit<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                let over = BUDGET.with(|b| {
                    let mut n = b.get();
                    (self.0)(&mut n);
                    b.set(n);
                    n.over()
                });
                if let Some(limit) = over {
                    return Err(de::Error::custom(limit));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Elements(count, std::marker::PhantomData))
}

pub(super) fn scopes<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    counted(d, |n| n.scopes += 1)
}

pub(super) fn spans<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Span>, D::Error> {
    counted(d, |n| n.spans += 1)
}

pub(super) fn attributes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<KeyValue>, D::Error> {
    counted(d, |n| n.attributes += 1)
}

/// A string, kept as bytes.
pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
    Ok(Bytes::from(String::deserialize(d)?))
}

/// Trace and span ids: hex in OTLP JSON.
pub(super) fn hex_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    hex::decode(s.as_bytes())
        .map(Bytes::from)
        .map_err(|e| de::Error::custom(format!("an id must be hex: {e}")))
}

/// A 64-bit unsigned integer: a number, or a decimal string (JSON has no 64-bit
/// integers, so OTLP JSON allows both).
pub(super) fn uint64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match d.deserialize_any(Scalar)? {
        Some(Value::Int(n)) => u64::try_from(n).map_err(|_| de::Error::custom("a negative time")),
        Some(Value::String(s)) => std::str::from_utf8(&s)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| de::Error::custom("a time must be a 64-bit unsigned integer")),
        _ => Err(de::Error::custom(
            "a time must be a 64-bit unsigned integer",
        )),
    }
}

/// One JSON scalar as a [`Value`] (a number as `Int` when it is an integer); `None` for
/// an array or object, which is skipped without being kept.
struct Scalar;

impl<'de> Visitor<'de> for Scalar {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Option<Value>, E> {
        Ok(Some(Value::Bool(b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Option<Value>, E> {
        Ok(Some(Value::Int(n)))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Option<Value>, E> {
        // Past i64: not an integer OTLP can carry; kept as the number it is.
        Ok(Some(
            i64::try_from(n).map_or(Value::Double(n as f64), Value::Int),
        ))
    }
    fn visit_f64<E>(self, d: f64) -> Result<Option<Value>, E> {
        Ok(Some(Value::Double(d)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Option<Value>, E> {
        Ok(Some(Value::String(Bytes::copy_from_slice(s.as_bytes()))))
    }
    fn visit_string<E>(self, s: String) -> Result<Option<Value>, E> {
        Ok(Some(Value::String(Bytes::from(s))))
    }
    fn visit_unit<E>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
}

/// A scalar read as the kind its key names, or `None` when it is not one: an `intValue`
/// may be a number or a decimal string, a `doubleValue` a number or `NaN`/`Infinity`.
fn as_kind(kind: &str, scalar: Option<Value>) -> Option<Value> {
    let text = |v: &Value| v.text().map(str::to_owned);
    match (kind, scalar?) {
        ("stringValue" | "string_value", v @ Value::String(_)) => Some(v),
        ("boolValue" | "bool_value", v @ Value::Bool(_)) => Some(v),
        ("intValue" | "int_value", v @ Value::Int(_)) => Some(v),
        ("intValue" | "int_value", v @ Value::String(_)) => text(&v)?.parse().ok().map(Value::Int),
        ("doubleValue" | "double_value", v @ Value::Double(_)) => Some(v),
        ("doubleValue" | "double_value", Value::Int(n)) => Some(Value::Double(n as f64)),
        ("doubleValue" | "double_value", v @ Value::String(_)) => match text(&v)?.as_str() {
            "NaN" => Some(Value::Double(f64::NAN)),
            "Infinity" => Some(Value::Double(f64::INFINITY)),
            "-Infinity" => Some(Value::Double(f64::NEG_INFINITY)),
            other => other.parse().ok().map(Value::Double),
        },
        _ => None,
    }
}

impl<'de> Deserialize<'de> for AnyValue {
    /// `{"stringValue": …}`, `{"intValue": 3}` or `{"intValue": "3"}`, …; a value of
    /// another kind, or one that does not parse as its kind (an `intValue` of `"1.5"`),
    /// is kept as no value, so the attribute's reader can refuse its span alone rather
    /// than the whole export. Nothing of a skipped value is kept while it is read.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AnyValue, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = AnyValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OTLP AnyValue object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
                let mut value = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let scalar = map.next_value_seed(ScalarSeed)?;
                    if let Some(v) = as_kind(&key, scalar) {
                        value = Some(v);
                    }
                }
                Ok(AnyValue { value })
            }
        }
        d.deserialize_map(Fields)
    }
}

/// [`Scalar`] as a seed, for a map's values.
struct ScalarSeed;

impl<'de> de::DeserializeSeed<'de> for ScalarSeed {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(Scalar)
    }
}
