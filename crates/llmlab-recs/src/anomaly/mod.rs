//! Anomalies: days whose spend is far above what the days before them predict, once the
//! weekly pattern is taken out, with the models, providers and tags that drove the
//! difference.
//!
//! # How a day is judged
//!
//! - **Weekday profile** (`seasonal.rs`). Each day's spend is divided by the mean of the
//!   seven days around it (centred where the series allows, shifted inside it at its
//!   ends): any seven consecutive days hold each weekday once, so this ratio is the
//!   weekday's factor times noise, whatever the level or trend. A weekday's factor is the
//!   median of its ratios over the **whole series** (days before and after the judged
//!   one), normalised so the seven average 1. The judged day is left out, so a spike
//!   does not make its own weekday look busy, and so is each baseline day from its own
//!   factor, so the baseline is not divided by its own noise. A weekday needs
//!   [`AnomalyConfig::min_seasonal_weeks`] such days (default 1). The profile is used
//!   only when the weekdays differ more than chance would have them (one-way analysis of
//!   variance of the ratios by weekday, p < 1 %); otherwise every factor is 1.
//! - **Baseline.** Each of the last [`AnomalyConfig::days`] days is compared with the up to
//!   [`AnomalyConfig::baseline_days`] days *before* it, each divided by its factor. Days
//!   before the first day with any spend are not history; with fewer than
//!   [`AnomalyConfig::min_baseline_days`] baseline days the day is not judged. Weekdays
//!   whose factor is below 0.1 (days that normally spend nothing) are left out of it.
//! - **Expectation.** A straight line through the deseasonalised baseline (least squares
//!   for [`Method::ZScore`]; for [`Method::Robust`] the Theil–Sen slope, the median
//!   intercept and 1.4826 × the median absolute residual, so one earlier spike does not
//!   hide the next), extended to the judged day and multiplied by its factor. A trend is
//!   followed instead of lagged behind. The spread is the residual spread widened as a
//!   prediction interval (the line's own uncertainty) and for the judged day's factor
//!   being an estimate (`√(1 + π/2 / m)` for a median of `m` ratios).
//! - **Score.** `(cost − expectation) / spread` has a Student t distribution with
//!   `n − 2` degrees of freedom for `n` baseline days; it is converted to the normal score
//!   with the same tail probability, so a threshold means the same with 7 or 28 baseline
//!   days. The spread is at least 5 % of the expectation (`MIN_RELATIVE_SPREAD`), so a
//!   perfectly flat baseline still has one: a fivefold day after weeks of the same spend
//!   is `high`, and a nearly flat one does not make a rise of a few percent an anomaly.
//!   Scores are rounded to 2 decimals and only finite numbers are emitted; a day expected
//!   to spend nothing (spread below a nano-dollar) is not reported.
//! - **Only increases.** A day is reported when its score is at or above
//!   [`AnomalyConfig::threshold`]; a drop in spend is not a cost anomaly. **Severity**:
//!   `low` from the threshold, `medium` from [`AnomalyConfig::medium`], `high` from
//!   [`AnomalyConfig::high`].
//! - **Shown, not decisive:** `seasonal_z_score`, the day against the other days of its
//!   weekday in the series as they were (over weeks of trend it drifts).
//!
//! Backtests (`tests/it/backtest.rs`: weekly profile, trend, 10–20 % noise) flag under
//! 0.5 % of the clean days at every history length from 14 days, and find 3× spikes on
//! every weekday, busy Mondays and quiet weekends included.
//!
//! # Limits
//!
//! - Only a weekly pattern is removed: monthly cycles, holidays and one-off events are
//!   judged as they come.
//! - In the first weeks a factor rests on one or two days; its uncertainty widens the
//!   spread, so spikes must be larger to count then. With a single week of spend there
//!   is no profile.
//! - A change that lasts (a new steady level) is reported for its first days, until the
//!   baseline absorbs it; a gradual ramp is followed by the line. Decreases are never
//!   anomalies.
//! - Short baselines are judged cautiously: with 14 days of non-seasonal history a 20
//!   after days of 10 and 12 scores 4.4 (the plain z-score would be 8.7).
//!
//! # Attribution
//!
//! For each reported day, every dimension value in the breakdown (each model, each
//! provider, each tag value) is compared with what it was expected to spend that day:
//! its mean over the same baseline days, each divided by the day's factor, times the
//! judged day's factor (without a weekly pattern, its plain mean, exactly; days without
//! rows count as zero spend; rounded to a nano-dollar). `excess = cost that day −
//! that expectation`; values with a positive excess are the drivers, and `share_pct` is
//! their part of the total positive excess *within their group* (models together,
//! providers together, the values of one tag key together), with 2 decimals. Drivers
//! are compared with means, not lines, so their excesses need not add up to the day's.
//! A caller that breaks out only some values of a key (a key can have more values than
//! are worth a series each) passes the rest as [`Dimension::OtherTagValues`], one more
//! value of that key, so the key's shares still divide all of its excess.

