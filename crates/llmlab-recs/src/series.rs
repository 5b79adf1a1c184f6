//! The inputs of anomaly detection: a daily cost series and its breakdown by model,
//! provider and tag.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use llmlab_engine::Usd;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// The spend of one day (UTC or the workspace's zone — the caller decides what a day is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DailyCost {
    /// The day.
    pub date: NaiveDate,
    /// Sum of the stored costs of that day's events.
    pub cost: Usd,
}

impl DailyCost {
    /// A day and its spend.
    pub fn new(date: NaiveDate, cost: Usd) -> DailyCost {
        DailyCost { date, cost }
    }
}

/// What a share of spend is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    /// One model of one provider (the catalog name the model resolved to).
    Model {
        /// Provider id (`openai`).
        provider: String,
        /// Resolved model name (`gpt-4o`).
        model: String,
    },
    /// One provider.
    Provider(String),
    /// One value of one tag key (`team` = `growth`).
    Tag {
        /// Tag key.
        key: String,
        /// Tag value.
        value: String,
    },
    /// The values of one tag key that are not broken out, added up: a key can have more
    /// values than attribution looks at one by one. Never a value of its own.
    OtherTagValues {
        /// Tag key.
        key: String,
    },
}

impl Dimension {
    /// A model of a provider.
    pub fn model(provider: impl Into<String>, model: impl Into<String>) -> Dimension {
        Dimension::Model {
            provider: provider.into(),
            model: model.into(),
        }
    }

    /// A provider.
    pub fn provider(provider: impl Into<String>) -> Dimension {
        Dimension::Provider(provider.into())
    }

    /// A tag value.
    pub fn tag(key: impl Into<String>, value: impl Into<String>) -> Dimension {
        Dimension::Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    /// The other values of a tag key, added up.
    pub fn other_tag_values(key: impl Into<String>) -> Dimension {
        Dimension::OtherTagValues { key: key.into() }
    }

    /// `"model"`, `"provider"` or `"tag"` (also for a key's other values).
    pub fn kind(&self) -> &'static str {
        match self {
            Dimension::Model { .. } => "model",
            Dimension::Provider(_) => "provider",
            Dimension::Tag { .. } | Dimension::OtherTagValues { .. } => "tag",
        }
    }

    /// A short human label: `openai/gpt-4o`, `openai`, `team:growth` (the API's tag filter
    /// syntax), or `team (other values)`, which is not that syntax: no filter selects them.
    pub fn label(&self) -> String {
        match self {
            Dimension::Model { provider, model } => format!("{provider}/{model}"),
            Dimension::Provider(p) => p.clone(),
            Dimension::Tag { key, value } => format!("{key}:{value}"),
            Dimension::OtherTagValues { key } => format!("{key} (other values)"),
        }
    }

    /// Whether this is a tag key's other values added up.
    pub fn is_other(&self) -> bool {
        matches!(self, Dimension::OtherTagValues { .. })
    }

    /// Values that share one 100 % of attribution: all models, all providers, or the
    /// values of one tag key (a call carries several tag keys, so tag keys are separate).
    pub(crate) fn group(&self) -> (u8, &str) {
        match self {
            Dimension::Model { .. } => (0, ""),
            Dimension::Provider(_) => (1, ""),
            Dimension::Tag { key, .. } | Dimension::OtherTagValues { key } => (2, key),
        }
    }

    /// Writes `dimension` and the identifying fields into a JSON object being built.
    pub(crate) fn write_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry("dimension", self.kind())?;
        match self {
            Dimension::Model { provider, model } => {
                map.serialize_entry("provider", provider)?;
                map.serialize_entry("model", model)?;
            }
            Dimension::Provider(p) => map.serialize_entry("provider", p)?,
            Dimension::Tag { key, value } => {
                map.serialize_entry("key", key)?;
                map.serialize_entry("value", value)?;
            }
            Dimension::OtherTagValues { key } => {
                map.serialize_entry("key", key)?;
                map.serialize_entry("value", &None::<String>)?;
                map.serialize_entry("other", &true)?;
            }
        }
        map.serialize_entry("label", &self.label())
    }
}

