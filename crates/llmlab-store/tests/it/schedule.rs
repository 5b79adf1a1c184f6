//! The notification schedule: which workspaces a tick visits, the lease of a visit, and
//! alerts whose channels were not told.

use llmlab_store::schedule::{Due, Next};
use llmlab_store::{BudgetId, ChannelId, NewAlert, NewChannel, Store, WorkspaceId, both_backends};

use super::budgets::budget;
use super::{HOUR, T0, event, user};

fn channel(store: &Store, ws: WorkspaceId, name: &str) -> ChannelId {
    store
        .create_channel(
            ws,
            &NewChannel {
                name: name.into(),
                kind: "webhook".into(),
                target: "https://hooks.test/1".into(),
                events: "anomaly".into(),
                created_by: None,
            },
        )
        .unwrap()
        .id
}

/// A warning of budget `budget_id` in the period starting at `T0`.
fn warning(budget_id: BudgetId) -> NewAlert {
    NewAlert {
        budget_id,
        period_start: T0,
        level: "warning".into(),
        spent_nanos: 1,
        amount_nanos: 2,
    }
}

fn due(store: &Store, now: i64) -> Vec<Due> {
    store.due_for_notifications(now, 100).unwrap()
}

/// Claims the visit of `ws` alone: what was claimed.
fn claim(store: &Store, ws: WorkspaceId, now: i64, lease: i64) -> Option<Due> {
    let mut taken = store.claim_notification_visits(&[ws], now, lease).unwrap();
    assert!(taken.len() <= 1);
    taken.pop()
}

/// Ends the visit `seen` alone: whether its outcome was kept.
fn reschedule(store: &Store, seen: Due, lease: i64, next: Option<Next>) -> bool {
    match store
        .reschedule_notifications(&[(seen, next)], lease)
        .unwrap()
    {
        0 => false,
        1 => true,
        n => panic!("one visit ended, {n} rows moved"),
    }
}

// Only workspaces with channels are on the schedule; a new channel makes its workspace
// due at once with everything to look at.
both_backends!(
    a_channel_puts_its_workspace_on_the_schedule,
    |_db, store| {
        let (a, b) = (user(&store, "a@x.test"), user(&store, "b@x.test"));
        assert_eq!(store.notifications_due_at(a).unwrap(), None);
        // Ingestion in a workspace without channels writes nothing.
        assert!(!store.mark_notifications_due(a, T0).unwrap());
        channel(&store, a, "one");
        let at = store.notifications_due_at(a).unwrap().unwrap();
        let now = at.max(T0);
        let found = due(&store, now);
        assert_eq!(
            found,
            [Due {
                workspace_id: a,
                changed: true
            }]
        );
        // A second channel keeps one row.
        channel(&store, a, "two");
        assert_eq!(due(&store, now).len(), 1);
        assert!(!due(&store, now).iter().any(|d| d.workspace_id == b));
    }
);

// A visit leases the workspace: a second instance cannot claim it; when the visit ends
// the workspace waits until its next due time, and a change then makes it due again,
// changed.
both_backends!(a_visit_leases_and_reschedules, |_db, store| {
    let a = user(&store, "lease@x.test");
    channel(&store, a, "c");
    let now = store.notifications_due_at(a).unwrap().unwrap() + HOUR;
    let seen = due(&store, now)[0];
    let lease = now + 5 * 60_000_000;
    assert!(claim(&store, a, now, lease).is_some());
    assert!(claim(&store, a, now, lease).is_none());
    assert!(due(&store, now).is_empty());
    let next = Next {
        at: now + 24 * HOUR,
        full: false,
    };
    assert!(reschedule(&store, seen, lease, Some(next)));
    assert!(due(&store, now + 23 * HOUR).is_empty());
    assert_eq!(
        due(&store, now + 24 * HOUR),
        [Due {
            workspace_id: a,
            changed: false
        }]
    );
    // Events arrive: due now, with a change; marked once, not per event.
    assert!(store.mark_notifications_due(a, now + HOUR).unwrap());
    assert!(!store.mark_notifications_due(a, now + 2 * HOUR).unwrap());
    assert_eq!(
        due(&store, now + HOUR),
        [Due {
            workspace_id: a,
            changed: true
        }]
    );
});

