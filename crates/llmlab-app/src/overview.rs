//! The dashboard's overview: the spend of a span of days (this month, last month, the
//! last 7, 30 or 90 days, or any dates) per day in a zone, split by provider, model, the
//! values of one tag key or the API keys that sent the events (the few costliest, the
//! rest as `others`), against the span before it, with the top models and providers,
//! the budgets and the anomalies.
//! Every figure is the summary's for the same range and zone.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use llmlab_engine::Usd;
use llmlab_engine::aggregate::Totals;
use llmlab_engine::period::{Granularity, Zone, bucket_start, next_bucket_start};
use llmlab_store::{EventFilter, GroupTotals, ModelTotals, Sender, Store, WorkspaceId};

use crate::AppError;
use crate::reports::{Series, summary, totals};

/// Groups drawn as their own series on the overview; the rest are stacked as one.
pub const STACKED: usize = 5;

/// Longest span of days an overview covers.
pub const MAX_DAYS: i64 = 366;

/// One series of a stacked chart: a name and an amount per bucket.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The provider, model, tag value or sender, or `others`.
    pub name: String,
    /// Spend per bucket.
    pub amounts: Vec<Usd>,
}

/// The days an overview covers, in its zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The month holding today.
    ThisMonth,
    /// The month before.
    LastMonth,
    /// The last `n` days, today included.
    LastDays(u32),
    /// From one day to another, both included.
    Dates(NaiveDate, NaiveDate),
}

impl Span {
    /// The span named `name` (`this-month`, `last-month`, `7d`, `30d`, `90d`, or
    /// `custom` with `from` and `to`).
    pub fn parse(
        name: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Span, AppError> {
        Ok(match name {
            "this-month" => Span::ThisMonth,
            "last-month" => Span::LastMonth,
            "7d" => Span::LastDays(7),
            "30d" => Span::LastDays(30),
            "90d" => Span::LastDays(90),
            "custom" => {
                let (Some(from), Some(to)) = (from, to) else {
                    return Err(AppError::invalid("from", "a custom range needs both dates"));
                };
                if from > to {
                    return Err(AppError::invalid("from", "must not be after the end"));
                }
                if (to - from).num_days() >= MAX_DAYS {
                    return Err(AppError::invalid(
                        "to",
                        format!("an overview covers at most {MAX_DAYS} days"),
                    ));
                }
                Span::Dates(from, to)
            }
            _ => {
                return Err(AppError::invalid(
                    "range",
                    "one of this-month, last-month, 7d, 30d, 90d, custom",
                ));
            }
        })
    }

    /// Start (inclusive) and end (exclusive) at `now` in `zone`, and those of the span
    /// before it (the month before a month; as many days before a run of days).
    pub fn bounds(self, now: DateTime<Utc>, zone: Zone) -> [(DateTime<Utc>, DateTime<Utc>); 2] {
        let month = |t| bucket_start(t, Granularity::Month, zone);
        let before =
            |start: DateTime<Utc>, g| bucket_start(start - Duration::microseconds(1), g, zone);
        let (start, end) = match self {
            Span::ThisMonth => {
                let start = month(now);
                (start, next_bucket_start(start, Granularity::Month, zone))
            }
            Span::LastMonth => {
                let end = month(now);
                (before(end, Granularity::Month), end)
            }
            Span::LastDays(n) => {
                let today = bucket_start(now, Granularity::Day, zone);
                let end = next_bucket_start(today, Granularity::Day, zone);
                (days_before(today, n.saturating_sub(1), zone), end)
            }
            Span::Dates(from, to) => {
                let start = day_of(from, zone);
                (
                    start,
                    next_bucket_start(day_of(to, zone), Granularity::Day, zone),
                )
            }
        };
        let previous = match self {
            Span::ThisMonth | Span::LastMonth => (before(start, Granularity::Month), start),
            _ => {
                let days = local_days(start, end, zone);
                (days_before(start, days, zone), start)
            }
        };
        [(start, end), previous]
    }
}

/// The start of the local day `n` days before the day starting at `day`.
fn days_before(mut day: DateTime<Utc>, n: u32, zone: Zone) -> DateTime<Utc> {
    for _ in 0..n {
        day = bucket_start(day - Duration::microseconds(1), Granularity::Day, zone);
    }
    day
}

/// Local days from `start` to `end`, both day starts.
fn local_days(start: DateTime<Utc>, end: DateTime<Utc>, zone: Zone) -> u32 {
    let (mut day, mut n) = (start, 0);
    while day < end && n < u32::try_from(MAX_DAYS).unwrap_or(u32::MAX) {
        day = next_bucket_start(day, Granularity::Day, zone);
        n += 1;
    }
    n
}

/// The start of local date `date` in `zone` (found from its noon, which every date has
/// whatever the clock changes).
fn day_of(date: NaiveDate, zone: Zone) -> DateTime<Utc> {
    let noon = date.and_hms_opt(12, 0, 0).unwrap_or_default();
    let at = zone
        .tz()
        .from_local_datetime(&noon)
        .earliest()
        .map_or_else(|| noon.and_utc(), |t| t.with_timezone(&Utc));
    bucket_start(at, Granularity::Day, zone)
}

/// How the overview's chart splits spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// By provider.
    Provider,
    /// By model.
    Model,
    /// By the values of one tag key (events without it are among `others`).
    Tag(String),
    /// By the API key that sent the events (people's sessions as one group). Rollups
    /// do not keep the sender, so this split reads the range's events.
    Key,
}

