//! Exchange rates: units of a currency per US dollar, by the day they take effect.

use llmlab_app::fx::RateIn;
use llmlab_engine::Usd;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One rate.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct FxRateIo {
    /// The day it takes effect (`YYYY-MM-DD`); it holds until a later day's.
    #[schema(value_type = String, format = Date)]
    pub date: String,
    /// ISO 4217 code (`EUR`).
    pub currency: String,
    /// Units of the currency per US dollar (`0.92`), at most 9 decimals.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub units_per_usd: Usd,
}

impl From<FxRateIo> for RateIn {
    fn from(r: FxRateIo) -> Self {
        RateIn {
            date: r.date,
            currency: r.currency,
            units_per_usd: r.units_per_usd.to_string(),
        }
    }
}

impl From<llmlab_app::fx::FxRate> for FxRateIo {
    fn from(r: llmlab_app::fx::FxRate) -> Self {
        FxRateIo {
            date: r.day.to_string(),
            currency: r.currency,
            units_per_usd: Usd::from_nanos(r.units_per_usd_nanos),
        }
    }
}

/// `PUT /api/fx-rates` as JSON (or a CSV body of `date,currency,units_per_usd`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct FxRatesIn {
    /// 1 to 10,000 rates.
    pub rates: Vec<FxRateIo>,
}

/// `{stored}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FxStored {
    /// Rates stored (a rate of a currency and day already set is replaced).
    pub stored: usize,
}

/// `{rates: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FxRateList {
    /// Newest day first (the 10,000 latest).
    pub rates: Vec<FxRateIo>,
}

/// Which currency.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FxQuery {
    /// ISO 4217 code; every currency when absent.
    pub currency: Option<String>,
}
