#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

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
    LongContextBasis, LongContextPrice, LongPrompts, MixEvidence, ModelMix, PriceEvidence,
    long_context_thresholds,
};
pub use optimize::{
    Detail, Evidence, Optimization, OptimizationConfig, OptimizationKind, find_optimizations,
    total_potential_monthly_savings,
};
pub use series::{DailyBreakdown, DailyCost, Dimension, fill_days};
pub use switch::{ModelSwitch, SwitchConfig, SwitchEvidence, suggest_model_switches};
