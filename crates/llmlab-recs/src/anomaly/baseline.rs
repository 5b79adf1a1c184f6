//! What the trailing baseline expects of the judged day: a straight line through the
//! (deseasonalised) baseline days, extended to the judged day, and how far off that
//! prediction may be.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use statrs::statistics::{Data, OrderStatistics};

use super::{MAD_SCALE, Method};

/// The prediction for the judged day from `points` (days before it as `(offset, value)`,
/// offsets negative), by `method`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Prediction {
    /// The expected value on the judged day.
    pub center: f64,
    /// The spread of the judged day around it: the residual spread widened for the
    /// uncertainty of the line itself.
    pub spread: f64,
    /// Degrees of freedom of the residual spread.
    pub df: f64,
}

fn median(values: Vec<f64>) -> f64 {
    Data::new(values).median()
}

/// `None` with fewer than three points or a non-finite result.
pub(super) fn predict(points: &[(f64, f64)], method: Method) -> Option<Prediction> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let t_mean = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - t_mean).powi(2)).sum();
    let (intercept, resid_spread) = match method {
        Method::ZScore => {
            let y_mean = points.iter().map(|p| p.1).sum::<f64>() / nf;
            let slope = if sxx > 0.0 {
                points
                    .iter()
                    .map(|p| (p.0 - t_mean) * (p.1 - y_mean))
                    .sum::<f64>()
                    / sxx
            } else {
                0.0
            };
            let intercept = y_mean - slope * t_mean;
            let ss: f64 = points
                .iter()
                .map(|p| (p.1 - intercept - slope * p.0).powi(2))
                .sum();
            (intercept, (ss / (nf - 2.0)).sqrt())
        }
        Method::Robust => {
            // Theil–Sen: the median of the pairwise slopes, unmoved by a few outliers.
            let slope = {
                let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
                for (a, p) in points.iter().enumerate() {
                    for q in &points[a + 1..] {
                        if q.0 != p.0 {
                            slopes.push((q.1 - p.1) / (q.0 - p.0));
                        }
                    }
                }
                median(slopes)
            };
            let intercept = median(points.iter().map(|p| p.1 - slope * p.0).collect());
            let mad = median(
                points
                    .iter()
                    .map(|p| (p.1 - intercept - slope * p.0).abs())
                    .collect(),
            );
            (intercept, mad * MAD_SCALE)
        }
    };
    // The prediction interval of a line: the day's own noise, the uncertainty of the
    // level, and that of the slope carried from the baseline's middle to the judged day.
    let widen = (1.0 + 1.0 / nf + t_mean.powi(2) / sxx).sqrt();
    let p = Prediction {
        center: intercept,
        spread: resid_spread * widen,
        df: nf - 2.0,
    };
    (p.center.is_finite() && p.spread.is_finite()).then_some(p)
}

/// A score against a spread estimated with `df` degrees of freedom, on the normal scale:
/// the normal score with the same upper tail probability, so a threshold means the same
/// whether 7 or 28 baseline days back it.
pub(super) fn calibrate(z: f64, df: f64) -> f64 {
    let (Ok(t), normal) = (StudentsT::new(0.0, 1.0, df), Normal::standard()) else {
        return z;
    };
    let tail = t.sf(z);
    if tail > 0.0 && tail < 1.0 {
        -normal.inverse_cdf(tail)
    } else {
        z
    }
}
