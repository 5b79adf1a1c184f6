//! Budgets: which calls a budget covers ([`Scope`]), how its spend compares with its amount
//! ([`BudgetStatus`]), and where the spend is heading by the end of the period
//! ([`evaluate`]).
//!
//! Status comparisons are exact integer comparisons on nano-dollars; only `percent_used`
//! (a presentation value) is a float.

use std::fmt;

use chrono::{DateTime, Utc};
use llmlab_providers::Catalog;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::aggregate::CostRecord;
use crate::error::EngineError;
use crate::money::Usd;
use crate::period::{Period, Window, Zone, period_window};

/// The calls a budget covers. An absent field covers everything; present fields must all
/// match.
///
/// ```
/// use llmlab_engine::budget::Scope;
///
/// let scope = Scope::new(Some("OpenAI"), None, Some("team:search")).unwrap();
/// assert!(scope.matches("openai", "gpt-4o", [("team", "search")]));
/// assert!(!scope.matches("openai", "gpt-4o", [("team", "chat")]));
/// assert!(!scope.matches("anthropic", "claude-sonnet-4-5", [("team", "search")]));
/// // The pre-flight question, asked without a model: the budget covers the call.
/// assert!(scope.covers(Some("openai"), None, &[("team".into(), "search".into())]));
/// assert!(Scope::new(None, None, Some(":no-key")).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Scope {
    /// Provider id, compared case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Model name, compared case-insensitively with the call's resolved (canonical) model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A tag the call must carry, `(key, value)`, compared exactly. In JSON: `"key:value"`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "tag_to_json",
        deserialize_with = "tag_from_json"
    )]
    pub tag: Option<(String, String)>,
}

