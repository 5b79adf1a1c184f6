//! The spend of one tag key's values: the costliest listed, the rest added up.

use llmlab_app::fx::Amount;
use llmlab_app::{TagBreakdown, TagRest, TagTotals};
use llmlab_engine::Usd;
use serde::Serialize;
use utoipa::ToSchema;

use super::FxRateUsed;
use super::costs::unsigned;

impl From<&TagTotals> for TagRow {
    fn from(r: &TagTotals) -> TagRow {
        TagRow {
            value: r.value.clone(),
            cost_usd: Usd::from_nanos(r.cost_nanos),
            calls: unsigned(r.calls),
            cost: None,
        }
    }
}

/// Spend of one tag value.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagRow {
    /// Tag value.
    pub value: String,
    /// Spend.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// Calls.
    pub calls: u64,
    /// Spend in `currency`, when one was asked for.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
}

/// `{key, values: [...], other}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    /// Tag key.
    pub key: String,
    /// The 1,000 costliest values, costliest first (then most calls, then by value).
    pub values: Vec<TagRow>,
    /// The key's other values added up, when it has more than `values` lists; `null`
    /// when `values` lists them all. Not a tag value: the spend of every event with this
    /// key is the sum of `values` plus this.
    pub other: Option<OtherTagValues>,
    /// The currency asked for (`currency=`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The rates used, by the day each took effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fx_rates_used: Option<Vec<FxRateUsed>>,
}

impl TagList {
    /// The answer for tag `key`.
    pub fn new(key: String, breakdown: &TagBreakdown) -> TagList {
        TagList {
            key,
            values: breakdown.values.iter().map(TagRow::from).collect(),
            other: breakdown.other.as_ref().map(OtherTagValues::from),
            currency: None,
            fx_rates_used: None,
        }
    }

    /// The list with each value's spend, and the others', in `rates`' currency too:
    /// `by_value` from `reports::by_tag_in` (`None`: the values it did not list).
    pub fn converted(
        mut self,
        by_value: &std::collections::BTreeMap<Option<String>, Amount>,
        rates: &llmlab_app::fx::Rates,
    ) -> TagList {
        let listed: std::collections::BTreeSet<&str> =
            self.values.iter().map(|v| v.value.as_str()).collect();
        let mut rest = Amount::default();
        for (value, amount) in by_value {
            if value.as_deref().is_none_or(|v| !listed.contains(v)) {
                rest = [rest, *amount].into_iter().sum();
            }
        }
        for v in &mut self.values {
            let amount = by_value.get(&Some(v.value.clone())).copied();
            v.cost = Some(amount.unwrap_or_default());
        }
        if let Some(other) = &mut self.other {
            other.cost = Some(rest);
        }
        (self.currency, self.fx_rates_used) = FxRateUsed::named(Some(rates));
        self
    }
}

/// The values of a tag key that `by-tag` does not list, added up.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtherTagValues {
    /// How many values.
    pub values: u64,
    /// Their spend.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// Their calls.
    pub calls: u64,
    /// Their spend in `currency`, when one was asked for.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
}

impl From<&TagRest> for OtherTagValues {
    fn from(r: &TagRest) -> OtherTagValues {
        OtherTagValues {
            values: unsigned(r.values),
            cost_usd: Usd::from_nanos(r.cost_nanos),
            calls: unsigned(r.calls),
            cost: None,
        }
    }
}
