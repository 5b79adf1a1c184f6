//! The outbox's queue as delivering instances take from it: a look past busy receivers
//! leaves out exactly their channels' rows (the same split of a URL as `Host::of`), a
//! claim takes only what was chosen and hands each row over with its channel, and
//! attempts recorded together do not fail one another.

use chrono::TimeDelta;
use llmlab_store::outbox::{Host, peek};
use llmlab_store::{
    ChannelId, NewChannel, NextStep, NotificationDeliveryRow, Store, WorkspaceId, both_backends,
    delivery, now_utc,
};

use crate::user;

fn channel(store: &Store, w: WorkspaceId, name: &str, kind: &str, target: &str) -> ChannelId {
    let new = NewChannel {
        name: name.into(),
        kind: kind.into(),
        target: target.into(),
        events: "report_weekly".into(),
        created_by: None,
    };
    let id = store.create_channel(w, &new).unwrap().id;
    let occasion = ("report_weekly", "report_weekly:2026-11-30");
    store
        .enqueue_notification(w, id, occasion, "{}")
        .unwrap()
        .unwrap();
    id
}

fn origin(s: &str) -> Host {
    Host::Origin(s.into())
}

both_backends!(a_look_leaves_out_the_busy_receivers, |_db, store: Store| {
    let w = user(&store, "queue@example.com");
    let targets = [
        ("path", "webhook", "http://a.example/hook"),
        ("query", "webhook", "http://a.example?k=v/w"),
        ("bare", "webhook", "http://a.example"),
        ("longer name", "slack", "http://a.example.org/services/x"),
        ("other case", "webhook", "http://A.example/hook"),
        ("mail", "email", "ops@example.com"),
    ];
    let ids: Vec<ChannelId> = targets
        .iter()
        .map(|(name, kind, target)| channel(&store, w, name, kind, target))
        .collect();
    let now = now_utc();
    let hosts_past = |busy: &[Host]| -> Vec<Host> {
        store
            .peek_due_notifications(now, busy, 100)
            .unwrap()
            .into_iter()
            .map(|d| d.host)
            .collect()
    };
    assert_eq!(
        hosts_past(&[]),
        [
            origin("http://a.example"),
            origin("http://a.example"),
            origin("http://a.example"),
            origin("http://a.example.org"),
            origin("http://A.example"),
            Host::Smtp,
        ]
    );
    assert_eq!(
        hosts_past(&[origin("http://a.example")]),
        [
            origin("http://a.example.org"),
            origin("http://A.example"),
            Host::Smtp
        ]
    );
    assert_eq!(
        hosts_past(&[
            Host::Smtp,
            origin("http://a.example.org"),
            origin("http://a")
        ]),
        [
            origin("http://a.example"),
            origin("http://a.example"),
            origin("http://a.example"),
            origin("http://A.example"),
        ]
    );
    let limited = store.with_conn(|c| peek(c, now, &[], 2)).unwrap();
    assert_eq!(limited.len(), 2, "oldest first, as many as asked");

    // Claimed: handed over with the channel, and leased away from the next look.
    let lease = now + TimeDelta::seconds(60);
    let chosen: Vec<(WorkspaceId, i64)> = limited.iter().map(|d| (d.workspace_id, d.id)).collect();
    let claimed = store.claim_notifications(&chosen, now, lease).unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|(n, c)| (n.id, n.status.as_str(), c.id, c.target.as_str()))
            .collect::<Vec<_>>(),
        [
            (limited[0].id, delivery::DELIVERING, ids[0], targets[0].2),
            (limited[1].id, delivery::DELIVERING, ids[1], targets[1].2),
        ]
    );
    assert!(
        store
            .claim_notifications(&chosen, now, lease)
            .unwrap()
            .is_empty()
    );
    assert_eq!(hosts_past(&[]).len(), 4);

    // Recorded together; the second's channel (and notification) is gone meanwhile, so
    // only it fails.
    let attempt = |(n, c): &(llmlab_store::NotificationRow, llmlab_store::ChannelRow)| {
        let row = NotificationDeliveryRow {
            workspace_id: n.workspace_id,
            notification_id: n.id,
            channel_id: c.id,
            attempt: 1,
            attempted_at: now,
            target: c.target.clone(),
            status_code: Some(204),
            ok: true,
            error: None,
            duration_ms: 1,
        };
        (n.clone(), row, NextStep::Done(delivery::DELIVERED))
    };
    let batch: Vec<_> = claimed.iter().map(attempt).collect();
    assert!(store.delete_channel(w, ids[1]).unwrap());
    let recorded = store.record_attempts(&batch);
    assert!(matches!(recorded[0], Ok(true)), "{recorded:?}");
    assert!(recorded[1].is_err(), "{recorded:?}");
    let history = store.channel_history(w, ids[0], 10).unwrap();
    assert_eq!(history[0].0.status, delivery::DELIVERED);
    assert_eq!(history[0].1.len(), 1);
    // Recorded once only, also when the whole batch comes again.
    let again = store.record_attempts(&batch[..1]);
    assert!(matches!(again[0], Ok(false)), "{again:?}");
});

// A lease that runs out hands the row to another instance, at the lease's end and not
// before (the clock is given, not slept on); once one attempt is recorded, the instance
// that overran its lease records nothing, and the row is never claimed again.
both_backends!(an_overrun_lease_is_taken_over_once, |_db, store: Store| {
    let w = user(&store, "lease@example.com");
    let hook = channel(&store, w, "hook", "webhook", "http://a.example/hook");
    let t0 = now_utc();
    let lease = TimeDelta::seconds(60);
    let first = store.claim_due_notifications(t0, t0 + lease, 10).unwrap();
    assert_eq!(first.len(), 1);
    let just_before = t0 + lease - TimeDelta::microseconds(1);
    assert!(
        store
            .claim_due_notifications(just_before, just_before + lease, 10)
            .unwrap()
            .is_empty()
    );
    let second = store
        .claim_due_notifications(t0 + lease, t0 + lease + lease, 10)
        .unwrap();
    assert_eq!(
        second.iter().map(|n| n.id).collect::<Vec<_>>(),
        [first[0].id]
    );
    let attempt = |n: &llmlab_store::NotificationRow, at| {
        let row = NotificationDeliveryRow {
            workspace_id: n.workspace_id,
            notification_id: n.id,
            channel_id: hook,
            attempt: n.attempts + 1,
            attempted_at: at,
            target: "http://a.example/hook".into(),
            status_code: Some(204),
            ok: true,
            error: None,
            duration_ms: 1,
        };
        (n.clone(), row, NextStep::Done(delivery::DELIVERED))
    };
    let taken_over = store.record_attempts(&[attempt(&second[0], t0 + lease)]);
    assert!(matches!(taken_over[..], [Ok(true)]), "{taken_over:?}");
    let overran = store.record_attempts(&[attempt(&first[0], t0 + lease + lease)]);
    assert!(matches!(overran[..], [Ok(false)]), "{overran:?}");
    let later = t0 + TimeDelta::days(1);
    assert!(
        store
            .claim_due_notifications(later, later + lease, 10)
            .unwrap()
            .is_empty()
    );
    let history = store.channel_history(w, hook, 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].0.status, delivery::DELIVERED);
    assert_eq!(history[0].1.len(), 1, "one attempt recorded");
});
