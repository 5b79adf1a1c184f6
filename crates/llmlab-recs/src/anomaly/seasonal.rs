//! The weekday profile of a daily series: how much each weekday spends relative to the
//! week around it, estimated from the whole series except the day being judged.

use statrs::distribution::{ContinuousCDF, FisherSnedecor};
use statrs::statistics::{Data, OrderStatistics};

use super::MIN_SPREAD_USD;

/// A weekday whose factor is below this has (almost) no spend as a rule: it tells nothing
/// about the level, so it is left out of the baseline, and spend on it is judged as if
/// the weekday spent this much.
pub(super) const MIN_FACTOR: f64 = 0.1;

/// The weekly differences must be this unlikely under "all weekdays alike" before they
/// are removed: estimating seven factors from noise would only add noise.
const SIGNIFICANCE: f64 = 0.01;

/// Each day's spend over the mean spend of the seven days around it (`None` before the
/// first day with spend, or where that week spent nothing). Any seven consecutive days
/// hold each weekday once, so the ratio is the weekday's factor times noise, whatever
/// the level or trend. Windows are centred where the series allows and shifted inside it
/// at its ends; with fewer than seven days of history there are no ratios.
pub(super) fn weekly_ratios(values: &[f64], first: usize) -> Vec<Option<f64>> {
    let n = values.len();
    let mut out = vec![None; n];
    if n.saturating_sub(first) < 7 {
        return out;
    }
    for (j, slot) in out.iter_mut().enumerate().skip(first) {
        let lo = j.saturating_sub(3).max(first).min(n - 7);
        let week_mean = values[lo..lo + 7].iter().sum::<f64>() / 7.0;
        if week_mean >= MIN_SPREAD_USD {
            *slot = Some(values[j] / week_mean);
        }
    }
    out
}

/// The weekday factors of a series with one day, the judged one, left out.
pub(super) struct Profile {
    /// Per position modulo 7 (the series' weekdays): `(day, ratio)` of its days.
    groups: [Vec<(usize, f64)>; 7],
    /// Per weekday the median of its ratios.
    medians: [f64; 7],
    min_occurrences: usize,
}

impl Profile {
    /// The profile from the ratios of every day except `skip`: per weekday the median of
    /// its ratios (one earlier spike of that weekday does not move it), with at least
    /// `min_occurrences` of them. `None` when some weekday has too few, or when the
    /// weekdays do not differ more than chance would have them (one-way analysis of
    /// variance of the ratios by weekday, p ≥ 1 %): then there is no weekly pattern to
    /// remove.
    pub(super) fn estimate(
        ratios: &[Option<f64>],
        skip: usize,
        min_occurrences: usize,
    ) -> Option<Profile> {
        let min_occurrences = min_occurrences.max(1);
        let mut groups: [Vec<(usize, f64)>; 7] = Default::default();
        for (j, r) in ratios.iter().enumerate() {
            if let (true, Some(r)) = (j != skip, r) {
                groups[j % 7].push((j, *r));
            }
        }
        if groups.iter().any(|g| g.len() < min_occurrences) {
            return None;
        }
        let values = groups
            .each_ref()
            .map(|g| g.iter().map(|p| p.1).collect::<Vec<_>>());
        if !differ(&values) {
            return None;
        }
        Some(Profile {
            medians: values.map(|v| Data::new(v).median()),
            groups,
            min_occurrences,
        })
    }

    /// How much wider the judged day's (`skip`'s) spread is for its factor being an
    /// estimate: the median of `m` noisy ratios adds about `π/2 · σ²/m` to the variance
    /// of the day it divides (`σ²/m` for one or two, where the median is the mean).
    pub(super) fn widening(&self, skip: usize) -> f64 {
        let m = self.groups[skip % 7].len() as f64;
        let efficiency = if m > 2.0 {
            std::f64::consts::FRAC_PI_2
        } else {
            1.0
        };
        (1.0 + efficiency / m).sqrt()
    }

    /// Day `j`'s factor, normalised so the seven average 1. Day `j` itself is left out
    /// of its weekday's median, as the judged day is, so a baseline day is not divided
    /// by its own noise and the baseline's spread stays honest. `None` when that leaves
    /// its weekday too few days.
    pub(super) fn factor(&self, j: usize) -> Option<f64> {
        let w = j % 7;
        let group = &self.groups[w];
        let own = if group.iter().any(|p| p.0 == j) {
            let rest: Vec<f64> = group.iter().filter(|p| p.0 != j).map(|p| p.1).collect();
            if rest.len() < self.min_occurrences {
                return None;
            }
            Data::new(rest).median()
        } else {
            self.medians[w]
        };
        let mean = (self.medians.iter().sum::<f64>() - self.medians[w] + own) / 7.0;
        let f = own / mean;
        (mean > 0.0 && f.is_finite()).then_some(f)
    }
}

/// One-way analysis of variance: do the group means differ at [`SIGNIFICANCE`]?
fn differ(groups: &[Vec<f64>; 7]) -> bool {
    if groups.iter().any(Vec::is_empty) {
        return false;
    }
    let n: usize = groups.iter().map(Vec::len).sum();
    let k = groups.len();
    if n <= k {
        return false;
    }
    let grand = groups.iter().flatten().sum::<f64>() / n as f64;
    let (mut between, mut within) = (0.0, 0.0);
    for g in groups {
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        between += g.len() as f64 * (mean - grand).powi(2);
        within += g.iter().map(|r| (r - mean).powi(2)).sum::<f64>();
    }
    let (df1, df2) = ((k - 1) as f64, (n - k) as f64);
    if within <= f64::EPSILON * between {
        // No spread within the weekdays: any difference between them is the pattern.
        return between > 0.0;
    }
    let f = (between / df1) / (within / df2);
    FisherSnedecor::new(df1, df2).is_ok_and(|d| f.is_finite() && d.sf(f) < SIGNIFICANCE)
}
