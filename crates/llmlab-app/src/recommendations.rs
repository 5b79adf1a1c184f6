//! Recommendations from the account's own data: the daily series and breakdowns the
//! anomaly detector reads, the token mixes switches and optimizations reprice, and the
//! three together with their savings counted once per model.
//!
//! - Anomalies judge the last `days` UTC days *including today*: a partial day can only
//!   look lower than it will end, so a day already abnormal by noon is reported, and a
//!   quiet morning is never a false alarm.
//! - Switches and optimizations reprice the token mix of the last `days` days (default
//!   30), normalised to a 30-day month.

use llmlab_store::WorkspaceId;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use llmlab_engine::Usd;
use llmlab_engine::aggregate::Totals;
use llmlab_engine::providers::Catalog;
use llmlab_recs::{
    Anomaly, AnomalyConfig, DailyBreakdown, DailyCost, Dimension, ModelMix, ModelSwitch,
    Optimization, OptimizationConfig, SwitchConfig, detect_anomalies, find_optimizations,
    long_context_thresholds, suggest_model_switches, total_potential_monthly_savings,
};
use llmlab_store::{DAY_MICROS, EventFilter, Store, StoreError, TokenMixRow};

use crate::AppError;

/// Tag keys whose values anomaly attribution looks at, at most.
const MAX_TAG_KEYS: u32 = 10;

/// Values of a tag key attribution looks at one by one: the costliest of each anomalous
/// day (a driver's excess on a day is at most its spend that day); the key's other
/// values are added up as one more value. However many values a key has, the breakdown
/// stays this size.
const TAG_VALUES_PER_DAY: u32 = 100;

/// Everything at once.
pub struct Report {
    /// Abnormal days.
    pub anomalies: Vec<Anomaly>,
    /// Cheaper models.
    pub switches: Vec<ModelSwitch>,
    /// Changes in how models are used.
    pub optimizations: Vec<Optimization>,
    /// What all of it could save per 30 days, each model counted once.
    pub total_monthly_savings: Usd,
}

