#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

use llmlab_engine::Usd;

pub mod anomaly;
mod error;
pub mod mix;
pub mod optimize;
mod series;
pub mod switch;

#[cfg(test)]
mod testing;

pub use anomaly::{Anomaly, AnomalyConfig, Driver, Method, Severity, detect_anomalies};
pub use error::RecsError;
pub use mix::{
    LongContextBasis, LongContextPrice, LongPrompts, ModelMix, PriceEvidence, TokenTotals,
    long_context_thresholds,
};
pub use optimize::{
    Detail, Evidence, Optimization, OptimizationConfig, OptimizationKind, find_optimizations,
    total_potential_monthly_savings,
};
pub use series::{DailyBreakdown, DailyCost, Dimension, fill_days};
pub use switch::{ModelSwitch, SwitchConfig, SwitchEvidence, suggest_model_switches};

/// `part / total` in percent with 2 decimals, rounded half away from zero in integers
/// (0 when `total` is not positive).
pub(crate) fn pct_2dp(part: Usd, total: Usd) -> f64 {
    if total <= Usd::ZERO {
        return 0.0;
    }
    part.mul_div(10_000, total.nanos())
        .map_or(0.0, |bp| bp.nanos() as f64 / 100.0)
}
