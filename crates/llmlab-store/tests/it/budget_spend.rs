//! Every budget's spend read in one statement equals its spend read alone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use llmlab_store::{EventFilter, NewBudget, NewEvent, both_backends};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::budgets::budget;
use crate::events::{filters, random_events};
use crate::{HOUR, T0, event, tags, user};

/// A budget's scope: provider, model, tag.
type Scope = (
    Option<&'static str>,
    Option<&'static str>,
    Option<(&'static str, &'static str)>,
);

/// The current `period` (`daily`, `weekly`, `monthly`, `total`) in `zone` at `now`, as
/// microseconds: what a budget's window is.
fn window(period: &str, zone: Tz, now: i64) -> (Option<i64>, Option<i64>) {
    let local = DateTime::from_timestamp_micros(now)
        .unwrap()
        .with_timezone(&zone);
    let today = local.date_naive();
    let (first, next) = match period {
        "daily" => (today, today + Duration::days(1)),
        "weekly" => {
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            (monday, monday + Duration::days(7))
        }
        "monthly" => {
            let first = today.with_day(1).unwrap();
            let (y, m) = if first.month() == 12 {
                (first.year() + 1, 1)
            } else {
                (first.year(), first.month() + 1)
            };
            (first, NaiveDate::from_ymd_opt(y, m, 1).unwrap())
        }
        _ => return (None, None),
    };
    let micros = |d: NaiveDate| {
        zone.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .earliest()
            .unwrap()
            .timestamp_micros()
    };
    (Some(micros(first)), Some(micros(next)))
}

both_backends!(spend_each_equals_spend, |_db, store| {
    let mut rng = StdRng::seed_from_u64(41);
    let a = user(&store, "a@x.test");
    let b = user(&store, "b@x.test");
    let mut events = random_events(&mut rng, 600);
    // A tag with many values, and events on slot edges.
    for (i, e) in events.iter_mut().enumerate() {
        if i % 3 == 0 {
            e.tags.insert("customer".into(), format!("c{}", i % 40));
        }
    }
    events.push(NewEvent {
        tags: tags(&[("team", "growth"), ("customer", "c0")]),
        ..event(T0 + 4 * 24 * HOUR, "openai", "gpt-4o", 7_000_000)
    });
    for chunk in events.chunks(200) {
        store.insert_batch(a, chunk).unwrap();
    }
    store
        .insert_batch(b, &random_events(&mut rng, 200))
        .unwrap();

    let scopes: Vec<Scope> = vec![
        (None, None, None),
        (Some("openai"), None, None),
        (None, Some("claude-3-haiku"), None),
        (Some("openai"), Some("gpt-4o-mini"), None),
        (None, None, Some(("team", "growth"))),
        (None, None, Some(("customer", "c0"))),
        (None, None, Some(("customer", "c3"))),
        (Some("openai"), None, Some(("team", "growth"))),
        (None, Some("gemini-1.5-pro"), Some(("feature", "chat"))),
        (
            Some("google"),
            Some("gemini-1.5-flash"),
            Some(("team", "search")),
        ),
        (Some("nobody"), None, None),
        (None, None, Some(("team", "nobody"))),
    ];
    let zones: [Tz; 5] = [
        chrono_tz::UTC,
        chrono_tz::America::New_York,
        chrono_tz::Asia::Kathmandu,
        chrono_tz::America::St_Johns,
        chrono_tz::Pacific::Kiritimati,
    ];
    let periods = ["daily", "weekly", "monthly", "total"];
    let now = T0 + 4 * 24 * HOUR + 10 * HOUR + 7;
    let mut selections = Vec::new();
    for (i, (provider, model, tag)) in scopes.iter().enumerate() {
        let row = store
            .create_budget(
                a,
                &NewBudget {
                    scope_provider: provider.map(str::to_owned),
                    scope_model: model.map(str::to_owned),
                    scope_tag_key: tag.map(|t| t.0.to_owned()),
                    scope_tag_value: tag.map(|t| t.1.to_owned()),
                    ..budget(&format!("b{i}"))
                },
            )
            .unwrap();
        for (j, period) in periods.iter().enumerate() {
            let (start, end) = window(period, zones[(i + j) % zones.len()], now);
            selections.push(EventFilter {
                start_micros: start,
                end_micros: end,
                ..row.filter(0, 0)
            });
        }
    }
    // Ranges that cut rollup slots (raw edges), near and far apart, and the report
    // filters (several tags at once).
    let minute = HOUR / 60;
    selections.push(EventFilter::between(
        T0 + 7 * minute + 13,
        T0 + 4 * 24 * HOUR,
    ));
    selections.push(EventFilter {
        provider: Some("anthropic".into()),
        ..EventFilter::between(T0 + minute, T0 + 10 * minute)
    });
    selections.push(EventFilter {
        tags: vec![("team".into(), "growth".into())],
        ..EventFilter::between(T0 + 3 * minute, T0 + 5 * 24 * HOUR + 16 * minute)
    });
    selections.extend(filters());

    let expected: Vec<i64> = selections
        .iter()
        .map(|f| store.spend(a, f).unwrap())
        .collect();
    assert_eq!(store.spend_each(a, &selections).unwrap(), expected);
    // Neither a figure of zero everywhere nor one figure repeated: the comparison says
    // something.
    let mut distinct = expected.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > selections.len() / 2, "{expected:?}");
    assert!(expected.contains(&0));

    // One at a time, in another order, none, and another workspace's.
    for (f, e) in selections.iter().zip(&expected).step_by(7) {
        assert_eq!(store.spend_each(a, std::slice::from_ref(f)).unwrap(), [*e]);
    }
    let reversed: Vec<EventFilter> = selections.iter().rev().cloned().collect();
    let mut back = store.spend_each(a, &reversed).unwrap();
    back.reverse();
    assert_eq!(back, expected);
    assert!(store.spend_each(a, &[]).unwrap().is_empty());
    // More than one statement's worth.
    let many: Vec<EventFilter> = selections.iter().cycle().take(600).cloned().collect();
    let expected_many: Vec<i64> = expected.iter().cycle().take(600).copied().collect();
    assert_eq!(store.spend_each(a, &many).unwrap(), expected_many);
    let theirs: Vec<i64> = selections
        .iter()
        .map(|f| store.spend(b, f).unwrap())
        .collect();
    assert_eq!(store.spend_each(b, &selections).unwrap(), theirs);
});