/// Anomalies, switches and optimizations of the last `days` days.
pub fn report(
    s: &Store,
    catalog: &Catalog,
    workspace: WorkspaceId,
    anomalies: &AnomalyConfig,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Report, AppError> {
    let found = anomalies_for(s, workspace, anomalies, now)?;
    let mixes = model_mixes(s, catalog, workspace, days, now)?;
    let switches = suggest_model_switches(catalog, &mixes, days, &SwitchConfig::default())?;
    let optimizations = find_optimizations(catalog, &mixes, days, &OptimizationConfig::default())?;
    let total_monthly_savings = total_potential_monthly_savings(&switches, &optimizations);
    Ok(Report {
        anomalies: found,
        switches,
        optimizations,
        total_monthly_savings,
    })
}

/// Cheaper models for the token mix of the last `days` days.
pub fn model_switches(
    s: &Store,
    catalog: &Catalog,
    workspace: WorkspaceId,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Vec<ModelSwitch>, AppError> {
    let mixes = model_mixes(s, catalog, workspace, days, now)?;
    Ok(suggest_model_switches(
        catalog,
        &mixes,
        days,
        &SwitchConfig::default(),
    )?)
}

fn utc_day(micros: i64) -> NaiveDate {
    DateTime::from_timestamp_micros(micros.div_euclid(DAY_MICROS) * DAY_MICROS)
        .unwrap_or_default()
        .date_naive()
}

/// `[first, last]` as a store filter over whole UTC days.
fn days_filter(first: NaiveDate, last: NaiveDate) -> EventFilter {
    EventFilter::between(day_micros(first), day_micros(last + Duration::days(1)))
}

/// The anomalies of the history `config` needs, ending with today (UTC). Attribution
/// needs a breakdown by model, provider and tag value; it is read only when some day is
/// anomalous, and only for the days those anomalies are judged against.
pub fn anomalies_for(
    store: &Store,
    workspace: WorkspaceId,
    config: &AnomalyConfig,
    now: DateTime<Utc>,
) -> Result<Vec<Anomaly>, AppError> {
    let (first, today) = history(config, now);
    let days: Vec<(i64, i64)> = store
        .slots(workspace, &days_filter(first, today), 86_400)?
        .iter()
        .map(|r| (r.slot_start_micros, r.sums.cost_nanos))
        .collect();
    anomalies_in(store, workspace, config, now, &days)
}

/// The UTC days, first and last (today), whose spend [`anomalies_for`] judges.
pub(crate) fn history(config: &AnomalyConfig, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let today = now.date_naive();
    (
        today - Duration::days(i64::from(config.history_days()) - 1),
        today,
    )
}

/// [`anomalies_for`] with the spend of the days of [`history`] already read:
/// `(00:00 UTC in microseconds, nano-dollars)` per day that spent, oldest first.
pub(crate) fn anomalies_in(
    store: &Store,
    workspace: WorkspaceId,
    config: &AnomalyConfig,
    now: DateTime<Utc>,
    days: &[(i64, i64)],
) -> Result<Vec<Anomaly>, AppError> {
    let (first, today) = history(config, now);
    // Gaps are zero-spend days; the series must start at the window's first day so a new
    // user's first day is not compared with nothing.
    let mut series = vec![DailyCost::new(first, Usd::ZERO)];
    series.extend(
        days.iter()
            .map(|&(day, cost)| DailyCost::new(utc_day(day), Usd::from_nanos(cost))),
    );
    series.push(DailyCost::new(today, Usd::ZERO));
    let found = detect_anomalies(&series, &[], config)?;
    let Some(earliest) = found.iter().map(|a| a.date).min() else {
        return Ok(found);
    };
    let from = (earliest - Duration::days(i64::from(config.baseline_days))).max(first);
    let anomalous: Vec<NaiveDate> = found.iter().map(|a| a.date).collect();
    let breakdown = breakdown(store, workspace, &days_filter(from, today), &anomalous)?;
    Ok(detect_anomalies(&series, &breakdown, config)?)
}

/// 00:00 UTC of `day`, in microseconds.
pub(crate) fn day_micros(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_micros()
}

/// Daily spend by model, provider and tag value (the values that spent most on the
/// `anomalous` days, and the rest of each key added up).
fn breakdown(
    store: &Store,
    workspace: WorkspaceId,
    filter: &EventFilter,
    anomalous: &[NaiveDate],
) -> Result<Vec<DailyBreakdown>, StoreError> {
    let mut breakdown = Vec::new();
    let mut per_provider: BTreeMap<(NaiveDate, String), Usd> = BTreeMap::new();
    for r in store.daily_by_model(workspace, filter)? {
        let (day, cost) = (utc_day(r.day_start_micros), Usd::from_nanos(r.cost_nanos));
        let slot = per_provider.entry((day, r.provider.clone())).or_default();
        *slot = slot.saturating_add(cost);
        breakdown.push(DailyBreakdown::new(
            day,
            Dimension::model(r.provider, r.model),
            cost,
        ));
    }
    breakdown.extend(
        per_provider
            .into_iter()
            .map(|((day, p), cost)| DailyBreakdown::new(day, Dimension::provider(p), cost)),
    );
    let focus: Vec<i64> = anomalous
        .iter()
        .map(|d| days_filter(*d, *d).start_micros.unwrap_or_default())
        .collect();
    for key in store.tag_keys(workspace, filter, MAX_TAG_KEYS)? {
        for r in store.daily_by_tag(workspace, filter, &key, &focus, TAG_VALUES_PER_DAY)? {
            let dimension = match r.value {
                Some(value) => Dimension::tag(key.clone(), value),
                None => Dimension::other_tag_values(key.clone()),
            };
            breakdown.push(DailyBreakdown::new(
                utc_day(r.day_start_micros),
                dimension,
                Usd::from_nanos(r.cost_nanos),
            ));
        }
    }
    Ok(breakdown)
}

/// The sums of one `(provider, model, batch)` row of the token mix.
fn token_totals(r: &TokenMixRow) -> Totals {
    Totals {
        cost: Usd::from_nanos(r.cost_nanos),
        calls: u64::try_from(r.calls).unwrap_or(0),
        tokens: crate::tokens::from_store(&r.tokens),
    }
}

/// Per model, the token mix of the last `days` days, with the sums of the prompts above
/// each long-context threshold some prompt crossed. Fine-tunes are left out: a switch
/// away from a fine-tune is not like for like.
fn model_mixes(
    store: &Store,
    catalog: &Catalog,
    workspace: WorkspaceId,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Vec<ModelMix>, StoreError> {
    let end = now.timestamp_micros();
    let filter = EventFilter::between(end - i64::from(days) * DAY_MICROS, end);
    let mut mixes: BTreeMap<(String, String), ModelMix> = BTreeMap::new();
    for r in store.token_mix(workspace, &filter, None)? {
        if r.model.starts_with("ft:") {
            continue;
        }
        let mix = mixes
            .entry((r.provider.clone(), r.model.clone()))
            .or_insert_with(|| ModelMix::new(r.provider.clone(), r.model.clone()));
        if r.batch {
            mix.batch = token_totals(&r);
        } else {
            mix.standard = token_totals(&r);
        }
        mix.max_input_tokens = mix
            .max_input_tokens
            .max(u64::try_from(r.max_input_tokens).unwrap_or(0));
    }
    let largest = mixes
        .values()
        .map(|m| m.max_input_tokens)
        .max()
        .unwrap_or(0);
    for threshold in long_context_thresholds(catalog) {
        if threshold >= largest {
            break;
        }
        let above = i64::try_from(threshold).unwrap_or(i64::MAX);
        for r in store.token_mix(workspace, &filter, Some(above))? {
            if let Some(mix) = mixes.get_mut(&(r.provider.clone(), r.model.clone())) {
                *mix = std::mem::take(mix).tracking_long_prompts(&[threshold]);
                if let Some(long) = mix
                    .long_prompts
                    .iter_mut()
                    .find(|l| l.threshold_tokens == threshold)
                {
                    if r.batch {
                        long.batch = token_totals(&r);
                    } else {
                        long.standard = token_totals(&r);
                    }
                }
            }
        }
    }
    Ok(mixes.into_values().collect())
}
