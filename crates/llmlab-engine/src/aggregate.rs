//! Cost records and their totals: by time bucket, provider, model and tag.
//!
//! Totals are integer sums of stored per-event costs, so a summary always equals the sum of
//! its parts exactly: the buckets of a period, the providers of a summary and the models of
//! a provider add up to the same number of nano-dollars.
//!
//! The store computes these in SQL; the record-level functions here ([`summarize`],
//! [`by_bucket`], [`by_provider`], [`top_models`], [`by_tag`]) are the reference its tests
//! check against, and what services that hold records in memory call directly.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use llmlab_engine::aggregate::{by_bucket, by_provider, by_tag, fill_gaps, share_pct, summarize, top_models, CostRecord};
//! use llmlab_engine::period::{Granularity, Zone};
//! use llmlab_engine::{Tokens, Usd};
//!
//! let at = |d, h| Utc.with_ymd_and_hms(2025, 3, d, h, 0, 0).unwrap();
//! let call = |d, h, provider, model, nanos, team| {
//!     let tokens = Tokens { input: 1_000, output: 100, ..Tokens::default() };
//!     CostRecord::new(at(d, h), provider, model, Usd::from_nanos(nanos), tokens)
//!         .with_tag("team", team)
//! };
//! let records = [
//!     call(1, 9, "openai", "gpt-4o", 5_850_000, "search"),
//!     call(1, 23, "anthropic", "claude-sonnet-4-5", 4_000_000, "chat"),
//!     call(3, 10, "openai", "gpt-4o-mini", 150_000, "search"),
//! ];
//!
//! let total = summarize(&records);
//! assert_eq!((total.cost, total.calls), (Usd::from_nanos(10_000_000), 3));
//!
//! // Days in Berlin: 23:00 UTC on the 1st is the 2nd there.
//! let berlin = Zone::parse("Europe/Berlin").unwrap();
//! let days = by_bucket(&records, Granularity::Day, berlin);
//! let labels: Vec<_> = days.iter().map(|b| b.label.as_str()).collect();
//! assert_eq!(labels, ["2025-03-01", "2025-03-02", "2025-03-03"]);
//! // The same series with every day of a range present, empty ones at zero.
//! let week = fill_gaps(days, at(1, 0), at(8, 0), Granularity::Day, Zone::UTC);
//! assert!(week.iter().any(|b| b.totals.calls == 0));
//!
//! let providers = by_provider(&records);
//! assert_eq!(providers[0].key, "openai"); // costliest first
//! assert_eq!(providers[0].totals.cost, Usd::from_nanos(6_000_000));
//! assert_eq!(share_pct(providers[0].totals.cost, total.cost), 60.0);
//! let teams = by_tag(&records, "team");
//! assert_eq!(teams[0].key, "search");
//! assert_eq!(top_models(&records, 1)[0].model, "gpt-4o");
//! ```

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::money::Usd;
use crate::period::{
    Granularity, Zone, bucket_label, bucket_start, next_bucket_start, slot_secs_for,
};
use crate::tokens::Tokens;

/// One priced call, as aggregation sees it: made by [`crate::PricedCall::record`] for a
/// call the engine priced, or by [`CostRecord::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CostRecord {
    /// When the call happened.
    pub ts: DateTime<Utc>,
    /// Provider id (`openai`).
    pub provider: String,
    /// The catalog name the model resolved to (`gpt-4o`), or the client's name for a model
    /// priced by the client.
    pub model: String,
    /// What the call cost.
    pub cost: Usd,
    /// Its token counts.
    pub tokens: Tokens,
    /// Tags as `(key, value)` pairs; keys are unique.
    pub tags: Vec<(String, String)>,
}

impl CostRecord {
    /// A call of `model` at `provider` made at `ts`, which cost `cost` for `tokens`,
    /// with no tags.
    pub fn new(
        ts: DateTime<Utc>,
        provider: impl Into<String>,
        model: impl Into<String>,
        cost: Usd,
        tokens: Tokens,
    ) -> CostRecord {
        CostRecord {
            ts,
            provider: provider.into(),
            model: model.into(),
            cost,
            tokens,
            tags: Vec::new(),
        }
    }

