//! Cost reports that are more than one aggregate: the summary's series, folded from the
//! store's fixed UTC slots into local calendar buckets and bounded in size.

use chrono::{DateTime, Duration, Utc};
use llmlab_engine::aggregate::{Bucket, Slot, Totals, fill_gaps, fold_slots};
use llmlab_engine::forecast::{Forecast, LOOKBACK_DAYS, forecast_period};
use llmlab_engine::period::{
    Granularity, Period, Window, Zone, bucket_start, max_buckets_between, next_bucket_start,
    period_window, slot_secs_for,
};
use llmlab_engine::{Tokens, Units, Usd};
use llmlab_store::{EventFilter, GroupTotals, ModelTotals, Store, TagBreakdown, WorkspaceId};

use crate::AppError;

/// Most buckets one summary returns (10,000: hourly over a year is 8,760).
pub const MAX_SUMMARY_BUCKETS: u64 = 10_000;

/// Store sums (never negative) → engine totals.
pub fn totals(cost_nanos: i64, calls: i64, input_tokens: i64, output_tokens: i64) -> Totals {
    Totals {
        cost: Usd::from_nanos(cost_nanos),
        calls: u64::try_from(calls).unwrap_or(0),
        tokens: Tokens {
            input: input_tokens.max(0),
            output: output_tokens.max(0),
            ..Tokens::default()
        },
    }
}

/// A spend summary asked for: the filter, its bounds, the buckets and their zone.
#[derive(Debug, Clone)]
pub struct SummaryAsk {
    /// What spend counts.
    pub filter: EventFilter,
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
    /// Bucket size.
    pub granularity: Granularity,
    /// The buckets' calendar.
    pub zone: Zone,
}

/// The summary `ask` asks for (see [`summary`]).
pub fn summary_of(s: &Store, workspace: WorkspaceId, ask: &SummaryAsk) -> Result<Series, AppError> {
    summary(
        s,
        workspace,
        &ask.filter,
        (ask.start, ask.end),
        ask.granularity,
        ask.zone,
    )
}

/// Spend from `start` to `end` bucketed by `granularity` in `zone`, every bucket present
/// (empty ones too). A range that would hold more than [`MAX_SUMMARY_BUCKETS`] is refused
/// before anything is built. Run on the blocking pool: folding is CPU work proportional
/// to the buckets.
pub fn summary(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    range: (DateTime<Utc>, DateTime<Utc>),
    granularity: Granularity,
    zone: Zone,
) -> Result<Series, AppError> {
    summary_converted(s, workspace, filter, range, (granularity, zone), None).map(|(s, _)| s)
}

/// The summary `ask` asks for, and each of its buckets' spend in `rates`' currency:
/// every 15-minute slot (an hour's in whole-hour zones) converted at the rate of its
/// local day, then summed into the buckets, so a week or a month converts each of its
/// days at that day's rate.
pub fn summary_in(
    s: &Store,
    workspace: WorkspaceId,
    ask: &SummaryAsk,
    rates: &mut crate::fx::Rates,
) -> Result<(Series, Vec<crate::fx::Amount>), AppError> {
    let range = (ask.start, ask.end);
    let calendar = (ask.granularity, ask.zone);
    let (series, converted) =
        summary_converted(s, workspace, &ask.filter, range, calendar, Some(rates))?;
    Ok((series, converted.unwrap_or_default()))
}

