//! Currencies: money stays exact USD inside; a workspace uploads dated exchange rates
//! (units of a currency per dollar) and reports convert each day's spend at the rate in
//! effect that day (the latest on or before it), exactly: `usd × rate`, rounded once,
//! half away from zero, to a billionth of the currency.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use llmlab_engine::Usd;
use llmlab_store::fx;
pub use llmlab_store::fx::FxRate;
use llmlab_store::{Store, WorkspaceId};

use crate::auth::Identity;
use crate::{AppError, Audit, audited, ensure_room};

/// Rates one upload may hold.
pub const MAX_UPLOAD: usize = 10_000;
/// Rates one workspace may hold (about 27 years of daily rates of ten currencies).
pub const MAX_RATES: usize = 100_000;

/// An ISO 4217 code: three letters, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency(String);

impl Currency {
    /// Reads `text` as `field`.
    pub fn parse(field: &str, text: &str) -> Result<Currency, AppError> {
        let t = text.trim();
        if t.len() == 3 && t.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Currency(t.to_ascii_uppercase()))
        } else {
            Err(AppError::invalid(
                field,
                format!("'{t}' is not an ISO 4217 code such as EUR"),
            ))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An amount in some currency, in billionths of its unit: what a conversion gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Amount(i64);

impl Amount {
    /// From billionths of the unit.
    pub(crate) fn of_nanos(nanos: i64) -> Amount {
        Amount(nanos)
    }

    /// Billionths of the unit.
    pub fn nanos(self) -> i64 {
        self.0
    }

    /// The amount as an exact decimal (what `Usd` prints, without its unit).
    pub fn decimal(self) -> Usd {
        Usd::from_nanos(self.0)
    }
}

impl std::fmt::Display for Amount {
    /// As people read money, to the cent from a unit up (`1,234.56`), without a symbol.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::money::dollars(self.decimal()).replacen('$', "", 1))
    }
}

impl serde::Serialize for Amount {
    /// A JSON number with its exact digits (`14.7`), as amounts in USD are written.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        llmlab_engine::as_json_number::serialize(&self.decimal(), serializer)
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        Amount(iter.fold(0_i64, |a, b| a.saturating_add(b.0)))
    }
}

/// One rate as sent.
#[derive(Debug, Clone)]
pub struct RateIn {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// ISO 4217.
    pub currency: String,
    /// Units of the currency per dollar, a decimal with at most 9 decimals.
    pub units_per_usd: String,
}

/// The rates of a CSV upload: `date,currency,units_per_usd`, with or without that header.
pub fn from_csv(body: &[u8]) -> Result<Vec<RateIn>, AppError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(body);
    let mut rates = Vec::new();
    for (i, record) in csv.records().enumerate() {
        let row = record.map_err(|e| AppError::invalid("body", format!("line {}: {e}", i + 1)))?;
        if i == 0 && row.get(0) == Some("date") {
            continue;
        }
        let (Some(date), Some(currency), Some(rate), None) =
            (row.get(0), row.get(1), row.get(2), row.get(3))
        else {
            return Err(AppError::invalid(
                "body",
                format!("line {}: three fields, date,currency,units_per_usd", i + 1),
            ));
        };
        rates.push(RateIn {
            date: date.into(),
            currency: currency.into(),
            units_per_usd: rate.into(),
        });
        if rates.len() > MAX_UPLOAD {
            break;
        }
    }
    Ok(rates)
}

/// Checks and stores `rates` (a rate already set for its currency and day is replaced);
/// how many were stored.
pub fn put(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    rates: &[RateIn],
) -> Result<usize, AppError> {
    if rates.is_empty() || rates.len() > MAX_UPLOAD {
        return Err(AppError::invalid(
            "rates",
            format!("1 to {MAX_UPLOAD} rates an upload"),
        ));
    }
    let mut checked = Vec::with_capacity(rates.len());
    for (i, r) in rates.iter().enumerate() {
        let field = |name: &str| format!("rates[{i}].{name}");
        let day = crate::input::parse_day(&r.date)
            .map_err(|_| AppError::invalid(field("date"), "must be a date such as 2026-01-31"))?;
        let currency = Currency::parse(&field("currency"), &r.currency)?;
        let rate = Usd::parse(&r.units_per_usd)
            .ok()
            .filter(|u| *u > Usd::ZERO)
            .ok_or_else(|| {
                AppError::invalid(
                    field("units_per_usd"),
                    "must be a positive decimal with at most 9 decimals",
                )
            })?;
        checked.push(FxRate {
            currency: currency.0,
            day,
            units_per_usd_nanos: rate.nanos(),
        });
    }
    let held = s.with_conn(|c| fx::count(c, workspace))?;
    ensure_room(
        "exchange rates",
        usize::try_from(held).unwrap_or(usize::MAX),
        MAX_RATES,
    )?;
    audited(s, workspace, &by.actor(), |c| {
        let stored = fx::put(c, workspace, &checked)?;
        let audit = Audit {
            action: "fx_rates.put",
            target_kind: "fx_rates",
            target_id: String::new(),
            details: serde_json::json!({ "stored": stored }),
        };
        Ok((stored, audit))
    })
}

/// The workspace's rates (of `currency`, or all), newest first (the 10,000 latest).
pub fn list(
    s: &Store,
    workspace: WorkspaceId,
    currency: Option<&Currency>,
) -> Result<Vec<FxRate>, AppError> {
    Ok(s.with_conn(|c| fx::list(c, workspace, currency.map(Currency::as_str), 10_000))?)
}