    /// This record with the tag `key` set to `value` (replacing one it had).
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> CostRecord {
        let key = key.into();
        let value = value.into();
        match self.tags.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.tags.push((key, value)),
        }
        self
    }

    /// The value of tag `key`, if the record has it (the first one, should a key repeat).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// This record as the totals of one call.
    pub fn totals(&self) -> Totals {
        Totals {
            cost: self.cost,
            calls: 1,
            tokens: self.tokens,
        }
    }
}

/// Sums over a set of calls.
///
/// Additions saturate instead of overflowing: the money type holds $9.2 billion, the call
/// counter 1.8 × 10¹⁹ and each token sum 9.2 × 10¹⁸, so saturation is a guard, not a
/// case that happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Totals {
    /// Total cost.
    #[serde(rename = "cost_usd")]
    pub cost: Usd,
    /// Number of calls.
    pub calls: u64,
    /// Token sums, every bucket (serialized inline: `input_tokens`, …).
    #[serde(flatten)]
    pub tokens: Tokens,
}

impl Totals {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Totals) {
        self.cost = self.cost.saturating_add(other.cost);
        self.calls = self.calls.saturating_add(other.calls);
        self.tokens.add(&other.tokens);
    }

    /// Adds one call.
    pub fn add_record(&mut self, record: &CostRecord) {
        self.add(&record.totals());
    }

    /// Mean cost of a call, rounded half away from zero to a nano-dollar; zero when there
    /// are no calls.
    pub fn avg_cost_per_call(&self) -> Usd {
        i64::try_from(self.calls)
            .ok()
            .and_then(|calls| self.cost.mul_div(1, calls))
            .unwrap_or(Usd::ZERO)
    }
}

/// Events of one fixed UTC slot, as the store's SQL returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Slot start, a multiple of the slot length since the Unix epoch
    /// (see [`crate::period::slot_secs_for`]).
    pub start: DateTime<Utc>,
    /// Sums of the slot's events.
    pub totals: Totals,
}

/// One local calendar bucket of a time series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Start of the bucket, as a UTC instant.
    pub start: DateTime<Utc>,
    /// Its label in the report's zone (see [`crate::period::bucket_label`]).
    pub label: String,
    /// Sums of the bucket's events.
    pub totals: Totals,
}

/// Totals of one value of a grouping key (a provider, a tag value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The provider id or the tag value.
    pub key: String,
    /// Sums of the group's events.
    pub totals: Totals,
}

/// Totals of one model of one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelGroup {
    /// Provider id.
    pub provider: String,
    /// Resolved model name.
    pub model: String,
    /// Sums of the model's events.
    pub totals: Totals,
}

/// Merges fixed UTC slots into the local buckets of `zone`, sorted by start.
///
/// Exact when the slots are [`slot_secs_for`]`(zone)` long (or a divisor of it); slots in
/// any order and repeated slot starts are fine.
pub fn fold_slots(
    slots: impl IntoIterator<Item = Slot>,
    g: Granularity,
    zone: Zone,
) -> Vec<Bucket> {
    let mut buckets: BTreeMap<DateTime<Utc>, Totals> = BTreeMap::new();
    // Slots arrive sorted from SQL; remembering the last mapping skips most zone look-ups.
    let mut last: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for slot in slots {
        let start = match last {
            Some((slot_start, bucket)) if slot_start == slot.start => bucket,
            _ => {
                let bucket = bucket_start(slot.start, g, zone);
                last = Some((slot.start, bucket));
                bucket
            }
        };
        buckets.entry(start).or_default().add(&slot.totals);
    }
    into_buckets(buckets, g, zone)
}