fn summary_converted(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    (granularity, zone): (Granularity, Zone),
    rates: Option<&mut crate::fx::Rates>,
) -> Result<(Series, Option<Vec<crate::fx::Amount>>), AppError> {
    let buckets = max_buckets_between(start, end, granularity);
    if buckets > MAX_SUMMARY_BUCKETS {
        return Err(AppError::invalid(
            "granularity",
            format!(
                "{start}..{end} spans up to {buckets} {} buckets; a summary holds at most \
                 {MAX_SUMMARY_BUCKETS}: narrow the range or choose a coarser granularity",
                granularity.as_str()
            ),
        ));
    }
    let slot_secs = u32::try_from(slot_secs_for(zone)).unwrap_or(900);
    let rows = s.slots(workspace, filter, slot_secs)?;
    let slots = rows.iter().map(|r| Slot {
        start: DateTime::from_timestamp_micros(r.slot_start_micros).unwrap_or_default(),
        totals: totals(
            r.sums.cost_nanos,
            r.sums.calls,
            r.sums.input_tokens,
            r.sums.output_tokens,
        ),
    });
    let folded = fold_slots(slots.clone(), granularity, zone);
    let series = Series {
        buckets: fill_gaps(folded, start, end, granularity, zone),
        unpriced_calls: rows.iter().map(|r| r.sums.unpriced_calls).sum(),
        units: rows.iter().fold(Units::default(), |mut sum, r| {
            sum.add(&crate::tokens::units_from_store(&r.sums.units));
            sum
        }),
    };
    let Some(rates) = rates else {
        return Ok((series, None));
    };
    // The same fold over converted costs: a `Totals` carries the currency's billionths
    // here, never read as dollars.
    let mut converted = Vec::with_capacity(rows.len());
    for slot in slots {
        let day = slot.start.with_timezone(&zone.tz()).date_naive();
        let cost = if slot.totals.cost == Usd::ZERO {
            Usd::ZERO
        } else {
            Usd::from_nanos(rates.convert(slot.totals.cost, day)?.nanos())
        };
        converted.push(Slot {
            totals: Totals {
                cost,
                ..slot.totals
            },
            ..slot
        });
    }
    let folded = fill_gaps(
        fold_slots(converted, granularity, zone),
        start,
        end,
        granularity,
        zone,
    );
    let amounts = folded
        .iter()
        .map(|b| crate::fx::Amount::of_nanos(b.totals.cost.nanos()))
        .collect();
    Ok((series, Some(amounts)))
}

/// A summary's buckets and the calls in them stored without a price.
pub struct Series {
    /// Every bucket of the range.
    pub buckets: Vec<Bucket>,
    /// Calls stored unpriced (cost 0 until re-priced).
    pub unpriced_calls: i64,
    /// The range's images, audio seconds, characters, searches and sessions.
    pub units: Units,
}

impl Series {
    /// The sums of every bucket: the range's totals.
    pub fn total(&self) -> Totals {
        let mut total = Totals::default();
        for b in &self.buckets {
            total.add(&b.totals);
        }
        total
    }
}

/// A period's spend so far and where it is heading.
pub struct PeriodForecast {
    /// The current period.
    pub window: Window,
    /// Spend in it so far.
    pub spent: Usd,
    /// Its projected total; `None` for a `total` period.
    pub forecast: Option<Forecast>,
    /// The daily spend it was made from (empty for a `total` period).
    pub days: Vec<Bucket>,
}

/// The forecast of the current `period` in `zone` for the events `scope` selects (its
/// time bounds are ignored), from the last [`LOOKBACK_DAYS`] days of their daily spend.
/// `spent` is the spend in the period when the caller has already summed it.
pub fn forecast(
    s: &Store,
    workspace: WorkspaceId,
    scope: &EventFilter,
    (period, zone): (Period, Zone),
    spent: Option<Usd>,
    now: DateTime<Utc>,
) -> Result<PeriodForecast, AppError> {
    forecast_window(
        s,
        workspace,
        scope,
        (period_window(period, now, zone), zone),
        spent,
        now,
    )
}

/// [`forecast`] over any window (a commitment's dates), not only a budget period's.
pub fn forecast_window(
    s: &Store,
    workspace: WorkspaceId,
    scope: &EventFilter,
    (window, zone): (Window, Zone),
    spent: Option<Usd>,
    now: DateTime<Utc>,
) -> Result<PeriodForecast, AppError> {
    let spent = match spent {
        Some(spent) => spent,
        None => {
            let filter = EventFilter {
                start_micros: window.start.map(|t| t.timestamp_micros()),
                end_micros: window.end.map(|t| t.timestamp_micros()),
                ..scope.clone()
            };
            Usd::from_nanos(s.spend(workspace, &filter)?)
        }
    };
    if window.end.is_none() {
        return Ok(PeriodForecast {
            window,
            spent,
            forecast: None,
            days: Vec::new(),
        });
    }
    let (from, to) = history_days(now, zone);
    let history = EventFilter {
        start_micros: Some(from.timestamp_micros()),
        end_micros: Some(to.timestamp_micros()),
        ..scope.clone()
    };
    let days = summary(s, workspace, &history, (from, to), Granularity::Day, zone)?;
    Ok(PeriodForecast {
        forecast: forecast_period(&days.buckets, spent, &window, now, zone),
        window,
        spent,
        days: days.buckets,
    })
}