impl Serialize for Dimension {
    /// `{"dimension": "model", "provider": "openai", "model": "gpt-4o", "label": "openai/gpt-4o"}`,
    /// `{"dimension": "provider", "provider": "openai", "label": "openai"}`,
    /// `{"dimension": "tag", "key": "team", "value": "growth", "label": "team:growth"}` or
    /// `{"dimension": "tag", "key": "team", "value": null, "other": true, "label": "team (other values)"}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.write_fields(&mut map)?;
        map.end()
    }
}

/// The spend of one day attributed to one dimension value: a row of
/// `GROUP BY day, provider, model` (or provider, or one tag key's value).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DailyBreakdown {
    /// The day.
    pub date: NaiveDate,
    /// What the spend is attributed to.
    pub dimension: Dimension,
    /// Sum of the stored costs of that day's events for this value.
    pub cost: Usd,
}

impl DailyBreakdown {
    /// A day, a dimension value and its spend.
    pub fn new(date: NaiveDate, dimension: Dimension, cost: Usd) -> DailyBreakdown {
        DailyBreakdown {
            date,
            dimension,
            cost,
        }
    }
}

/// The days `start..=end` in order, each with the spend of `rows` on that day: days without
/// rows are zero-spend days, rows of the same day are added, rows outside the range are
/// dropped. Empty when `start > end`.
///
/// ```
/// use chrono::NaiveDate;
/// use llmlab_engine::Usd;
/// use llmlab_recs::{DailyCost, fill_days};
/// let day = |d| NaiveDate::from_ymd_opt(2025, 3, d).unwrap();
/// let rows = [DailyCost::new(day(2), Usd::from_nanos(5))];
/// let filled = fill_days(day(1), day(3), rows);
/// assert_eq!(filled.iter().map(|d| d.cost.nanos()).collect::<Vec<_>>(), [0, 5, 0]);
/// ```
pub fn fill_days(
    start: NaiveDate,
    end: NaiveDate,
    rows: impl IntoIterator<Item = DailyCost>,
) -> Vec<DailyCost> {
    let mut by_day: BTreeMap<NaiveDate, Usd> = BTreeMap::new();
    for row in rows {
        if row.date >= start && row.date <= end {
            let slot = by_day.entry(row.date).or_default();
            *slot = slot.saturating_add(row.cost);
        }
    }
    start
        .iter_days()
        .take_while(|d| *d <= end)
        .map(|date| DailyCost {
            date,
            cost: by_day.get(&date).copied().unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, d).unwrap_or_default()
    }

    #[test]
    fn fill_days_fills_sums_and_drops() {
        let rows = [
            DailyCost::new(day(3), Usd::from_nanos(2)),
            DailyCost::new(day(3), Usd::from_nanos(3)),
            DailyCost::new(day(9), Usd::from_nanos(100)),
            DailyCost::new(day(1), Usd::from_nanos(7)),
        ];
        let filled = fill_days(day(1), day(4), rows);
        let got: Vec<(u32, i64)> = filled
            .iter()
            .map(|d| (chrono::Datelike::day(&d.date), d.cost.nanos()))
            .collect();
        assert_eq!(got, [(1, 7), (2, 0), (3, 5), (4, 0)]);
        assert!(fill_days(day(4), day(1), []).is_empty());
    }

    #[test]
    fn labels() {
        assert_eq!(
            Dimension::model("openai", "gpt-4o").label(),
            "openai/gpt-4o"
        );
        assert_eq!(Dimension::provider("openai").label(), "openai");
        assert_eq!(Dimension::tag("team", "growth").label(), "team:growth");
        assert_eq!(
            Dimension::other_tag_values("team").label(),
            "team (other values)"
        );
        let other = serde_json::to_value(Dimension::other_tag_values("team")).ok();
        let value = other.as_ref().and_then(|o| o.get("value"));
        assert_eq!(value, Some(&serde_json::Value::Null));
        assert_eq!(
            other.as_ref().and_then(|o| o.get("other")),
            Some(&true.into())
        );
    }
}