/// `buckets` with an empty bucket added for every bucket of `[start, end)` that has no
/// spend, sorted by start: the series a chart or an anomaly detector needs.
///
/// Buckets outside the range are kept; two buckets with the same start are merged. The
/// caller bounds the range (hours over a century are a million buckets).
pub fn fill_gaps(
    buckets: impl IntoIterator<Item = Bucket>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    g: Granularity,
    zone: Zone,
) -> Vec<Bucket> {
    let mut by_start: BTreeMap<DateTime<Utc>, Totals> = BTreeMap::new();
    for b in buckets {
        by_start.entry(b.start).or_default().add(&b.totals);
    }
    let mut s = bucket_start(start, g, zone);
    while s < end {
        by_start.entry(s).or_default();
        let next = next_bucket_start(s, g, zone);
        if next <= s {
            break;
        }
        s = next;
    }
    into_buckets(by_start, g, zone)
}

fn into_buckets(map: BTreeMap<DateTime<Utc>, Totals>, g: Granularity, zone: Zone) -> Vec<Bucket> {
    map.into_iter()
        .map(|(start, totals)| Bucket {
            start,
            label: bucket_label(start, g, zone),
            totals,
        })
        .collect()
}

/// Totals of all `records`.
pub fn summarize<'a>(records: impl IntoIterator<Item = &'a CostRecord>) -> Totals {
    let mut t = Totals::default();
    for r in records {
        t.add_record(r);
    }
    t
}

/// Totals per local bucket of `zone`, sorted by start; buckets without records are absent
/// (see [`fill_gaps`]).
///
/// Each record goes to [`bucket_start`] of its timestamp. Records are first grouped by
/// UTC slot of [`slot_secs_for`]`(zone)` seconds and the zone is consulted once per slot,
/// which is exact for 1970–2100 (timestamps outside that range are placed one by one).
pub fn by_bucket<'a>(
    records: impl IntoIterator<Item = &'a CostRecord>,
    g: Granularity,
    zone: Zone,
) -> Vec<Bucket> {
    /// 1970-01-01 and 2100-01-01 as Unix times: the range `slot_secs_for` vouches for.
    const EXACT: std::ops::Range<i64> = 0..4_102_444_800;
    let slot = slot_secs_for(zone);
    let mut slot_bucket: HashMap<i64, DateTime<Utc>> = HashMap::new();
    let mut last: Option<(i64, DateTime<Utc>)> = None;
    let mut buckets: HashMap<DateTime<Utc>, Totals> = HashMap::new();
    for r in records {
        let secs = r.ts.timestamp();
        let start = if EXACT.contains(&secs) {
            let key = secs.div_euclid(slot);
            match last {
                Some((k, b)) if k == key => b,
                _ => {
                    let b = *slot_bucket
                        .entry(key)
                        .or_insert_with(|| bucket_start(r.ts, g, zone));
                    last = Some((key, b));
                    b
                }
            }
        } else {
            bucket_start(r.ts, g, zone)
        };
        buckets.entry(start).or_default().add_record(r);
    }
    into_buckets(buckets.into_iter().collect(), g, zone)
}

/// Totals per provider, costliest first (ties by provider id).
pub fn by_provider<'a>(records: impl IntoIterator<Item = &'a CostRecord>) -> Vec<Group> {
    group_by(records, |r| Some(r.provider.as_str()))
}

/// Totals per tag value of tag `key`, costliest first (ties by value). Records without
/// that tag are in no group: their spend is [`summarize`] minus the sum of the groups.
pub fn by_tag<'a>(records: impl IntoIterator<Item = &'a CostRecord>, key: &str) -> Vec<Group> {
    group_by(records, |r| r.tag(key))
}

fn group_by<'a>(
    records: impl IntoIterator<Item = &'a CostRecord>,
    key: impl Fn(&'a CostRecord) -> Option<&'a str>,
) -> Vec<Group> {
    costliest_groups(records, key)
        .into_iter()
        .map(|(k, totals)| Group {
            key: k.to_string(),
            totals,
        })
        .collect()
}

/// Totals per key of the records `key` gives one, costliest first (ties by key).
fn costliest_groups<'a, K: Copy + Ord + std::hash::Hash>(
    records: impl IntoIterator<Item = &'a CostRecord>,
    key: impl Fn(&'a CostRecord) -> Option<K>,
) -> Vec<(K, Totals)> {
    let mut groups: Grouper<K> = Grouper::default();
    for r in records {
        if let Some(k) = key(r) {
            groups.entry(k).add_record(r);
        }
    }
    let mut out = groups.groups;
    out.sort_by(|(ka, a), (kb, b)| b.cost.cmp(&a.cost).then_with(|| ka.cmp(kb)));
    out
}