/// The days a forecast at `now` learns from: the last [`LOOKBACK_DAYS`] local days of
/// `zone` and today.
fn history_days(now: DateTime<Utc>, zone: Zone) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = bucket_start(now, Granularity::Day, zone);
    let from = bucket_start(
        today - Duration::days(i64::from(LOOKBACK_DAYS)),
        Granularity::Day,
        zone,
    );
    (from, next_bucket_start(today, Granularity::Day, zone))
}

/// A workspace's spend per UTC day, read once for several uses (the scheduler reads it
/// for a batch of workspaces at once): `spent` holds `(00:00 UTC in microseconds,
/// nano-dollars)` of the days from `from` to `to` that spent, oldest first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UtcDays<'a> {
    pub from: i64,
    pub to: i64,
    pub spent: &'a [(i64, i64)],
}

/// The UTC days (`from`, `to` in microseconds) that [`forecast_from_days`] needs to
/// forecast any period at `now`: the history and the longest current period.
pub(crate) fn forecast_reach(now: DateTime<Utc>) -> (i64, i64) {
    let (mut from, mut to) = history_days(now, Zone::UTC);
    for period in [Period::Daily, Period::Weekly, Period::Monthly] {
        let window = period_window(period, now, Zone::UTC);
        from = window.start.map_or(from, |s| s.min(from));
        to = window.end.map_or(to, |e| e.max(to));
    }
    (from.timestamp_micros(), to.timestamp_micros())
}

/// [`forecast`] of every event of the workspace in UTC, from its spend per UTC day
/// already read: the same figures, as the rollups hold whole UTC days. `None` when
/// `days` does not cover the period and its history, or for a `total` period.
pub(crate) fn forecast_from_days(
    days: UtcDays<'_>,
    period: Period,
    now: DateTime<Utc>,
) -> Option<PeriodForecast> {
    let zone = Zone::UTC;
    let window = period_window(period, now, zone);
    let (start, end) = (window.start?, window.end?);
    let (from, to) = history_days(now, zone);
    if start.min(from).timestamp_micros() < days.from || end.max(to).timestamp_micros() > days.to {
        return None;
    }
    let within = |a: DateTime<Utc>, b: DateTime<Utc>| {
        let (a, b) = (a.timestamp_micros(), b.timestamp_micros());
        days.spent
            .iter()
            .filter(move |(day, _)| (a..b).contains(day))
    };
    let spent = Usd::from_nanos(within(start, end).fold(0_i64, |t, d| t.saturating_add(d.1)));
    let slots = within(from, to).map(|&(day, cost)| Slot {
        start: DateTime::from_timestamp_micros(day).unwrap_or_default(),
        totals: totals(cost, 0, 0, 0),
    });
    let buckets = fill_gaps(
        fold_slots(slots, Granularity::Day, zone),
        from,
        to,
        Granularity::Day,
        zone,
    );
    Some(PeriodForecast {
        forecast: forecast_period(&buckets, spent, &window, now, zone),
        window,
        spent,
        days: buckets,
    })
}

/// Spend per `(provider, model)` in `filter` in `rates`' currency: each UTC day's spend
/// converted at that day's rate, then summed.
pub fn by_model_in(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    rates: &mut crate::fx::Rates,
) -> Result<ByModelIn, AppError> {
    let rows = s.daily_by_model(workspace, filter)?;
    by_day(
        rows.into_iter()
            .map(|r| (r.day_start_micros, (r.provider, r.model), r.cost_nanos)),
        rates,
    )
}

/// Spend per key from `(UTC day start, key, cost)` rows, each day converted at its rate.
fn by_day<K: Ord>(
    rows: impl IntoIterator<Item = (i64, K, i64)>,
    rates: &mut crate::fx::Rates,
) -> Result<std::collections::BTreeMap<K, crate::fx::Amount>, AppError> {
    let mut sums = std::collections::BTreeMap::new();
    for (day, key, cost_nanos) in rows {
        let Some(day) = DateTime::from_timestamp_micros(day) else {
            continue;
        };
        let converted = if cost_nanos == 0 {
            crate::fx::Amount::default()
        } else {
            rates.convert(Usd::from_nanos(cost_nanos), day.date_naive())?
        };
        let sum: &mut crate::fx::Amount = sums.entry(key).or_default();
        *sum = [*sum, converted].into_iter().sum();
    }
    Ok(sums)
}