use chrono::NaiveDate;
use llmlab_engine::Usd;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use statrs::statistics::{Data, OrderStatistics, Statistics};

use crate::error::RecsError;
use crate::series::{DailyBreakdown, DailyCost, Dimension, fill_days};

mod attribution;
mod baseline;
mod seasonal;

use attribution::Attribution;

/// A spread below one nano-dollar is no spread: money has no finer resolution.
const MIN_SPREAD_USD: f64 = 1e-9;

/// The least spread a day is judged against, as a share of what it was expected to
/// spend: spend is never taken to be more regular than ±5 %. Without it a perfectly
/// flat history (a scheduled job spending the same every day) has no spread and hides
/// any spike, and a nearly flat one makes a rise of a few percent "high". Real
/// histories spread wider (the backtests' 10–20 % noise), so it rarely binds.
const MIN_RELATIVE_SPREAD: f64 = 0.05;

/// Scales a median absolute deviation to estimate the standard deviation of normal data.
const MAD_SCALE: f64 = 1.4826;

/// How a day's score is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Mean and sample standard deviation of the baseline.
    #[default]
    ZScore,
    /// Median and scaled median absolute deviation of the baseline: one earlier spike in
    /// the window does not mask the next.
    Robust,
}

/// How far above its baseline a day's spend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// At or above the reporting threshold.
    Low,
    /// At or above [`AnomalyConfig::medium`].
    Medium,
    /// At or above [`AnomalyConfig::high`].
    High,
}

/// What counts as an anomaly. Check with [`AnomalyConfig::validate`] (the detection
/// functions do). Start from `default()` and set the fields to change (a later release
/// may add a setting):
///
/// ```
/// let mut config = llmlab_recs::AnomalyConfig::default();
/// config.days = 14;
/// config.threshold = 3.0;
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AnomalyConfig {
    /// How many of the most recent days are judged (the API's `days`, default 30).
    pub days: u32,
    /// Report days whose score is at or above this (the API's `threshold`, default 2.5).
    pub threshold: f64,
    /// Score from which a day is `medium` (default 3.5).
    pub medium: f64,
    /// Score from which a day is `high` (default 5.0).
    pub high: f64,
    /// Mean/standard deviation or median/MAD (default [`Method::ZScore`]).
    pub method: Method,
    /// Trailing days a day is compared with (default 28).
    pub baseline_days: u32,
    /// Fewer baseline days than this and the day is not judged (default 7).
    pub min_baseline_days: u32,
    /// Weeks of history, before the judged days, that [`AnomalyConfig::history_days`]
    /// asks for so the weekday profile has enough of each weekday (default 8; 0 turns
    /// the weekday profile off). The profile uses the whole series passed.
    pub seasonal_weeks: u32,
    /// Days of a weekday (besides the one being judged or deseasonalised) needed for its
    /// factor (default 1); with fewer, no profile is used.
    pub min_seasonal_weeks: u32,
    /// Drivers kept per group (models, providers, each tag key) (default 5).
    pub max_drivers: usize,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            days: 30,
            threshold: 2.5,
            medium: 3.5,
            high: 5.0,
            method: Method::ZScore,
            baseline_days: 28,
            min_baseline_days: 7,
            seasonal_weeks: 8,
            min_seasonal_weeks: 1,
            max_drivers: 5,
        }
    }
}