/// How a sender is named in the split: the key's name, or who else sent the events.
fn sender_name(t: &llmlab_store::SenderTotals) -> String {
    match (t.sender, &t.name) {
        (Sender::Key(_), Some(name)) => format!("key: {name}"),
        (Sender::Key(id), None) => format!("key #{id} (deleted)"),
        (Sender::Session, _) => "signed-in people".into(),
    }
}

/// What an overview shows, read in one go.
pub struct Overview {
    /// Its first and last instants (start inclusive, end exclusive).
    pub start: DateTime<Utc>,
    /// See `start`.
    pub end: DateTime<Utc>,
    /// The daily spend of the span.
    pub series: Series,
    /// The span before it, in total.
    pub previous: Totals,
    /// The [`STACKED`] costliest models.
    pub models: Vec<ModelTotals>,
    /// Spend per provider, costliest first.
    pub providers: Vec<GroupTotals>,
    /// The budgets with their status now.
    pub budgets: Vec<crate::budgets::Evaluated>,
    /// The daily spend of the [`STACKED`] costliest groups, and the rest as `others`.
    pub stacks: Vec<Stack>,
    /// Days of the span's anomalies (`YYYY-MM-DD`).
    pub anomalies: Vec<String>,
    /// The workspace holds no event at all: its first steps are still to be taken.
    pub no_events: bool,
    /// The tag key split by, when its ranking would answer faster once built (see
    /// [`crate::tag_rankings`]).
    pub wants_ranking: Option<String>,
}