/// The rates of one currency over a span of days, ready to convert with.
pub struct Rates {
    /// The currency.
    pub currency: Currency,
    /// Each rate by the day it takes effect.
    rates: BTreeMap<NaiveDate, i64>,
    /// The days' rates used so far (day it took effect → rate).
    used: BTreeMap<NaiveDate, i64>,
}

impl Rates {
    /// `currency`'s rates in effect from `start` to `end`.
    pub fn load(
        s: &Store,
        workspace: WorkspaceId,
        currency: Currency,
        span: (NaiveDate, NaiveDate),
    ) -> Result<Rates, AppError> {
        let rows = s.with_conn(|c| fx::in_effect(c, workspace, currency.as_str(), span))?;
        Ok(Rates {
            currency,
            rates: rows
                .into_iter()
                .map(|r| (r.day, r.units_per_usd_nanos))
                .collect(),
            used: BTreeMap::new(),
        })
    }

    /// `currency`'s rates in effect over the UTC days of `filter`'s range (which must
    /// have a start; its end is now when open).
    pub fn for_range(
        s: &Store,
        workspace: WorkspaceId,
        currency: Currency,
        filter: &llmlab_store::EventFilter,
    ) -> Result<Rates, AppError> {
        let day =
            |micros: i64| chrono::DateTime::from_timestamp_micros(micros).map(|t| t.date_naive());
        let today = chrono::Utc::now().date_naive();
        let start = filter.start_micros.and_then(day).unwrap_or(today);
        let end = filter
            .end_micros
            .and_then(|e| day(e.saturating_sub(1)))
            .unwrap_or(today)
            .max(start);
        Rates::load(s, workspace, currency, (start, end))
    }

    /// `usd` spent on `day`, in the currency at the rate in effect that day: 422
    /// `fx_rate_missing` when none is. The rate is remembered as used.
    pub fn convert(&mut self, usd: Usd, day: NaiveDate) -> Result<Amount, AppError> {
        let (from, rate) = self.in_effect(day)?;
        self.used.insert(from, rate);
        Self::at(usd, rate)
    }

    /// [`Rates::convert`] without remembering the rate (a streamed export, which names
    /// no rates).
    pub fn convert_quietly(&self, usd: Usd, day: NaiveDate) -> Result<Amount, AppError> {
        Self::at(usd, self.in_effect(day)?.1)
    }

    /// The rate in effect on `day` and the day it took effect.
    fn in_effect(&self, day: NaiveDate) -> Result<(NaiveDate, i64), AppError> {
        match self.rates.range(..=day).next_back() {
            Some((from, rate)) => Ok((*from, *rate)),
            None => Err(AppError::FxRateMissing {
                currency: self.currency.0.clone(),
                day,
            }),
        }
    }

    fn at(usd: Usd, rate: i64) -> Result<Amount, AppError> {
        let converted = usd
            .mul_div(rate, llmlab_engine::NANOS_PER_USD)
            .ok_or_else(|| AppError::invalid("currency", "the converted amount is out of range"))?;
        Ok(Amount(converted.nanos()))
    }

    /// The rates the conversions used: the day each took effect and its units per
    /// dollar, oldest first.
    pub fn used(&self) -> Vec<(NaiveDate, Usd)> {
        self.used
            .iter()
            .map(|(d, r)| (*d, Usd::from_nanos(*r)))
            .collect()
    }
}

/// The spend from `start` to `end` in `currency` per local day of `zone`, each at its
/// rate (the dashboard's figures in the workspace's display currency), one amount per
/// day of the span, as the summary's daily buckets.
pub fn daily_in(
    s: &Store,
    workspace: WorkspaceId,
    currency: Currency,
    (start, end): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    zone: llmlab_engine::period::Zone,
) -> Result<Vec<Amount>, AppError> {
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&zone.tz()).date_naive();
    let mut rates = Rates::load(s, workspace, currency, (local(start), local(end)))?;
    let (_, amounts) =
        crate::reports::summary_in(s, workspace, &ask(start, end, zone), &mut rates)?;
    Ok(amounts)
}

fn ask(
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    zone: llmlab_engine::period::Zone,
) -> crate::reports::SummaryAsk {
    crate::reports::SummaryAsk {
        filter: llmlab_store::EventFilter::between(
            start.timestamp_micros(),
            end.timestamp_micros(),
        ),
        start,
        end,
        granularity: llmlab_engine::period::Granularity::Day,
        zone,
    }
}

/// The spend from `start` to `end` converted with `rates`, each local day of `zone` at
/// its rate.
pub fn spent_in(
    s: &Store,
    workspace: WorkspaceId,
    rates: &mut Rates,
    (start, end): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    zone: llmlab_engine::period::Zone,
) -> Result<Amount, AppError> {
    let (_, amounts) = crate::reports::summary_in(s, workspace, &ask(start, end, zone), rates)?;
    Ok(amounts.into_iter().sum())
}

/// A period's forecast in `rates`' currency: what was spent, each day at its rate, and
/// what is still expected (`expected − spent` in USD) at the rate in effect `today`.
pub fn forecast_in(
    rates: &mut Rates,
    spent: Amount,
    (spent_usd, expected_usd): (Usd, Usd),
    today: NaiveDate,
) -> Result<Amount, AppError> {
    let ahead = expected_usd.saturating_sub(spent_usd).max(Usd::ZERO);
    let ahead = if ahead == Usd::ZERO {
        Amount::default()
    } else {
        rates.convert(ahead, today)?
    };
    Ok([spent, ahead].into_iter().sum())
}