impl Scope {
    /// A scope from request fields: blank strings count as absent, the provider is
    /// lowercased and the tag is parsed with [`Scope::parse_tag`].
    pub fn new(
        provider: Option<&str>,
        model: Option<&str>,
        tag: Option<&str>,
    ) -> Result<Scope, EngineError> {
        fn present(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        Ok(Scope {
            provider: present(provider).map(str::to_ascii_lowercase),
            model: present(model).map(str::to_string),
            tag: present(tag).map(Scope::parse_tag).transpose()?,
        })
    }

    /// Parses `key:value` (split at the first colon, so values may contain colons). The
    /// key must not be empty; the value may be.
    pub fn parse_tag(s: &str) -> Result<(String, String), EngineError> {
        let invalid = |message: &str| EngineError::InvalidValue {
            field: "scope.tag",
            message: format!("'{s}': {message}"),
        };
        let (key, value) = s
            .split_once(':')
            .ok_or_else(|| invalid("expected key:value"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(invalid("the tag key is empty"));
        }
        Ok((key.to_string(), value.trim().to_string()))
    }

    /// This scope with its model replaced by the catalog's canonical name, so that a budget
    /// created for `gpt-4o-2024-08-06` covers the calls recorded as `gpt-4o`. Without a
    /// provider the model is looked up in every provider and replaced when all that resolve
    /// it agree on the name (Azure and OpenAI both call `gpt-4o-2024-08-06` `gpt-4o`). A model the catalog doesn't know (priced by the client) stays as given.
    pub fn canonicalized(mut self, catalog: &Catalog) -> Scope {
        let Some(model) = self.model.as_deref() else {
            return self;
        };
        let canonical = match self.provider.as_deref() {
            Some(p) => catalog.resolve(p, model).ok().map(|r| r.entry.name.clone()),
            None => {
                let mut names = catalog
                    .providers()
                    .iter()
                    .filter_map(|p| catalog.resolve(&p.id, model).ok())
                    .map(|r| r.entry.name.clone());
                let first = names.next();
                first.filter(|name| names.all(|other| &other == name))
            }
        };
        if let Some(name) = canonical {
            self.model = Some(name);
        }
        self
    }

    /// Whether a call of `provider`/`model` carrying `tags` is covered. `model` is the
    /// call's resolved model name, as stored with the event.
    pub fn matches<K, V>(
        &self,
        provider: &str,
        model: &str,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> bool
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        self.provider
            .as_deref()
            .is_none_or(|p| p.eq_ignore_ascii_case(provider.trim()))
            && self
                .model
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(model.trim()))
            && self.tag.as_ref().is_none_or(|(key, value)| {
                tags.into_iter()
                    .any(|(k, v)| k.as_ref() == key && v.as_ref() == value)
            })
    }

    /// The pre-flight question "could this call count toward the budget?", where the
    /// caller may not name the provider or the model. An unnamed provider or model may be
    /// any, so it doesn't exclude the budget: a gateway that asks without a model still
    /// hears about an exceeded budget on one of that provider's models. `tags` are the
    /// call's tags; a tag-scoped budget covers only calls that carry its tag, because
    /// calls without it never add to that budget's spend.
    pub fn covers(
        &self,
        provider: Option<&str>,
        model: Option<&str>,
        tags: &[(String, String)],
    ) -> bool {
        let same = |want: &Option<String>, got: Option<&str>| match (want, got) {
            (Some(w), Some(g)) => w.eq_ignore_ascii_case(g.trim()),
            _ => true,
        };
        same(&self.provider, provider)
            && same(&self.model, model)
            && self
                .tag
                .as_ref()
                .is_none_or(|tag| tags.iter().any(|t| t == tag))
    }

    /// Whether `record` is covered.
    pub fn matches_record(&self, record: &CostRecord) -> bool {
        self.matches(
            &record.provider,
            &record.model,
            record.tags.iter().map(|(k, v)| (k, v)),
        )
    }
}

fn tag_to_json<S: Serializer>(tag: &Option<(String, String)>, s: S) -> Result<S::Ok, S::Error> {
    match tag {
        Some((k, v)) => s.serialize_str(&format!("{k}:{v}")),
        None => s.serialize_none(),
    }
}

fn tag_from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(String, String)>, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    raw.map(|s| Scope::parse_tag(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// The percentage of the amount at which a budget turns to `warning`: 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "u8")]
pub struct Threshold(u8);

impl Threshold {
    /// Validates a percentage (`alert_threshold_pct`).
    pub fn parse(pct: i64) -> Result<Threshold, EngineError> {
        u8::try_from(pct)
            .ok()
            .filter(|p| (1..=100).contains(p))
            .map(Threshold)
            .ok_or_else(|| EngineError::InvalidValue {
                field: "alert_threshold_pct",
                message: format!("{pct} is not between 1 and 100"),
            })
    }

    /// The percentage.
    pub fn pct(self) -> u8 {
        self.0
    }
}

impl Default for Threshold {
    /// 80%.
    fn default() -> Threshold {
        Threshold(80)
    }
}

impl From<Threshold> for u8 {
    fn from(t: Threshold) -> u8 {
        t.0
    }
}

impl TryFrom<i64> for Threshold {
    type Error = EngineError;
    fn try_from(pct: i64) -> Result<Threshold, EngineError> {
        Threshold::parse(pct)
    }
}

impl<'de> Deserialize<'de> for Threshold {
    /// An integer from 1 to 100.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Threshold, D::Error> {
        Threshold::parse(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Where a budget's spend stands; ordered `Ok < Warning < Exceeded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetStatus {
    /// Below the threshold.
    Ok,
    /// At or above the threshold, below the amount.
    Warning,
    /// At or above the amount.
    Exceeded,
}

impl BudgetStatus {
    /// The lowercase name (`warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetStatus::Ok => "ok",
            BudgetStatus::Warning => "warning",
            BudgetStatus::Exceeded => "exceeded",
        }
    }
}

impl fmt::Display for BudgetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a budget allows: an amount per calendar period in a zone, and the warning threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSpec {
    /// The amount per period; positive when built by [`BudgetSpec::new`].
    pub amount: Usd,
    /// The period the spend resets on.
    pub period: Period,
    /// The zone whose calendar the period follows.
    pub zone: Zone,
    /// The warning threshold.
    pub threshold: Threshold,
}

impl BudgetSpec {
    /// A spec, rejecting an amount that is not positive (`amount_usd`).
    pub fn new(
        amount: Usd,
        period: Period,
        zone: Zone,
        threshold: Threshold,
    ) -> Result<BudgetSpec, EngineError> {
        if amount.nanos() <= 0 {
            return Err(EngineError::InvalidValue {
                field: "amount_usd",
                message: format!("must be greater than 0, got {amount}"),
            });
        }
        Ok(BudgetSpec {
            amount,
            period,
            zone,
            threshold,
        })
    }

    /// The status of `spent` against this budget: `exceeded` at or above the amount,
    /// `warning` when `spent × 100 ≥ amount × threshold`, else `ok` (integers, no rounding).
    pub fn status(&self, spent: Usd) -> BudgetStatus {
        let spent_n = i128::from(spent.nanos());
        let amount_n = i128::from(self.amount.nanos());
        if spent_n >= amount_n {
            BudgetStatus::Exceeded
        } else if spent_n * 100 >= amount_n * i128::from(self.threshold.pct()) {
            BudgetStatus::Warning
        } else {
            BudgetStatus::Ok
        }
    }
}

/// A budget's state at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evaluation {
    /// Spend in the current period within the budget's scope.
    pub spent: Usd,
    /// `amount − spent`, never below zero.
    pub remaining: Usd,
    /// `spent / amount` in percent, rounded half away from zero to 2 decimals (may exceed 100).
    pub percent_used: f64,
    /// Where the spend stands.
    pub status: BudgetStatus,
    /// The current period.
    pub window: Window,
    /// Projected spend at the end of the period; `None` for `total` budgets.
    pub forecast: Option<Usd>,
}

/// Below this much elapsed time in the period a linear projection is noise (a dollar spent
/// in the first minute of a month would project to $43,200), so the forecast is the spend
/// so far.
pub const MIN_FORECAST_ELAPSED_SECS: i64 = 3600;

/// Evaluates `spent` (the caller's sum of scoped spend inside
/// [`period_window`]`(spec.period, now, spec.zone)`) at `now`.
///
/// The forecast is linear: `spent × period length / elapsed`, with lengths in seconds and
/// the one rounding rule of [`Usd::mul_div`]. It is `spent` itself while less than
/// [`MIN_FORECAST_ELAPSED_SECS`] of the period has elapsed, and `None` for `total` budgets,
/// which have no end to project to.
pub fn evaluate(spec: &BudgetSpec, spent: Usd, now: DateTime<Utc>) -> Evaluation {
    let window = period_window(spec.period, now, spec.zone);
    Evaluation {
        spent,
        remaining: spec.amount.saturating_sub(spent).max(Usd::ZERO),
        percent_used: crate::aggregate::share_pct(spent, spec.amount),
        status: spec.status(spent),
        window,
        forecast: linear_forecast(spent, &window, now),
    }
}

/// The simple projection: `spent × period length / elapsed` (see [`evaluate`]).
pub(crate) fn linear_forecast(spent: Usd, window: &Window, now: DateTime<Utc>) -> Option<Usd> {
    let (start, end) = (window.start?, window.end?);
    let length = (end - start).num_seconds();
    let elapsed = (now - start).num_seconds().clamp(0, length);
    if elapsed < MIN_FORECAST_ELAPSED_SECS {
        return Some(spent);
    }
    // Overflow needs billions of dollars; saturate rather than drop the forecast.
    Some(
        spent
            .mul_div(length, elapsed)
            .unwrap_or(if spent.is_negative() {
                Usd::from_nanos(i64::MIN)
            } else {
                Usd::from_nanos(i64::MAX)
            }),
    )
}

/// The levels (`warning`, `exceeded`) that spend reaches for the first time when it goes
/// from `before` to `after`, lowest first: the alerts an increment triggers. Going from
/// `ok` straight past the amount yields both.
pub fn crossed_levels(spec: &BudgetSpec, before: Usd, after: Usd) -> Vec<BudgetStatus> {
    let (from, to) = (spec.status(before), spec.status(after));
    [BudgetStatus::Warning, BudgetStatus::Exceeded]
        .into_iter()
        .filter(|&level| from < level && level <= to)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::utc;

    fn usd(s: &str) -> Usd {
        Usd::parse(s).unwrap()
    }

    fn spec(amount: &str, period: Period, threshold: i64) -> BudgetSpec {
        BudgetSpec::new(
            usd(amount),
            period,
            Zone::UTC,
            Threshold::parse(threshold).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn statuses_at_exact_boundaries() {
        let s = spec("100", Period::Monthly, 80);
        assert_eq!(s.status(usd("79.999999999")), BudgetStatus::Ok);
        assert_eq!(s.status(usd("80")), BudgetStatus::Warning);
        assert_eq!(s.status(usd("99.999999999")), BudgetStatus::Warning);
        assert_eq!(s.status(usd("100")), BudgetStatus::Exceeded);
        assert_eq!(s.status(usd("250")), BudgetStatus::Exceeded);
        assert_eq!(s.status(Usd::ZERO), BudgetStatus::Ok);
        // A threshold that is not a whole number of nano-dollars: 1/3 of $0.000000010 × 100.
        let odd = BudgetSpec::new(
            Usd::from_nanos(10),
            Period::Daily,
            Zone::UTC,
            Threshold::parse(33).unwrap(),
        )
        .unwrap();
        assert_eq!(odd.status(Usd::from_nanos(3)), BudgetStatus::Ok); // 300 < 330
        assert_eq!(odd.status(Usd::from_nanos(4)), BudgetStatus::Warning);
        // At 100% the warning and the amount coincide.
        let full = spec("5", Period::Total, 100);
        assert_eq!(full.status(usd("4.999999999")), BudgetStatus::Ok);
        assert_eq!(full.status(usd("5")), BudgetStatus::Exceeded);
    }

    #[test]
    fn spec_and_threshold_validation() {
        for bad in [0, 101, -5, 1000] {
            let Err(EngineError::InvalidValue { field, .. }) = Threshold::parse(bad) else {
                panic!("{bad} accepted")
            };
            assert_eq!(field, "alert_threshold_pct");
        }
        assert_eq!(Threshold::default().pct(), 80);
        assert_eq!(Threshold::parse(1).unwrap().pct(), 1);
        assert!(serde_json::from_str::<Threshold>("0").is_err());
        assert_eq!(
            serde_json::to_string(&Threshold::parse(90).unwrap()).unwrap(),
            "90"
        );
        for bad in [Usd::ZERO, Usd::from_nanos(-1)] {
            let Err(EngineError::InvalidValue { field, .. }) =
                BudgetSpec::new(bad, Period::Daily, Zone::UTC, Threshold::default())
            else {
                panic!("{bad} accepted")
            };
            assert_eq!(field, "amount_usd");
        }
    }

    #[test]
    fn evaluation_and_forecast_by_hand() {
        // March 2024 in UTC: 31 days = 2_678_400 s. On the 11th at 00:00, 10 days = 864_000 s
        // have elapsed. $40 × 2_678_400 / 864_000 = $124.
        let s = spec("100", Period::Monthly, 80);
        let e = evaluate(&s, usd("40"), utc("2024-03-11T00:00:00Z"));
        assert_eq!(e.forecast, Some(usd("124")));
        assert_eq!(e.status, BudgetStatus::Ok);
        assert_eq!(e.remaining, usd("60"));
        assert_eq!(e.percent_used, 40.0);
        assert_eq!(e.window.start, Some(utc("2024-03-01T00:00:00Z")));
        assert_eq!(e.window.end, Some(utc("2024-04-01T00:00:00Z")));

        // Daily, 7 hours in: $0.000000010 × 86_400 / 25_200 = 34.2857… → 34 nano-dollars.
        let d = spec("1", Period::Daily, 80);
        let e = evaluate(&d, Usd::from_nanos(10), utc("2024-03-11T07:00:00Z"));
        assert_eq!(e.forecast, Some(Usd::from_nanos(34)));
        // Half a nano-dollar rounds away from zero: 1 × 86_400 / 57_600 = 1.5 → 2.
        let e = evaluate(&d, Usd::from_nanos(1), utc("2024-03-11T16:00:00Z"));
        assert_eq!(e.forecast, Some(Usd::from_nanos(2)));

        // Less than an hour in: the forecast is the spend so far.
        let e = evaluate(&d, usd("0.5"), utc("2024-03-11T00:59:59Z"));
        assert_eq!(e.forecast, Some(usd("0.5")));
        // From exactly one hour: 0.5 × 24 = 12.
        let e = evaluate(&d, usd("0.5"), utc("2024-03-11T01:00:00Z"));
        assert_eq!(e.forecast, Some(usd("12")));

        // A New York day of 23 hours, one second before its end: 0.3 × 82_800 / 82_799.
        let ny = BudgetSpec {
            zone: Zone::parse("America/New_York").unwrap(),
            ..d
        };
        let e = evaluate(&ny, usd("0.3"), utc("2024-03-11T03:59:59Z"));
        assert_eq!(e.window.duration_secs(), Some(23 * 3600));
        assert_eq!(e.forecast, Some(Usd::from_nanos(300_003_623)));

        // Total budgets have no period end.
        let t = spec("10", Period::Total, 50);
        let e = evaluate(&t, usd("12.5"), utc("2024-03-11T00:00:00Z"));
        assert_eq!(e.forecast, None);
        assert_eq!(e.window, Window::UNBOUNDED);
        assert_eq!(e.status, BudgetStatus::Exceeded);
        assert_eq!(e.remaining, Usd::ZERO);
        assert_eq!(e.percent_used, 125.0);
    }

    #[test]
    fn percent_used_rounds_half_away() {
        let s = spec("3", Period::Total, 80);
        assert_eq!(
            evaluate(&s, usd("1"), utc("2024-01-01T00:00:00Z")).percent_used,
            33.33
        );
        assert_eq!(
            evaluate(&s, usd("2"), utc("2024-01-01T00:00:00Z")).percent_used,
            66.67
        );
    }

    #[test]
    fn crossed_levels_for_alerts() {
        let s = spec("100", Period::Monthly, 80);
        assert_eq!(crossed_levels(&s, usd("10"), usd("20")), []);
        assert_eq!(
            crossed_levels(&s, usd("79"), usd("80")),
            [BudgetStatus::Warning]
        );
        assert_eq!(crossed_levels(&s, usd("80"), usd("90")), []);
        assert_eq!(
            crossed_levels(&s, usd("90"), usd("100")),
            [BudgetStatus::Exceeded]
        );
        assert_eq!(
            crossed_levels(&s, usd("0"), usd("150")),
            [BudgetStatus::Warning, BudgetStatus::Exceeded]
        );
        assert_eq!(crossed_levels(&s, usd("150"), usd("160")), []);
        assert_eq!(crossed_levels(&s, usd("150"), usd("10")), []);
    }

    #[test]
    fn scope_matching() {
        let any = Scope::default();
        assert!(any.matches("openai", "gpt-4o", [("team", "growth")]));
        let s = Scope::new(Some("OpenAI"), Some("GPT-4o"), Some("team:growth")).unwrap();
        assert_eq!(s.provider.as_deref(), Some("openai"));
        assert!(s.matches("openai", "gpt-4o", [("team", "growth"), ("env", "prod")]));
        assert!(s.matches("OPENAI", "gpt-4o", [("team", "growth")]));
        assert!(!s.matches("openai", "gpt-4o-mini", [("team", "growth")]));
        assert!(!s.matches("anthropic", "gpt-4o", [("team", "growth")]));
        assert!(!s.matches("openai", "gpt-4o", [("team", "Growth")]));
        assert!(!s.matches("openai", "gpt-4o", Vec::<(String, String)>::new()));
        let record = CostRecord {
            ts: utc("2024-01-01T00:00:00Z"),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            cost: Usd::ZERO,
            tokens: crate::Tokens::default(),
            tags: vec![("team".into(), "growth".into())],
        };
        assert!(s.matches_record(&record));
        let blank = Scope::new(Some(" "), None, Some("")).unwrap();
        assert_eq!(blank, Scope::default());
    }

    #[test]
    fn preflight_coverage() {
        let growth = vec![("team".to_string(), "growth".to_string())];
        let s = Scope::new(Some("openai"), Some("gpt-4o"), None).unwrap();
        assert!(s.covers(Some("openai"), Some("GPT-4o"), &[]));
        assert!(s.covers(Some("openai"), None, &[]));
        assert!(s.covers(None, None, &growth));
        assert!(!s.covers(Some("openai"), Some("gpt-4o-mini"), &[]));
        assert!(!s.covers(Some("anthropic"), None, &[]));
        let tagged = Scope::new(None, None, Some("team:growth")).unwrap();
        assert!(tagged.covers(Some("openai"), Some("gpt-4o"), &growth));
        assert!(!tagged.covers(Some("openai"), Some("gpt-4o"), &[]));
        assert!(Scope::default().covers(None, None, &[]));
    }

    #[test]
    fn tags_parse_as_key_value() {
        assert_eq!(
            Scope::parse_tag("team:growth").unwrap(),
            ("team".into(), "growth".into())
        );
        assert_eq!(
            Scope::parse_tag("url:http://x").unwrap(),
            ("url".into(), "http://x".into())
        );
        assert_eq!(Scope::parse_tag("k:").unwrap(), ("k".into(), String::new()));
        for bad in ["team", ":growth", " :x"] {
            let Err(EngineError::InvalidValue { field, .. }) = Scope::parse_tag(bad) else {
                panic!("{bad} accepted")
            };
            assert_eq!(field, "scope.tag");
        }
        let json = serde_json::json!({"provider": "openai", "tag": "team:growth"});
        let s: Scope = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(s.tag, Some(("team".into(), "growth".into())));
        assert_eq!(serde_json::to_value(&s).unwrap(), json);
        assert!(serde_json::from_value::<Scope>(serde_json::json!({"tag": "nocolon"})).is_err());
    }

    #[test]
    fn scope_models_are_canonicalized() {
        let catalog = Catalog::builtin();
        let s = Scope::new(Some("openai"), Some("gpt-4o-2024-08-06"), None)
            .unwrap()
            .canonicalized(catalog);
        assert_eq!(s.model.as_deref(), Some("gpt-4o"));
        let s = Scope::new(None, Some("OpenAI/gpt-4o-mini"), None)
            .unwrap()
            .canonicalized(catalog);
        assert_eq!(s.model.as_deref(), Some("gpt-4o-mini"));
        // Azure and OpenAI both know the snapshot, under the same name.
        let s = Scope::new(None, Some("gpt-4o-2024-08-06"), None)
            .unwrap()
            .canonicalized(catalog);
        assert_eq!(s.model.as_deref(), Some("gpt-4o"));
        // Anthropic and Bedrock know `claude-sonnet-4-5` under different names: kept.
        let s = Scope::new(None, Some("claude-sonnet-4-5"), None)
            .unwrap()
            .canonicalized(catalog);
        assert_eq!(s.model.as_deref(), Some("claude-sonnet-4-5"));
        let custom = Scope::new(Some("openai"), Some("my-private-model"), None)
            .unwrap()
            .canonicalized(catalog);
        assert_eq!(custom.model.as_deref(), Some("my-private-model"));
    }
}