impl AnomalyConfig {
    /// Rejects values the detection cannot use, naming the field.
    pub fn validate(&self) -> Result<(), RecsError> {
        let positive = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(RecsError::config(field, "must be a positive number"))
            }
        };
        positive("threshold", self.threshold)?;
        positive("medium", self.medium)?;
        positive("high", self.high)?;
        if self.medium > self.high {
            return Err(RecsError::config("medium", "must not be above `high`"));
        }
        if self.days == 0 {
            return Err(RecsError::config("days", "must be at least 1"));
        }
        if self.baseline_days < 2 {
            return Err(RecsError::config("baseline_days", "must be at least 2"));
        }
        if self.min_baseline_days < 2 || self.min_baseline_days > self.baseline_days {
            return Err(RecsError::config(
                "min_baseline_days",
                "must be between 2 and `baseline_days`",
            ));
        }
        if self.seasonal_weeks > 0
            && (self.min_seasonal_weeks < 1 || self.min_seasonal_weeks > self.seasonal_weeks)
        {
            return Err(RecsError::config(
                "min_seasonal_weeks",
                "must be between 1 and `seasonal_weeks`",
            ));
        }
        Ok(())
    }

    /// How many days of history (ending with the last judged day) the series should hold
    /// so that every judged day has its full baseline and seasonal history:
    /// `days + max(baseline_days, 7 × seasonal_weeks)`.
    pub fn history_days(&self) -> u32 {
        let lookback = self
            .baseline_days
            .max(self.seasonal_weeks.saturating_mul(7));
        self.days.saturating_add(lookback)
    }

    fn severity(&self, score: f64) -> Severity {
        if score >= self.high {
            Severity::High
        } else if score >= self.medium {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

/// One day flagged as abnormal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    /// The day.
    pub date: NaiveDate,
    /// What the day cost.
    #[serde(rename = "cost_usd")]
    pub cost: Usd,
    /// The expected spend that day: the baseline's line extended to it, times its
    /// weekday factor, rounded to a nano-dollar.
    #[serde(rename = "mean_usd")]
    pub mean: Usd,
    /// The spread of that expectation (residual standard deviation, or scaled MAD for
    /// [`Method::Robust`], widened as a prediction interval), rounded to a nano-dollar.
    #[serde(rename = "stddev_usd")]
    pub stddev: Usd,
    /// `cost − mean`.
    #[serde(rename = "excess_usd")]
    pub excess: Usd,
    /// The score against the expectation, on the normal scale, 2 decimals: what is
    /// compared with the threshold.
    pub z_score: f64,
    /// Shown, not decisive: the score against the other days of the same weekday in the
    /// series, 2 decimals; `None` with fewer than two of them.
    pub seasonal_z_score: Option<f64>,
    /// How abnormal.
    pub severity: Severity,
    /// How the scores were computed.
    pub method: Method,
    /// Days in the baseline (normally spend-free weekdays left out).
    pub baseline_days: u32,
    /// What drove the excess, per group, largest first.
    pub drivers: Vec<Driver>,
}

/// A dimension value whose spend on an anomalous day was above its own baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    /// The model, provider or tag value.
    pub dimension: Dimension,
    /// Its spend on the day.
    pub cost: Usd,
    /// What it was expected to spend that day (its deseasonalised mean over the
    /// baseline days times the day's factor), rounded to a nano-dollar.
    pub baseline: Usd,
    /// `cost − baseline` (positive).
    pub excess: Usd,
    /// Its part of its group's total positive excess, in percent, 2 decimals.
    pub share_pct: f64,
}

impl Serialize for Driver {
    /// The dimension's fields (see [`Dimension`]) followed by `cost_usd`, `baseline_usd`,
    /// `excess_usd` and `share_pct`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.dimension.write_fields(&mut map)?;
        map.serialize_entry("cost_usd", &self.cost)?;
        map.serialize_entry("baseline_usd", &self.baseline)?;
        map.serialize_entry("excess_usd", &self.excess)?;
        map.serialize_entry("share_pct", &self.share_pct)?;
        map.end()
    }
}

