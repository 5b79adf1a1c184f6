//! The cost summary: spend per bucket of a range, in USD and, when asked, in another
//! currency.

use chrono::{DateTime, Utc};
use llmlab_app::fx::Amount;
use llmlab_app::reports::Series;
use llmlab_engine::Usd;
use llmlab_engine::period::{Granularity, Zone};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::costs::unsigned;

impl Summary {
    /// The summary of `series`, the range `[start, end)` bucketed by `granularity` in
    /// `zone`; its totals are the buckets' sums.
    pub fn new(
        series: Series,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        granularity: Granularity,
        zone: Zone,
    ) -> Summary {
        let total = series.total();
        Summary {
            start,
            end,
            total_cost_usd: total.cost,
            total_calls: total.calls,
            total_input_tokens: unsigned(total.tokens.input),
            total_output_tokens: unsigned(total.tokens.output),
            total_images: unsigned(series.units.images),
            total_audio_input_seconds: unsigned(series.units.audio_input_seconds),
            total_output_characters: unsigned(series.units.output_characters),
            total_web_search_calls: unsigned(series.units.web_search_calls),
            total_code_sessions: unsigned(series.units.code_sessions),
            avg_cost_per_call_usd: total.avg_cost_per_call(),
            unpriced_calls: unsigned(series.unpriced_calls),
            granularity: format!("{granularity:?}").to_lowercase(),
            tz: zone.name().to_string(),
            by_date: series
                .buckets
                .into_iter()
                .map(|b| DateRow {
                    date: b.label,
                    cost_usd: b.totals.cost,
                    cost: None,
                    calls: b.totals.calls,
                    input_tokens: unsigned(b.totals.tokens.input),
                    output_tokens: unsigned(b.totals.tokens.output),
                })
                .collect(),
            currency: None,
            total_cost: None,
            fx_rates_used: None,
        }
    }

    /// The summary with its amounts also in `rates`' currency: `converted` holds each
    /// bucket's, in order.
    pub fn converted(mut self, converted: &[Amount], rates: &llmlab_app::fx::Rates) -> Summary {
        for (row, amount) in self.by_date.iter_mut().zip(converted) {
            row.cost = Some(*amount);
        }
        self.total_cost = Some(converted.iter().copied().sum::<Amount>());
        (self.currency, self.fx_rates_used) = FxRateUsed::named(Some(rates));
        self
    }
}

impl FxRateUsed {
    /// A breakdown's `currency` and `fx_rates_used`: both `None` without a currency.
    pub fn named(
        rates: Option<&llmlab_app::fx::Rates>,
    ) -> (Option<String>, Option<Vec<FxRateUsed>>) {
        match rates {
            None => (None, None),
            Some(r) => (
                Some(r.currency.as_str().to_string()),
                Some(FxRateUsed::all(r)),
            ),
        }
    }

    /// The rates `rates` converted with, by the day each took effect.
    pub fn all(rates: &llmlab_app::fx::Rates) -> Vec<FxRateUsed> {
        rates
            .used()
            .into_iter()
            .map(|(date, units_per_usd)| FxRateUsed {
                date,
                units_per_usd,
            })
            .collect()
    }
}

/// A rate a conversion used.
#[derive(Debug, Serialize, ToSchema)]
pub struct FxRateUsed {
    /// The day it took effect (the latest on or before the days it converted).
    pub date: chrono::NaiveDate,
    /// Units of the currency per dollar.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub units_per_usd: Usd,
}

/// One bucket of the summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct DateRow {
    /// Bucket label (`YYYY-MM-DD`, or an RFC 3339 hour).
    pub date: String,
    /// Spend.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub cost_usd: Usd,
    /// Spend in `currency`, when one was asked for.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
    /// Calls.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
}

/// Cost summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    /// Range start.
    pub start: DateTime<Utc>,
    /// Range end (exclusive).
    pub end: DateTime<Utc>,
    /// Total spend; equals the sum of `by_date`.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub total_cost_usd: Usd,
    /// Calls.
    pub total_calls: u64,
    /// Input tokens.
    pub total_input_tokens: u64,
    /// Output tokens.
    pub total_output_tokens: u64,
    /// Images generated.
    pub total_images: u64,
    /// Seconds of audio transcribed.
    pub total_audio_input_seconds: u64,
    /// Characters turned into speech.
    pub total_output_characters: u64,
    /// Web search calls.
    pub total_web_search_calls: u64,
    /// Code sessions.
    pub total_code_sessions: u64,
    /// Mean cost per call.
    #[schema(value_type = f64)]
    #[serde(with = "llmlab_engine::as_json_number")]
    pub avg_cost_per_call_usd: Usd,
    /// Calls stored without a price (cost 0 until re-priced; see
    /// `GET /api/pricing/unpriced`).
    pub unpriced_calls: u64,
    /// Bucket granularity.
    pub granularity: String,
    /// Time zone of the buckets.
    pub tz: String,
    /// Spend per bucket.
    pub by_date: Vec<DateRow>,
    /// The currency asked for (`currency=`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Total spend in `currency`: each day converted at its rate, summed.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<Amount>,
    /// The rates used, by the day each took effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fx_rates_used: Option<Vec<FxRateUsed>>,
}

/// How the summary buckets its series.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// `hour`, `day` (default), `week` or `month`.
    pub granularity: Option<String>,
    /// IANA time zone the buckets follow (default UTC).
    pub tz: Option<String>,
    /// ISO 4217 code: amounts also in that currency, each day at the workspace's rate in
    /// effect that day (`PUT /api/fx-rates`).
    pub currency: Option<String>,
}
