//! The crate's one error type.

/// A configuration value the recommendation functions cannot work with. Each variant names
/// the field, so a caller can point its own user at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecsError {
    /// A configuration value is out of range (a threshold that is not a positive finite
    /// number, a share outside `0..=1`, a window of zero days, …).
    #[error("{field}: {message}")]
    InvalidConfig {
        /// The offending field, named as the API's query parameter where there is one
        /// (`threshold`, `days`).
        field: &'static str,
        /// Why it was rejected.
        message: String,
    },
    /// A model mix whose sums contradict each other (more cached than prompt tokens, long
    /// prompt sums above the totals, …): a bug in the aggregation that produced it.
    #[error("mix {provider}/{model}: {message}")]
    InvalidMix {
        /// Provider of the mix.
        provider: String,
        /// Model of the mix.
        model: String,
        /// What is inconsistent.
        message: String,
    },
}

impl RecsError {
    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> RecsError {
        RecsError::InvalidConfig {
            field,
            message: message.into(),
        }
    }
}

/// Checks that `value` is a finite share in `0..=1`.
pub(crate) fn check_share(field: &'static str, value: f64) -> Result<(), RecsError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(RecsError::config(field, "must be a number between 0 and 1"))
    }
}