/// A breakdown over `filter` (`report`) and, with `currency` (the breakdowns'
/// `currency=`), the same spend in it (`convert`, over `filter`'s UTC days) with the
/// rates read; `None` without a currency.
fn breakdown<T, C>(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    currency: Option<crate::fx::Currency>,
    report: impl FnOnce(&Store, WorkspaceId, &EventFilter) -> Result<T, AppError>,
    convert: impl FnOnce(
        &Store,
        WorkspaceId,
        &EventFilter,
        &mut crate::fx::Rates,
    ) -> Result<C, AppError>,
) -> Result<(T, Option<(C, crate::fx::Rates)>), AppError> {
    let rows = report(s, workspace, filter)?;
    let Some(currency) = currency else {
        return Ok((rows, None));
    };
    let mut rates = crate::fx::Rates::for_range(s, workspace, currency, filter)?;
    let converted = convert(s, workspace, filter, &mut rates)?;
    Ok((rows, Some((converted, rates))))
}

/// [`breakdown`] read where reports are (the read replica when there is one): what
/// every breakdown route with `currency=` answers.
pub async fn breakdown_read<T, C>(
    app: &crate::App,
    workspace: WorkspaceId,
    filter: EventFilter,
    currency: Option<crate::fx::Currency>,
    report: impl Fn(&Store, WorkspaceId, &EventFilter) -> Result<T, AppError> + Send + 'static,
    convert: impl Fn(&Store, WorkspaceId, &EventFilter, &mut crate::fx::Rates) -> Result<C, AppError>
    + Send
    + 'static,
) -> Result<(T, Option<(C, crate::fx::Rates)>), AppError>
where
    T: Send + 'static,
    C: Send + 'static,
{
    crate::blocking_read(app, move |s| {
        breakdown(s, workspace, &filter, currency.clone(), &report, &convert)
    })
    .await
}

/// Spend per value of tag `key` in `filter`, in `rates`' currency, each UTC day at its
/// rate: the costliest values (as [`by_tag`] lists them) and `None` for the others added
/// up.
pub fn by_tag_in(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    key: &str,
    rates: &mut crate::fx::Rates,
) -> Result<std::collections::BTreeMap<Option<String>, crate::fx::Amount>, AppError> {
    let top = llmlab_store::analytics::MAX_GROUPS;
    let rows = s.daily_by_tag(workspace, filter, key, &[], top)?;
    by_day(
        rows.into_iter()
            .map(|r| (r.day_start_micros, r.value, r.cost_nanos)),
        rates,
    )
}

/// Spend per sender (API key id; `None` for sessions) in `filter`, in `rates`'
/// currency, each UTC day at its rate.
pub fn by_sender_in(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    rates: &mut crate::fx::Rates,
) -> Result<std::collections::BTreeMap<Option<i64>, crate::fx::Amount>, AppError> {
    let rows = s.daily_by_sender(workspace, filter)?;
    by_day(
        rows.into_iter()
            .map(|r| (r.day_start_micros, r.api_key_id, r.cost_nanos)),
        rates,
    )
}

/// Spend per `(provider, model)` in some currency.
pub type ByModelIn = std::collections::BTreeMap<(String, String), crate::fx::Amount>;

/// Spend per provider in `filter`, costliest first.
pub fn by_provider(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
) -> Result<Vec<GroupTotals>, AppError> {
    Ok(s.cost_by_provider(workspace, filter)?)
}

/// Spend per sender in `filter` (each API key, and people's sessions), costliest first.
pub fn by_sender(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
) -> Result<Vec<llmlab_store::SenderTotals>, AppError> {
    Ok(s.cost_by_sender(workspace, filter)?)
}

/// The `limit` costliest models in `filter`.
pub fn top_models(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    limit: u32,
) -> Result<Vec<ModelTotals>, AppError> {
    Ok(s.top_models(workspace, filter, limit)?)
}

/// Spend per value of the tag `key` in `filter`: the 1,000 costliest values, and the
/// rest added up.
pub fn by_tag(
    s: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    key: &str,
) -> Result<TagBreakdown, AppError> {
    Ok(s.cost_by_tag(workspace, filter, key)?)
}