// A tick claims its batch in one statement, each workspace at most once across
// instances, and reschedules the batch together: each visit's outcome is kept but for
// the workspace changed during its visit, which stays due.
both_backends!(a_batch_is_claimed_and_rescheduled_together, |_db, store| {
    let spaces: Vec<WorkspaceId> = (0..4)
        .map(|k| {
            let ws = user(&store, &format!("batch{k}@x.test"));
            channel(&store, ws, "c");
            ws
        })
        .collect();
    let now = spaces
        .iter()
        .map(|ws| store.notifications_due_at(*ws).unwrap().unwrap())
        .max()
        .unwrap()
        + HOUR;
    let lease = now + 5 * 60_000_000;
    // Another instance took the first one already.
    let other = claim(&store, spaces[0], now, lease).unwrap();
    let mut taken = store
        .claim_notification_visits(&spaces, now, lease)
        .unwrap();
    taken.sort_by_key(|d| d.workspace_id);
    assert_eq!(
        taken.iter().map(|d| d.workspace_id).collect::<Vec<_>>(),
        spaces[1..]
    );
    assert!(taken.iter().all(|d| d.changed));
    assert!(
        store
            .claim_notification_visits(&spaces, now, lease)
            .unwrap()
            .is_empty()
    );
    // Events for the second during its visit.
    assert!(store.mark_notifications_due(spaces[1], now + 1).unwrap());
    let daily = Next {
        at: now + 24 * HOUR,
        full: true,
    };
    let visits = [
        (taken[0], Some(daily)),
        (taken[1], Some(daily)),
        (taken[2], None),
    ];
    assert_eq!(store.reschedule_notifications(&visits, lease).unwrap(), 2);
    assert_eq!(
        store.notifications_due_at(spaces[1]).unwrap(),
        Some(now + 1)
    );
    assert_eq!(
        store.notifications_due_at(spaces[2]).unwrap(),
        Some(daily.at)
    );
    assert_eq!(store.notifications_due_at(spaces[3]).unwrap(), None);
    // The other instance's visit is its own to end.
    assert!(reschedule(&store, other, lease, Some(daily)));
    assert_eq!(
        store.notifications_due_at(spaces[0]).unwrap(),
        Some(daily.at)
    );
});

// A change during a visit is not lost: the visit's rescheduling is dropped and the
// workspace stays due; an instance that dies mid-visit only delays it to the lease's end.
both_backends!(
    a_change_during_a_visit_keeps_the_workspace_due,
    |_db, store| {
        let a = user(&store, "race@x.test");
        channel(&store, a, "c");
        let now = store.notifications_due_at(a).unwrap().unwrap() + HOUR;
        let seen = due(&store, now)[0];
        let lease = now + 5 * 60_000_000;
        assert!(claim(&store, a, now, lease).is_some());
        assert!(store.mark_notifications_due(a, now + 1).unwrap());
        let next = Next {
            at: now + 24 * HOUR,
            full: false,
        };
        assert!(!reschedule(&store, seen, lease, Some(next)));
        assert_eq!(due(&store, now + 1).len(), 1);
        // Claimed and never finished: due again when the lease ends, not before.
        assert!(claim(&store, a, now + 1, lease).is_some());
        assert!(due(&store, lease - 1).is_empty());
        assert_eq!(due(&store, lease).len(), 1);
        // A workspace whose channels are gone leaves the schedule.
        let seen = due(&store, lease)[0];
        assert!(claim(&store, a, lease, lease + 1).is_some());
        assert!(reschedule(&store, seen, lease + 1, None));
        assert_eq!(store.notifications_due_at(a).unwrap(), None);
        // Its channel is still there (the row went by another route, say an instance of
        // an earlier version made the channel): an instance starting puts it back, once.
        assert_eq!(store.enrol_all_for_notifications(lease).unwrap(), 1);
        assert_eq!(store.enrol_all_for_notifications(lease).unwrap(), 0);
        assert_eq!(store.notifications_due_at(a).unwrap(), Some(lease));
    }
);

// Alerts whose channels were not told are found across workspaces by one query; telling
// them takes an alert off that list.
both_backends!(unnotified_alerts_are_found_until_marked, |_db, store| {
    let (a, b) = (user(&store, "al@x.test"), user(&store, "bl@x.test"));
    let mut ids = Vec::new();
    for ws in [a, b] {
        let row = store.create_budget(ws, &budget("b")).unwrap();
        ids.push(
            store
                .record_alert(ws, &warning(row.id))
                .unwrap()
                .unwrap()
                .id,
        );
    }
    let since = llmlab_store::now_utc() - chrono::TimeDelta::days(1);
    let found: Vec<i64> = store
        .unnotified_alerts(since, 10)
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(found, ids);
    store.mark_alert_notified(a, ids[0]).unwrap();
    let found: Vec<_> = store.unnotified_alerts(since, 10).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].id, found[0].workspace_id), (ids[1], b));
    // Older than the window: not looked at.
    let later = llmlab_store::now_utc() + chrono::TimeDelta::minutes(1);
    assert!(store.unnotified_alerts(later, 10).unwrap().is_empty());
});