/// Totals per key. Reports group a million records into a handful of providers or
/// models, where comparing against the few keys seen so far is several times faster than
/// hashing every record's key; past [`Grouper::LINEAR`] keys a hash index takes over.
struct Grouper<K> {
    groups: Vec<(K, Totals)>,
    index: HashMap<K, usize>,
}

impl<K> Default for Grouper<K> {
    fn default() -> Self {
        Grouper {
            groups: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<K: Copy + Eq + std::hash::Hash> Grouper<K> {
    const LINEAR: usize = 16;

    fn entry(&mut self, key: K) -> &mut Totals {
        let found = if self.groups.len() <= Self::LINEAR {
            self.groups.iter().position(|(k, _)| *k == key)
        } else {
            self.index.get(&key).copied()
        };
        let i = match found {
            Some(i) => i,
            None => {
                self.groups.push((key, Totals::default()));
                if self.groups.len() > Self::LINEAR {
                    if self.index.is_empty() {
                        self.index
                            .extend(self.groups.iter().enumerate().map(|(i, (k, _))| (*k, i)));
                    } else {
                        self.index.insert(key, self.groups.len() - 1);
                    }
                }
                self.groups.len() - 1
            }
        };
        &mut self.groups[i].1
    }
}

/// The `n` costliest models, costliest first (ties by provider, then model).
pub fn top_models<'a>(
    records: impl IntoIterator<Item = &'a CostRecord>,
    n: usize,
) -> Vec<ModelGroup> {
    let mut groups = costliest_groups(records, |r| Some((r.provider.as_str(), r.model.as_str())));
    groups.truncate(n);
    groups
        .into_iter()
        .map(|((provider, model), totals)| ModelGroup {
            provider: provider.to_string(),
            model: model.to_string(),
            totals,
        })
        .collect()
}

/// `part` as a percentage of `total`, rounded half away from zero to 2 decimals; 0 when
/// `total` is not positive. A presentation ratio: computed exactly on integers, then
/// converted to `f64` once.
pub fn share_pct(part: Usd, total: Usd) -> f64 {
    if total.nanos() <= 0 {
        return 0.0;
    }
    let hundredths =
        crate::money::round_half_away(i128::from(part.nanos()) * 10_000, i128::from(total.nanos()));
    hundredths as f64 / 100.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::period::next_bucket_start;
    use crate::testing::utc;

    fn rec(ts: &str, provider: &str, model: &str, nanos: i64, tags: &[(&str, &str)]) -> CostRecord {
        CostRecord {
            ts: utc(ts),
            provider: provider.into(),
            model: model.into(),
            cost: Usd::from_nanos(nanos),
            tokens: Tokens {
                input: 100,
                output: 10,
                cached_input: 40,
                cache_write: 5,
                reasoning: 2,
                cache_write_1h: 3,
                input_audio: 7,
                output_audio: 1,
            },
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn sample() -> Vec<CostRecord> {
        vec![
            rec(
                "2024-03-09T23:30:00Z",
                "openai",
                "gpt-4o",
                2_500_000,
                &[("team", "growth")],
            ),
            rec(
                "2024-03-10T01:00:00Z",
                "openai",
                "gpt-4o-mini",
                150_000,
                &[("team", "search")],
            ),
            rec(
                "2024-03-10T06:30:00Z",
                "anthropic",
                "claude-3-haiku",
                1_000_000,
                &[("team", "growth")],
            ),
            rec(
                "2024-03-10T07:15:00Z",
                "anthropic",
                "claude-3-opus",
                2_500_000,
                &[],
            ),
            rec(
                "2024-03-11T12:00:00Z",
                "google",
                "gemini-1.5-flash",
                333,
                &[("team", "search")],
            ),
        ]
    }

    #[test]
    fn summary_counts_every_field() {
        let t = summarize(&sample());
        assert_eq!(t.cost, Usd::from_nanos(6_150_333));
        assert_eq!(t.calls, 5);
        assert_eq!(t.tokens.input, 500);
        assert_eq!(t.tokens.output, 50);
        assert_eq!(t.tokens.cached_input, 200);
        assert_eq!(t.tokens.cache_write, 25);
        assert_eq!(t.tokens.reasoning, 10);
        assert_eq!(t.tokens.cache_write_1h, 15);
        assert_eq!(t.tokens.input_audio, 35);
        assert_eq!(t.tokens.output_audio, 5);
        // 6_150_333 / 5 = 1_230_066.6 → 1_230_067
        assert_eq!(t.avg_cost_per_call(), Usd::from_nanos(1_230_067));
        assert_eq!(Totals::default().avg_cost_per_call(), Usd::ZERO);
        let json = serde_json::to_value(t).unwrap();
        assert_eq!(json["cost_usd"], "0.006150333");
        assert_eq!(json["calls"], 5);
        assert_eq!(json["output_audio_tokens"], 5);
    }

    #[test]
    fn providers_costliest_first_ties_by_name() {
        let groups = by_provider(&sample());
        let keys: Vec<_> = groups
            .iter()
            .map(|g| (g.key.as_str(), g.totals.cost.nanos()))
            .collect();
        // openai and anthropic both spent 3_500_000 / 2_650_000: anthropic 3.5m first.
        assert_eq!(
            keys,
            [
                ("anthropic", 3_500_000),
                ("openai", 2_650_000),
                ("google", 333)
            ]
        );
        let tie = vec![
            rec("2024-01-01T00:00:00Z", "zeta", "m", 5, &[]),
            rec("2024-01-01T00:00:00Z", "alpha", "m", 5, &[]),
        ];
        let keys: Vec<_> = by_provider(&tie).into_iter().map(|g| g.key).collect();
        assert_eq!(keys, ["alpha", "zeta"]);
    }

    #[test]
    fn top_models_are_limited_and_ordered() {
        let top = top_models(&sample(), 3);
        let names: Vec<_> = top.iter().map(|m| m.model.as_str()).collect();
        // gpt-4o and claude-3-opus tie at 2.5m: anthropic sorts first.
        assert_eq!(names, ["claude-3-opus", "gpt-4o", "claude-3-haiku"]);
        assert_eq!(top_models(&sample(), 0), []);
        assert_eq!(top_models(&sample(), 100).len(), 5);
    }

    #[test]
    fn tags_group_by_value() {
        let groups = by_tag(&sample(), "team");
        let got: Vec<_> = groups
            .iter()
            .map(|g| (g.key.as_str(), g.totals.calls))
            .collect();
        assert_eq!(got, [("growth", 2), ("search", 2)]);
        let tagged: Usd = groups.iter().map(|g| g.totals.cost).sum();
        // The untagged claude-3-opus call is the remainder.
        assert_eq!(
            summarize(&sample()).cost.nanos() - tagged.nanos(),
            2_500_000
        );
        assert!(by_tag(&sample(), "absent").is_empty());
    }

    #[test]
    fn many_keys_group_like_few() {
        // 50 values: past the linear scan, the hash index must keep every group intact.
        let records: Vec<CostRecord> = (0..500)
            .map(|i| {
                let value = format!("v{:02}", i % 50);
                rec(
                    "2024-01-01T00:00:00Z",
                    "p",
                    "m",
                    1000 + i64::from(i % 50),
                    &[("k", &value)],
                )
            })
            .collect();
        let groups = by_tag(&records, "k");
        assert_eq!(groups.len(), 50);
        assert!(groups.iter().all(|g| g.totals.calls == 10));
        assert_eq!(groups[0].key, "v49");
        assert_eq!(groups[0].totals.cost, Usd::from_nanos(10_490));
        assert_eq!(groups[49].key, "v00");
    }

    #[test]
    fn buckets_by_day_in_utc_and_new_york() {
        let days = by_bucket(&sample(), Granularity::Day, Zone::UTC);
        let got: Vec<_> = days
            .iter()
            .map(|b| (b.label.as_str(), b.totals.cost.nanos()))
            .collect();
        assert_eq!(
            got,
            [
                ("2024-03-09", 2_500_000),
                ("2024-03-10", 3_650_000),
                ("2024-03-11", 333)
            ]
        );
        // In New York 2024-03-10 starts at 05:00Z: the 01:00Z call is still March 9th.
        let ny = Zone::parse("America/New_York").unwrap();
        let days = by_bucket(&sample(), Granularity::Day, ny);
        let got: Vec<_> = days
            .iter()
            .map(|b| (b.label.as_str(), b.totals.calls))
            .collect();
        assert_eq!(
            got,
            [("2024-03-09", 2), ("2024-03-10", 2), ("2024-03-11", 1)]
        );
        let total: Usd = days.iter().map(|b| b.totals.cost).sum();
        assert_eq!(total, summarize(&sample()).cost);
    }

    #[test]
    fn slots_fold_into_local_buckets() {
        let kolkata = Zone::parse("Asia/Kolkata").unwrap();
        let slot = |s: &str, nanos: i64| Slot {
            start: utc(s),
            totals: Totals {
                cost: Usd::from_nanos(nanos),
                calls: 1,
                ..Totals::default()
            },
        };
        // Half-hour slots: 18:00Z is 23:30 IST on the 15th, 18:30Z is midnight IST.
        let slots = [
            slot("2024-05-15T18:30:00Z", 20),
            slot("2024-05-15T18:00:00Z", 10),
            slot("2024-05-16T18:29:59Z", 1),
            slot("2024-05-15T18:30:00Z", 5),
        ];
        let days = fold_slots(slots, Granularity::Day, kolkata);
        let got: Vec<_> = days
            .iter()
            .map(|b| (b.label.as_str(), b.totals.cost.nanos(), b.totals.calls))
            .collect();
        assert_eq!(got, [("2024-05-15", 10, 1), ("2024-05-16", 26, 3)]);
        assert_eq!(days[1].start, utc("2024-05-15T18:30:00Z"));
    }

    #[test]
    fn gaps_are_filled_with_zero_buckets() {
        let days = by_bucket(&sample(), Granularity::Day, Zone::UTC);
        let filled = fill_gaps(
            days,
            utc("2024-03-08T12:00:00Z"),
            utc("2024-03-13T00:00:00Z"),
            Granularity::Day,
            Zone::UTC,
        );
        let got: Vec<_> = filled
            .iter()
            .map(|b| (b.label.as_str(), b.totals.calls))
            .collect();
        assert_eq!(
            got,
            [
                ("2024-03-08", 0),
                ("2024-03-09", 1),
                ("2024-03-10", 3),
                ("2024-03-11", 1),
                ("2024-03-12", 0)
            ]
        );
        // Hours across the New York spring-forward: 23 hours in the local day.
        let ny = Zone::parse("America/New_York").unwrap();
        let start = utc("2024-03-10T05:00:00Z");
        let end = next_bucket_start(start, Granularity::Day, ny);
        let hours = fill_gaps(Vec::new(), start, end, Granularity::Hour, ny);
        assert_eq!(hours.len(), 23);
        assert_eq!(hours[2].label, "2024-03-10T03:00:00-04:00");
        assert!(fill_gaps(Vec::new(), end, start, Granularity::Day, ny).is_empty());
    }

    #[test]
    fn shares_round_to_two_decimals() {
        assert_eq!(share_pct(Usd::from_nanos(1), Usd::from_nanos(3)), 33.33);
        assert_eq!(share_pct(Usd::from_nanos(2), Usd::from_nanos(3)), 66.67);
        assert_eq!(share_pct(Usd::from_nanos(5), Usd::from_nanos(5)), 100.0);
        assert_eq!(share_pct(Usd::from_nanos(1), Usd::from_nanos(80_000)), 0.0);
        assert_eq!(share_pct(Usd::from_nanos(1), Usd::from_nanos(20_000)), 0.01);
        assert_eq!(share_pct(Usd::from_nanos(5), Usd::ZERO), 0.0);
    }
}
