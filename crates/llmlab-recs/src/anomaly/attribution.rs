//! Which models, providers and tag values drove an anomalous day (see the module
//! documentation of [`super`]).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use llmlab_engine::Usd;

use super::Driver;
use crate::series::{DailyBreakdown, Dimension};

/// The breakdown as one daily series per dimension value, aligned with the filled days.
pub(super) struct Attribution<'a> {
    series: HashMap<&'a Dimension, Vec<Usd>>,
}

impl<'a> Attribution<'a> {
    pub(super) fn new(start: NaiveDate, len: usize, breakdown: &'a [DailyBreakdown]) -> Self {
        let mut series: HashMap<&'a Dimension, Vec<Usd>> = HashMap::new();
        for row in breakdown {
            let Ok(pos) = usize::try_from((row.date - start).num_days()) else {
                continue;
            };
            if pos >= len {
                continue;
            }
            let s = series
                .entry(&row.dimension)
                .or_insert_with(|| vec![Usd::ZERO; len]);
            s[pos] = s[pos].saturating_add(row.cost);
        }
        Attribution { series }
    }

    /// What a dimension value was expected to spend on day `i`: its mean over the
    /// `baseline` days, each divided by its factor, times `factor` (day `i`'s); the
    /// plain mean, exactly, without a weekly pattern.
    fn expected(s: &[Usd], baseline: &[(usize, f64)], factor: Option<f64>) -> Option<Usd> {
        let n = i64::try_from(baseline.len()).ok()?;
        let Some(f) = factor else {
            return baseline
                .iter()
                .map(|&(j, _)| s[j])
                .sum::<Usd>()
                .mul_div(1, n);
        };
        let adjusted: f64 = baseline.iter().map(|&(j, fj)| s[j].to_f64() / fj).sum();
        Usd::from_f64_rounded(adjusted / n as f64 * f)
    }

    /// Drivers of day `i` against the `baseline` days.
    pub(super) fn drivers(
        &self,
        i: usize,
        baseline: &[(usize, f64)],
        factor: Option<f64>,
        max_per_group: usize,
    ) -> Vec<Driver> {
        let mut groups: BTreeMap<(u8, &str), Vec<Driver>> = BTreeMap::new();
        for (dimension, s) in &self.series {
            let Some(baseline) = Self::expected(s, baseline, factor) else {
                continue;
            };
            let cost = s[i];
            let excess = cost.saturating_sub(baseline);
            if excess > Usd::ZERO {
                groups.entry(dimension.group()).or_default().push(Driver {
                    dimension: (*dimension).clone(),
                    cost,
                    baseline,
                    excess,
                    share_pct: 0.0,
                });
            }
        }
        let mut out = Vec::new();
        for (_, mut drivers) in groups {
            let total: Usd = drivers.iter().map(|d| d.excess).sum();
            for d in &mut drivers {
                d.share_pct = llmlab_engine::aggregate::share_pct(d.excess, total);
            }
            drivers.sort_by(|a, b| {
                b.excess
                    .cmp(&a.excess)
                    .then_with(|| a.dimension.cmp(&b.dimension))
            });
            drivers.truncate(max_per_group);
            out.extend(drivers);
        }
        out
    }
}