/// The overview of `span` at `now` in `zone`, split by `grouping` (see [`Overview`]).
pub fn overview(
    s: &Store,
    workspace: WorkspaceId,
    (span, zone, grouping): (Span, Zone, &Grouping),
    now: DateTime<Utc>,
) -> Result<Overview, AppError> {
    let between = |a: DateTime<Utc>, b: DateTime<Utc>| {
        EventFilter::between(a.timestamp_micros(), b.timestamp_micros())
    };
    let [(start, end), (before, _)] = span.bounds(now, zone);
    let range = between(start, end);
    let series = summary(s, workspace, &range, (start, end), Granularity::Day, zone)?;
    let previous =
        s.with_conn(|c| llmlab_store::analytics::totals(c, workspace, &between(before, start)))?;
    let previous = totals(
        previous.cost_nanos,
        previous.calls,
        previous.tokens.input_tokens,
        previous.tokens.output_tokens,
    );
    // One read serves the table (five) and the split by model (whether there are more
    // than the stacked ones).
    let mut models = s.top_models(workspace, &range, STACKED as u32 + 1)?;
    let more_models = models.len() > STACKED;
    models.truncate(STACKED);
    let providers = s.cost_by_provider(workspace, &range)?;
    let budgets = crate::budgets::list(s, workspace, now)?;
    // The costliest groups, each as the filter that selects it.
    let mut wants_ranking = None;
    let (groups, more): (Vec<(String, EventFilter)>, bool) = match grouping {
        Grouping::Provider => (
            providers
                .iter()
                .take(STACKED)
                .map(|p| {
                    let only = EventFilter {
                        provider: Some(p.provider.clone()),
                        ..range.clone()
                    };
                    (p.provider.clone(), only)
                })
                .collect(),
            providers.len() > STACKED,
        ),
        Grouping::Model => {
            let groups = models
                .iter()
                .map(|m| {
                    let only = EventFilter {
                        provider: Some(m.provider.clone()),
                        model: Some(m.model.clone()),
                        ..range.clone()
                    };
                    (format!("{}/{}", m.provider, m.model), only)
                })
                .collect();
            (groups, more_models)
        }
        Grouping::Tag(key) => {
            let values = s.cost_by_tag(workspace, &range, key)?;
            if values.refresh {
                wants_ranking = Some(key.clone());
            }
            let groups = values
                .values
                .iter()
                .take(STACKED)
                .map(|v| {
                    let only = EventFilter {
                        tags: vec![(key.clone(), v.value.clone())],
                        ..range.clone()
                    };
                    (format!("{key}: {}", v.value), only)
                })
                .collect();
            // Untagged spend is part of the rest too.
            (groups, true)
        }
        Grouping::Key => {
            let senders = s.cost_by_sender(workspace, &range)?;
            let groups = senders
                .iter()
                .take(STACKED)
                .map(|t| {
                    let only = EventFilter {
                        sender: Some(t.sender),
                        ..range.clone()
                    };
                    (sender_name(t), only)
                })
                .collect();
            (groups, senders.len() > STACKED)
        }
    };
    let mut stacks = Vec::new();
    for (name, only) in groups {
        let part = summary(s, workspace, &only, (start, end), Granularity::Day, zone)?;
        stacks.push(Stack {
            name,
            amounts: part.buckets.iter().map(|b| b.totals.cost).collect(),
        });
    }
    let shown: Vec<Usd> = (0..series.buckets.len())
        .map(|i| stacks.iter().map(|s| s.amounts[i]).sum())
        .collect();
    let rest: Vec<Usd> = series
        .buckets
        .iter()
        .zip(shown)
        .map(|(b, s)| b.totals.cost.saturating_sub(s))
        .collect();
    if more && rest.iter().any(|r| *r != Usd::ZERO) {
        stacks.push(Stack {
            name: "others".into(),
            amounts: rest,
        });
    }
    let config = llmlab_recs::AnomalyConfig::default();
    let (first, last) = (
        start.with_timezone(&zone.tz()).date_naive(),
        (end - Duration::microseconds(1))
            .with_timezone(&zone.tz())
            .date_naive(),
    );
    let anomalies = crate::recommendations::anomalies_for(s, workspace, &config, now)?
        .iter()
        .filter(|a| a.date >= first && a.date <= last)
        .map(|a| a.date.to_string())
        .collect();
    let no_events = series.total().calls == 0
        && previous.calls == 0
        && s.list_events(workspace, &EventFilter::default(), None, 1)?
            .events
            .is_empty();
    Ok(Overview {
        start,
        end,
        series,
        previous,
        models,
        providers,
        budgets,
        stacks,
        anomalies,
        wants_ranking,
        no_events,
    })
}