/// Centre and spread of a sample by `method`; `None` for fewer than two values or a
/// non-finite result.
fn center_spread(values: &[f64], method: Method) -> Option<(f64, f64)> {
    if values.len() < 2 {
        return None;
    }
    let (center, spread) = match method {
        Method::ZScore => (values.iter().mean(), values.iter().std_dev()),
        Method::Robust => {
            let median = Data::new(values.to_vec()).median();
            let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
            (median, Data::new(deviations).median() * MAD_SCALE)
        }
    };
    (center.is_finite() && spread.is_finite()).then_some((center, spread))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Finds the anomalous days among the last [`AnomalyConfig::days`] days of `series`, with
/// drivers from `breakdown` (pass an empty slice to skip attribution). See the
/// [module documentation](self) for the method.
///
/// `series` need not be sorted or complete: days are ordered, missing days between the
/// first and the last one count as zero spend, and repeated days are added. Pass
/// [`AnomalyConfig::history_days`] days ending with the last day to judge — complete days
/// only, since a partial day only looks low. The result is in date order.
pub fn detect_anomalies(
    series: &[DailyCost],
    breakdown: &[DailyBreakdown],
    config: &AnomalyConfig,
) -> Result<Vec<Anomaly>, RecsError> {
    config.validate()?;
    let (Some(start), Some(end)) = (
        series.iter().map(|d| d.date).min(),
        series.iter().map(|d| d.date).max(),
    ) else {
        return Ok(Vec::new());
    };
    let days = fill_days(start, end, series.iter().copied());
    let Some(first) = days.iter().position(|d| d.cost != Usd::ZERO) else {
        return Ok(Vec::new());
    };
    let values: Vec<f64> = days.iter().map(|d| d.cost.to_f64()).collect();
    let ratios = if config.seasonal_weeks > 0 {
        seasonal::weekly_ratios(&values, first)
    } else {
        Vec::new()
    };
    let judged_from = days.len().saturating_sub(config.days as usize).max(first);
    let mut attribution: Option<Attribution<'_>> = None;
    let mut out = Vec::new();
    for i in judged_from..days.len() {
        let lo = i.saturating_sub(config.baseline_days as usize).max(first);
        if i - lo < config.min_baseline_days as usize {
            continue;
        }
        // The profile leaves the judged day out, so a spike does not make its own
        // weekday look busy.
        let profile = seasonal::Profile::estimate(&ratios, i, config.min_seasonal_weeks as usize);
        // Each day with its factor (1 without a weekly pattern); days whose weekday
        // normally spends nothing, or whose factor cannot be estimated, are left out.
        let factor = |j: usize| profile.as_ref().map_or(Some(1.0), |p| p.factor(j));
        let Some(f) = factor(i) else {
            continue;
        };
        let f = f.max(seasonal::MIN_FACTOR);
        let baseline: Vec<(usize, f64)> = (lo..i)
            .filter_map(|j| Some((j, factor(j)?)))
            .filter(|&(_, f)| f >= seasonal::MIN_FACTOR)
            .collect();
        let points: Vec<(f64, f64)> = baseline
            .iter()
            .map(|&(j, f)| (j as f64 - i as f64, values[j] / f))
            .collect();
        let Some(pred) = baseline::predict(&points, config.method) else {
            continue;
        };
        let widening = profile.as_ref().map_or(1.0, |p| p.widening(i));
        let expected = pred.center * f;
        let expected_spread = (pred.spread * f * widening).max(MIN_RELATIVE_SPREAD * expected);
        if expected_spread < MIN_SPREAD_USD {
            continue;
        }
        let x = values[i];
        let z = round2(baseline::calibrate(
            (x - expected) / expected_spread,
            pred.df,
        ));
        if !z.is_finite() || z < config.threshold {
            continue;
        }
        let (Some(mean), Some(stddev)) = (
            Usd::from_f64_rounded(expected),
            Usd::from_f64_rounded(expected_spread),
        ) else {
            continue;
        };
        let cost = days[i].cost;
        let drivers = attribution
            .get_or_insert_with(|| Attribution::new(start, days.len(), breakdown))
            .drivers(
                i,
                &baseline,
                profile.is_some().then_some(f),
                config.max_drivers,
            );
        out.push(Anomaly {
            date: days[i].date,
            cost,
            mean,
            stddev,
            excess: cost.saturating_sub(mean),
            z_score: z,
            seasonal_z_score: same_weekday_score(&values, first, i, config.method, expected_spread),
            severity: config.severity(z),
            method: config.method,
            baseline_days: u32::try_from(baseline.len()).unwrap_or(u32::MAX),
            drivers,
        });
    }
    Ok(out)
}

/// Day `i` against the other days of its weekday in the series (before and after it,
/// as they were), with at least `spread_floor` as the spread: `None` with fewer than
/// two of them. Shown, not used for the decision: over weeks of trend it drifts.
fn same_weekday_score(
    values: &[f64],
    first: usize,
    i: usize,
    method: Method,
    spread_floor: f64,
) -> Option<f64> {
    let same: Vec<f64> = (first..values.len())
        .filter(|&j| j != i && j % 7 == i % 7)
        .map(|j| values[j])
        .collect();
    let (center, spread) = center_spread(&same, method)?;
    let z = round2((values[i] - center) / spread.max(spread_floor));
    z.is_finite().then_some(z)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{Datelike, Weekday};

    use super::*;

    fn dollars(x: f64) -> Usd {
        Usd::from_f64_rounded(x).unwrap()
    }

    /// Day 0 is Monday 2025-01-06.
    fn day(i: usize) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 6).unwrap() + chrono::Days::new(i as u64)
    }

    fn series(values: &[f64]) -> Vec<DailyCost> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| DailyCost::new(day(i), dollars(*v)))
            .collect()
    }

    /// 14 days alternating 10 and 12, then `last`.
    fn alternating_then(last: f64) -> Vec<f64> {
        let mut v: Vec<f64> = (0..14)
            .map(|i| if i % 2 == 0 { 10.0 } else { 12.0 })
            .collect();
        v.push(last);
        v
    }

    fn assert_no_nan(anomalies: &[Anomaly]) {
        for a in anomalies {
            assert!(a.z_score.is_finite());
            assert!(a.seasonal_z_score.is_none_or(f64::is_finite));
            for d in &a.drivers {
                assert!(d.share_pct.is_finite());
            }
        }
    }

    /// Eight weeks and more where every Monday has 4× the spend of the other days.
    fn busy_mondays(weeks: usize) -> Vec<f64> {
        (0..weeks * 7)
            .map(|i| match (i % 7, i % 2) {
                (0, _) => 40.0,
                (_, 0) => 9.0,
                _ => 11.0,
            })
            .collect()
    }

    // Seen: `?days=60&threshold=2.0` over eight weeks of busy Mondays flagged the first
    // three Mondays of the window, judged against the quiet days before them only.
    #[test]
    fn a_weekly_pattern_is_not_an_anomaly() {
        let config = AnomalyConfig {
            days: 60,
            threshold: 2.0,
            ..AnomalyConfig::default()
        };
        // No Monday is flagged, even at 2.0 (an ordinary day may be: at 2.0 about 2 % of
        // days are by chance); at the default threshold nothing is.
        let found = detect_anomalies(&series(&busy_mondays(9)), &[], &config).unwrap();
        assert!(
            found.iter().all(|a| a.date.weekday() != Weekday::Mon),
            "{found:?}"
        );
        let default = AnomalyConfig {
            days: 60,
            ..AnomalyConfig::default()
        };
        let found = detect_anomalies(&series(&busy_mondays(9)), &[], &default).unwrap();
        assert!(found.is_empty(), "{found:?}");
        // A Monday far above the other Mondays still is one, early in the window too.
        let mut values = busy_mondays(9);
        values[14] = 200.0;
        let found = detect_anomalies(&series(&values), &[], &config).unwrap();
        assert_eq!(found.iter().map(|a| a.date).collect::<Vec<_>>(), [day(14)]);
        assert!(found[0].seasonal_z_score.is_some_and(|z| z > 2.0));
    }

    #[test]
    fn planted_spike_has_the_hand_computed_score() {
        // Baseline: 14 days alternating 10 and 12 → mean 11, every deviation is ±1, so the
        // sample variance is 14 × 1² / 13 = 1.076923… and the stddev 1.0377490433…
        // (Changed with the method, was mean 11, stddev 1.0377, z 8.67, high.) The weekdays
        // do not differ (each holds one 10 and one 12): no profile. The least-squares line
        // through days 0..14 predicts 11.2308 for day 14 (the alternation ends on a 12);
        // residual spread widened as a prediction interval: 1.2308. t = 8.7692/1.2308 =
        // 7.12 with 12 degrees of freedom → 4.38 on the normal scale: medium.
        let found = detect_anomalies(
            &series(&alternating_then(20.0)),
            &[],
            &AnomalyConfig::default(),
        )
        .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(a.date, day(14));
        assert_eq!(a.cost, Usd::from_dollars(20).unwrap());
        assert_eq!(a.mean, Usd::from_nanos(11_230_769_231));
        assert_eq!(a.stddev, Usd::from_nanos(1_230_769_231));
        assert_eq!(a.excess, Usd::from_nanos(8_769_230_769));
        assert_eq!(a.z_score, 4.38);
        assert_eq!(a.seasonal_z_score, Some(6.36));
        assert_eq!(a.severity, Severity::Medium);
        assert_eq!(a.method, Method::ZScore);
        assert_eq!(a.baseline_days, 14);
    }

    #[test]
    fn severity_follows_the_configured_ladder() {
        // Expectation 11.2308, spread 1.2308 (see above); t → normal scale: 15 scores 2.58
        // (low), 18 scores 3.81 (medium). (Changed with the method: were 13.7 and 15.)
        let cfg = AnomalyConfig::default();
        let low = detect_anomalies(&series(&alternating_then(15.0)), &[], &cfg).unwrap();
        assert_eq!((low[0].z_score, low[0].severity), (2.58, Severity::Low));
        let medium = detect_anomalies(&series(&alternating_then(18.0)), &[], &cfg).unwrap();
        assert_eq!(
            (medium[0].z_score, medium[0].severity),
            (3.81, Severity::Medium)
        );
        // Below the threshold: 13.
        assert!(
            detect_anomalies(&series(&alternating_then(13.0)), &[], &cfg)
                .unwrap()
                .is_empty()
        );
        // A raised threshold hides the low one.
        let strict = AnomalyConfig {
            threshold: 3.0,
            ..cfg
        };
        assert!(
            detect_anomalies(&series(&alternating_then(15.0)), &[], &strict)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn drops_are_not_anomalies() {
        let found = detect_anomalies(
            &series(&alternating_then(0.5)),
            &[],
            &AnomalyConfig::default(),
        )
        .unwrap();
        assert!(found.is_empty());
    }

    #[test]
    fn flat_series_report_nothing() {
        let cfg = AnomalyConfig::default();
        let flat = vec![10.0; 40];
        assert!(
            detect_anomalies(&series(&flat), &[], &cfg)
                .unwrap()
                .is_empty()
        );
        // All zero, and empty.
        assert!(
            detect_anomalies(&series(&[0.0; 30]), &[], &cfg)
                .unwrap()
                .is_empty()
        );
        assert!(detect_anomalies(&[], &[], &cfg).unwrap().is_empty());
    }

    #[test]
    fn a_spike_after_a_perfectly_flat_baseline_is_found() {
        // A scheduled job spending the same every day has no spread; the spread floor
        // (5 % of the expectation) still judges a fivefold day: t = 40 / 0.5 = 80.
        let mut spiked = vec![10.0; 20];
        spiked.push(50.0);
        for method in [Method::ZScore, Method::Robust] {
            let cfg = AnomalyConfig {
                method,
                ..AnomalyConfig::default()
            };
            let found = detect_anomalies(&series(&spiked), &[], &cfg).unwrap();
            assert_eq!(found.len(), 1, "{method:?}");
            assert_eq!(found[0].date, day(20));
            assert_eq!(found[0].severity, Severity::High);
            assert_eq!(found[0].stddev, dollars(0.5));
        }
    }

    #[test]
    fn a_nearly_flat_baseline_does_not_make_a_small_rise_an_anomaly() {
        // Days within ±0.5 % of $10 have a spread of about 3 cents, which would score a
        // day 8 % up above 20. Against the floor (50 cents) it scores 1.6: nothing.
        let mut days: Vec<f64> = (0..20)
            .map(|i| if i % 2 == 0 { 9.95 } else { 10.05 })
            .collect();
        days.push(10.8);
        let found = detect_anomalies(&series(&days), &[], &AnomalyConfig::default()).unwrap();
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn short_series_report_nothing() {
        let cfg = AnomalyConfig::default();
        // Six baseline days < min_baseline_days (7).
        let short = [10.0, 12.0, 10.0, 12.0, 10.0, 12.0, 90.0];
        assert!(
            detect_anomalies(&series(&short), &[], &cfg)
                .unwrap()
                .is_empty()
        );
        // Leading zero-spend days are not history: 20 zeros, then the same six days.
        let mut padded = vec![0.0; 20];
        padded.extend(short);
        assert!(
            detect_anomalies(&series(&padded), &[], &cfg)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn only_the_last_days_are_judged() {
        let mut v = alternating_then(20.0);
        v.extend([10.0, 12.0, 10.0]);
        let cfg = AnomalyConfig {
            days: 3,
            ..AnomalyConfig::default()
        };
        assert!(detect_anomalies(&series(&v), &[], &cfg).unwrap().is_empty());
        let cfg = AnomalyConfig { days: 4, ..cfg };
        assert_eq!(detect_anomalies(&series(&v), &[], &cfg).unwrap().len(), 1);
    }

    /// `weeks` weeks from a Monday: Mondays cost 50, other days 10.
    fn weekly(weeks: usize) -> Vec<f64> {
        (0..weeks * 7)
            .map(|i| if i % 7 == 0 { 50.0 } else { 10.0 })
            .collect()
    }

    #[test]
    fn busy_mondays_are_not_anomalies() {
        assert_eq!(day(0).weekday(), Weekday::Mon);
        // Without the profile: one high day in seven scores about 2.3 against a 28-day
        // window, below the default 2.5; at a threshold of 2.0 the plain score flags every
        // Monday. On day 28 the window holds four Mondays of 50 and 24 days of 10: mean
        // 440/28 = 15.714, and the t score 2.41 becomes 2.32 on the normal scale (changed
        // with the method: was 2.41). With the profile, Mondays are expected at 50.
        // Eight weeks and a Monday; the last 30 days (27..57) are judged, and each of their
        // Mondays (28, 35, …, 56) has at least four earlier Mondays.
        let mut v = weekly(8);
        v.push(50.0);
        let cfg = AnomalyConfig {
            threshold: 2.0,
            ..AnomalyConfig::default()
        };
        let found = detect_anomalies(&series(&v), &[], &cfg).unwrap();
        assert!(found.is_empty(), "{found:?}");
        // Without the seasonal check each of those Mondays is flagged.
        let plain = AnomalyConfig {
            seasonal_weeks: 0,
            ..cfg
        };
        let flagged = detect_anomalies(&series(&v), &[], &plain).unwrap();
        let scores: Vec<(NaiveDate, f64)> = flagged.iter().map(|a| (a.date, a.z_score)).collect();
        assert_eq!(
            scores,
            [
                (day(28), 2.32),
                (day(35), 2.32),
                (day(42), 2.32),
                (day(49), 2.32),
                (day(56), 2.32)
            ]
        );
        // In the first weeks too: the profile comes from the whole window (changed: the old
        // method flagged days 7, 14 and 21 here, with too few earlier Mondays).
        let early = detect_anomalies(&series(&weekly(4)), &[], &cfg).unwrap();
        assert!(early.is_empty(), "{early:?}");
    }

    #[test]
    fn a_spike_on_a_quiet_wednesday_is_an_anomaly() {
        // Day 44 is a Wednesday costing 100 amid busy Mondays (40) and ordinary days of 9
        // and 11. Its expectation is an ordinary day's, not the week's average.
        let mut v = busy_mondays(6);
        v.extend([40.0, 9.0, 100.0]); // days 42 (an ordinary Monday), 43, 44
        let found = detect_anomalies(&series(&v), &[], &AnomalyConfig::default()).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(a.date, day(44));
        assert_eq!(a.date.weekday(), Weekday::Wed);
        assert_eq!(a.severity, Severity::High);
        assert!(a.mean < dollars(12.0), "{a:?}");
        assert!(a.seasonal_z_score.is_some_and(|z| z > 5.0), "{a:?}");
    }

    #[test]
    fn robust_method_sees_through_an_earlier_spike() {
        // Days 0..20 alternate 10 and 12, except day 10 which costs 100; day 20 costs 30.
        let mut v: Vec<f64> = (0..20)
            .map(|i| if i % 2 == 0 { 10.0 } else { 12.0 })
            .collect();
        v[10] = 100.0;
        v.push(30.0);
        // Mean/stddev: the 100 inflates the baseline of day 20: mean 15.5, stddev
        // √(7535/19) = 19.91, z = 14.5/19.91 = 0.73: only day 10 is found.
        let plain = detect_anomalies(&series(&v), &[], &AnomalyConfig::default()).unwrap();
        assert_eq!(plain.iter().map(|a| a.date).collect::<Vec<_>>(), [day(10)]);
        // Median/MAD: sorted baseline 9 × 10, 10 × 12, 100 → median 12; absolute
        // deviations 10 × 0, 9 × 2, 88 → MAD 1; the Theil–Sen line and the prediction
        // widening give a spread of 1.6348 and t = 18/1.6348 = 11.0 → 6.0 on the normal
        // scale (changed with the method: was 12.14 against median and scaled MAD).
        let cfg = AnomalyConfig {
            method: Method::Robust,
            ..AnomalyConfig::default()
        };
        let robust = detect_anomalies(&series(&v), &[], &cfg).unwrap();
        let last = robust.last().unwrap();
        assert_eq!(last.date, day(20));
        assert_eq!(last.method, Method::Robust);
        assert_eq!(last.mean, Usd::from_dollars(12).unwrap());
        assert_eq!(last.stddev, Usd::from_nanos(1_634_756_923));
        assert_eq!(last.z_score, 6.0);
        assert_eq!(last.severity, Severity::High);
        assert!(robust.iter().any(|a| a.date == day(10)));
    }

    fn breakdown_for(days: &[(f64, f64)]) -> Vec<DailyBreakdown> {
        // Model a = openai/gpt-4o tagged team:search, model b = anthropic/claude tagged team:chat.
        let mut rows = Vec::new();
        for (i, &(a, b)) in days.iter().enumerate() {
            for (cost, model, provider, team) in [
                (a, "gpt-4o", "openai", "search"),
                (b, "claude", "anthropic", "chat"),
            ] {
                if cost > 0.0 {
                    rows.push(DailyBreakdown::new(
                        day(i),
                        Dimension::model(provider, model),
                        dollars(cost),
                    ));
                    rows.push(DailyBreakdown::new(
                        day(i),
                        Dimension::provider(provider),
                        dollars(cost),
                    ));
                    rows.push(DailyBreakdown::new(
                        day(i),
                        Dimension::tag("team", team),
                        dollars(cost),
                    ));
                }
            }
        }
        rows
    }

    /// The anomalies found when gpt-4o alternates 10/12 for 14 days (mean 11) and claude
    /// is absent, then on day 14 they cost `day14`.
    fn after_split(day14: (f64, f64), cfg: &AnomalyConfig) -> Vec<Anomaly> {
        let mut split: Vec<(f64, f64)> = (0..14)
            .map(|i| (if i % 2 == 0 { 10.0 } else { 12.0 }, 0.0))
            .collect();
        split.push(day14);
        let total: Vec<f64> = split.iter().map(|(a, b)| a + b).collect();
        detect_anomalies(&series(&total), &breakdown_for(&split), cfg).unwrap()
    }

    #[test]
    fn attribution_names_the_planted_model() {
        // gpt-4o costs 11 on day 14, its mean; claude appears only on day 14 with 9: it
        // carries all of the excess.
        let found = after_split((11.0, 9.0), &AnomalyConfig::default());
        assert_eq!(found.len(), 1);
        let d = &found[0].drivers;
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(d[0].dimension, Dimension::model("anthropic", "claude"));
        assert_eq!(d[0].cost, Usd::from_dollars(9).unwrap());
        assert_eq!(d[0].baseline, Usd::ZERO);
        assert_eq!(d[0].excess, Usd::from_dollars(9).unwrap());
        assert_eq!(d[0].share_pct, 100.0);
        assert_eq!(d[1].dimension, Dimension::provider("anthropic"));
        assert_eq!(d[2].dimension, Dimension::tag("team", "chat"));
        assert!(d.iter().all(|x| x.share_pct == 100.0));
    }

    #[test]
    fn attribution_splits_shared_excess() {
        // Day 14: gpt-4o 14 (mean 11 → excess 3), claude 6 (mean 0 → excess 6):
        // shares 3/9 = 33.33 % and 6/9 = 66.67 %.
        let found = after_split((14.0, 6.0), &AnomalyConfig::default());
        let models: Vec<(String, i64, f64)> = found[0]
            .drivers
            .iter()
            .filter(|d| d.dimension.kind() == "model")
            .map(|d| (d.dimension.label(), d.excess.nanos(), d.share_pct))
            .collect();
        assert_eq!(
            models,
            [
                ("anthropic/claude".to_string(), 6_000_000_000, 66.67),
                ("openai/gpt-4o".to_string(), 3_000_000_000, 33.33),
            ]
        );
        // The model excesses add up to the day's cost over the sum of their means (20 − 11);
        // the day's own excess is over the trend line's prediction (changed: was equal).
        let sum: i64 = models.iter().map(|m| m.1).sum();
        assert_eq!(Usd::from_nanos(sum), Usd::from_dollars(9).unwrap());
        // max_drivers keeps the largest per group.
        let cfg = AnomalyConfig {
            max_drivers: 1,
            ..AnomalyConfig::default()
        };
        let found = after_split((14.0, 6.0), &cfg);
        assert_eq!(found[0].drivers.len(), 3);
        assert_eq!(found[0].drivers[0].share_pct, 66.67);
    }

    #[test]
    fn never_emits_non_finite_numbers() {
        let shapes: Vec<Vec<f64>> = vec![
            vec![0.0, 0.0, 1e-9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0],
            (0..60).map(|i| ((i * 7919) % 13) as f64 * 1e6).collect(),
            (0..60)
                .map(|i| if i % 5 == 0 { 1e-9 } else { 0.0 })
                .collect(),
            (0..60)
                .map(|i| if i == 59 { 9e9 } else { (i % 3) as f64 })
                .collect(),
        ];
        for method in [Method::ZScore, Method::Robust] {
            let cfg = AnomalyConfig {
                method,
                threshold: 0.01,
                days: 60,
                ..AnomalyConfig::default()
            };
            for s in &shapes {
                let found = detect_anomalies(&series(s), &[], &cfg).unwrap();
                assert_no_nan(&found);
            }
        }
    }

    #[test]
    fn config_is_validated() {
        let ok = AnomalyConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.history_days(), 30 + 56);
        for (bad, field) in [
            (
                AnomalyConfig {
                    threshold: f64::NAN,
                    ..ok
                },
                "threshold",
            ),
            (
                AnomalyConfig {
                    threshold: 0.0,
                    ..ok
                },
                "threshold",
            ),
            (
                AnomalyConfig {
                    threshold: f64::INFINITY,
                    ..ok
                },
                "threshold",
            ),
            (AnomalyConfig { medium: 6.0, ..ok }, "medium"),
            (AnomalyConfig { days: 0, ..ok }, "days"),
            (
                AnomalyConfig {
                    min_baseline_days: 40,
                    ..ok
                },
                "min_baseline_days",
            ),
            (
                AnomalyConfig {
                    min_seasonal_weeks: 0,
                    ..ok
                },
                "min_seasonal_weeks",
            ),
        ] {
            match detect_anomalies(&[], &[], &bad) {
                Err(RecsError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