// After the migration, a starting scheduler puts every workspace with channels on the
// schedule, due at once; the alerts raised before it count as told (the ticks until then
// told them).
both_backends!(
    the_schedule_migration_enrols_workspaces_with_channels,
    |db, store| {
        let (a, b) = (user(&store, "m1@x.test"), user(&store, "m2@x.test"));
        channel(&store, a, "c");
        let row = store.create_budget(b, &budget("b")).unwrap();
        store.record_alert(b, &warning(row.id)).unwrap().unwrap();
        let reverted =
            crate::migrations::revert_through(db.url(), "2026-12-11-000001_notify_schedule");
        assert_eq!(store.migrate().unwrap(), reverted);
        assert_eq!(store.notifications_due_at(a).unwrap(), None);
        assert_eq!(store.enrol_all_for_notifications(T0).unwrap(), 1);
        assert_eq!(store.notifications_due_at(a).unwrap(), Some(T0));
        assert_eq!(store.notifications_due_at(b).unwrap(), None);
        let since = llmlab_store::now_utc() - chrono::TimeDelta::days(1);
        assert!(store.unnotified_alerts(since, 10).unwrap().is_empty());
    }
);

// What a batch of visits reads comes back per workspace, for the workspaces asked about
// only: names and zones, managed channels, budgets and their chosen channels, spend per
// UTC day in the days asked for (the same as each workspace's own daily report), and
// which workspaces hold unpriced events.
both_backends!(a_batch_of_visits_is_read_at_once, |_db, store| {
    const DAY: i64 = 24 * HOUR;
    let (a, b, c) = (
        user(&store, "va@x.test"),
        user(&store, "vb@x.test"),
        user(&store, "vc@x.test"),
    );
    let mut chosen = None;
    for ws in [a, b, c] {
        let hook = channel(&store, ws, "hook");
        let row = store.create_budget(ws, &budget("monthly")).unwrap();
        if ws == b {
            store.set_budget_channels(ws, row.id, &[hook]).unwrap();
            chosen = Some((row.id, hook));
        }
        // 1 000 + 2 000 nano-dollars on T0's day, 4 000 the next day at 23:59:59.
        // One before the days asked about, one after.
        let mut events = vec![
            event(T0 + HOUR, "openai", "gpt-4o", 1_000),
            event(T0 + 2 * HOUR, "openai", "gpt-4o", 2_000),
            event(T0 + 2 * DAY - 1_000_000, "openai", "gpt-4o", 4_000),
            event(T0 - 1, "openai", "gpt-4o", 8_000),
            event(T0 + 2 * DAY, "openai", "gpt-4o", 16_000),
        ];
        if ws == b {
            let mut lost = event(T0 + HOUR, "openai", "gpt-9", 0);
            lost.cost_source = "unpriced".into();
            events.push(lost);
        }
        store.insert_batch(ws, &events).unwrap();
    }
    let read = store.read_visits(&[b, a], T0, T0 + 2 * DAY).unwrap();
    let names: Vec<WorkspaceId> = read.workspaces.iter().map(|w| w.0).collect();
    assert_eq!(names, [a, b]);
    assert!(read.workspaces.iter().all(|w| w.2 == "UTC"));
    let owners = |ids: Vec<WorkspaceId>| ids == [a, b];
    assert!(owners(
        read.channels.iter().map(|c| c.workspace_id).collect()
    ));
    assert!(owners(
        read.budgets.iter().map(|r| r.workspace_id).collect()
    ));
    let (budget_b, hook_b) = chosen.unwrap();
    assert_eq!(read.budget_channels, [(b, budget_b, hook_b)]);
    let days: Vec<(WorkspaceId, i64, i64)> = read
        .days
        .iter()
        .map(|d| (d.workspace_id, d.day_start_micros, d.cost_nanos))
        .collect();
    assert_eq!(
        days,
        [
            (a, T0, 3_000),
            (a, T0 + DAY, 4_000),
            (b, T0, 3_000),
            (b, T0 + DAY, 4_000)
        ]
    );
    assert_eq!(read.unpriced, [b]);
    assert!(
        store
            .read_visits(&[], T0, T0 + DAY)
            .unwrap()
            .workspaces
            .is_empty()
    );
});
