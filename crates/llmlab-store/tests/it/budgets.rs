use std::sync::{Arc, Barrier};

use llmlab_store::{
    EventFilter, NewAlert, NewApiKey, NewBudget, NewCustomPrice, NextStep, NotificationDeliveryRow,
    NotificationRow, StoreError, both_backends, delivery, now_utc,
};

use crate::{HOUR, T0, event, tags, user};

pub fn budget(name: &str) -> NewBudget {
    NewBudget {
        name: name.into(),
        amount_nanos: 100_000_000_000,
        period: "monthly".into(),
        timezone: "UTC".into(),
        scope_provider: None,
        scope_model: None,
        scope_tag_key: None,
        scope_tag_value: None,
        alert_threshold_pct: 80,
        enforce: "alert".into(),
    }
}

/// A budget on the openai events of team growth.
fn openai_growth(name: &str) -> NewBudget {
    NewBudget {
        scope_provider: Some("openai".into()),
        scope_tag_key: Some("team".into()),
        scope_tag_value: Some("growth".into()),
        ..budget(name)
    }
}

both_backends!(budgets_are_scoped_by_user, |_db, store| {
    let a = user(&store, "a@x.test");
    let b = user(&store, "b@x.test");
    let scoped = openai_growth("openai-growth");
    let created = store.create_budget(a, &scoped).unwrap();
    assert_eq!(
        (created.spec.name.as_str(), created.workspace_id),
        ("openai-growth", a)
    );
    assert!(matches!(
        store.create_budget(a, &scoped),
        Err(StoreError::Conflict(_))
    ));
    let other = store.create_budget(b, &scoped).unwrap();
    let second = store.create_budget(a, &budget("all")).unwrap();

    assert_eq!(
        store.list_budgets(a).unwrap(),
        vec![created.clone(), second.clone()]
    );
    assert_eq!(store.get_budget(a, created.id).unwrap(), created);
    assert!(matches!(
        store.get_budget(a, other.id),
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.find_budget_by_name(a, "all").unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.find_budget_by_name(b, "all").unwrap(), None);

    // Update replaces every field, clearing the scope when it is None.
    let changes = NewBudget {
        amount_nanos: 5,
        alert_threshold_pct: 50,
        ..budget("renamed")
    };
    let updated = store.update_budget(a, created.id, &changes).unwrap();
    assert_eq!(
        (
            updated.id,
            updated.spec.amount_nanos,
            updated.spec.scope_provider
        ),
        (created.id, 5, None)
    );
    assert_eq!(updated.spec.name, "renamed");
    assert_eq!(updated.created_at, created.created_at);
    assert!(matches!(
        store.update_budget(a, other.id, &changes),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_budget(a, created.id, &budget("all")),
        Err(StoreError::Conflict(_))
    ));

    assert!(!store.delete_budget(a, other.id).unwrap());
    assert!(store.delete_budget(a, created.id).unwrap());
    assert!(matches!(
        store.get_budget(a, created.id),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_budgets(b).unwrap(), vec![other]);
});

both_backends!(budget_scope_spend, |_db, store| {
    let a = user(&store, "s@x.test");
    let scoped = NewBudget {
        scope_model: Some("gpt-4o".into()),
        ..openai_growth("b")
    };
    let row = store.create_budget(a, &scoped).unwrap();
    let growth = tags(&[("team", "growth")]);
    let batch = vec![
        llmlab_store::NewEvent {
            tags: growth.clone(),
            ..event(T0, "openai", "gpt-4o", 10)
        },
        llmlab_store::NewEvent {
            tags: growth.clone(),
            ..event(T0 + HOUR, "openai", "gpt-4o", 20)
        },
        llmlab_store::NewEvent {
            tags: growth.clone(),
            ..event(T0 + 2 * HOUR, "openai", "gpt-4o", 40)
        },
        llmlab_store::NewEvent {
            tags: growth.clone(),
            ..event(T0, "openai", "gpt-4o-mini", 100)
        },
        llmlab_store::NewEvent {
            tags: growth,
            ..event(T0, "anthropic", "gpt-4o", 1_000)
        },
        event(T0, "openai", "gpt-4o", 10_000),
    ];
    store.insert_batch(a, &batch).unwrap();
    assert_eq!(store.spend(a, &row.filter(T0, T0 + 2 * HOUR)).unwrap(), 30);
    assert_eq!(store.spend(a, &row.filter(T0, T0 + 3 * HOUR)).unwrap(), 70);
    let all = store.create_budget(a, &budget("all")).unwrap();
    assert_eq!(
        store.spend(a, &all.filter(T0, T0 + 3 * HOUR)).unwrap(),
        11_170
    );
});

both_backends!(alerts_are_recorded_once, |_db, store| {
    let a = user(&store, "al@x.test");
    let b = user(&store, "bl@x.test");
    let row = store.create_budget(a, &budget("b")).unwrap();
    store
        .set_budget_webhook(a, row.id, Some("http://127.0.0.1:9/hook"))
        .unwrap();
    let alert = |level: &str| NewAlert {
        budget_id: row.id,
        period_start: T0,
        level: level.into(),
        spent_nanos: 90,
        amount_nanos: 100,
    };
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (store, barrier, alert) = (store.clone(), barrier.clone(), alert("warning"));
            std::thread::spawn(move || {
                barrier.wait();
                store.record_alert(a, &alert).unwrap()
            })
        })
        .collect();
    let created: Vec<_> = threads
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(created.len(), 1, "exactly one caller creates the alert");
    let warning = created[0].clone();
    let delivery_of = |id: i64| {
        store
            .alert_deliveries(a, row.id)
            .unwrap()
            .into_iter()
            .find(|d| d.alert.id == id)
            .unwrap()
    };
    let pending = delivery_of(warning.id);
    assert_eq!(
        (
            warning.level.as_str(),
            pending.status(),
            pending.webhook.as_ref().unwrap().attempts
        ),
        ("warning", delivery::PENDING, 0)
    );
    assert_eq!(store.record_alert(a, &alert("warning")).unwrap(), None);
    let exceeded = store.record_alert(a, &alert("exceeded")).unwrap().unwrap();
    let next_period = NewAlert {
        period_start: T0 + 30 * 24 * HOUR,
        ..alert("warning")
    };
    assert!(store.record_alert(a, &next_period).unwrap().is_some());
    assert!(matches!(
        store.record_alert(b, &alert("exceeded")),
        Err(StoreError::NotFound)
    ));
    // The schema's check refuses a level it does not know, naming the column.
    let unknown = store.record_alert(a, &alert("critical"));
    assert!(
        matches!(&unknown, Err(StoreError::LimitExceeded(m)) if m.contains("level")),
        "{unknown:?}"
    );

    let listed = store.list_alerts(a, row.id).unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[1], exceeded);
    assert!(store.list_alerts(b, row.id).unwrap().is_empty());

    // Three pending deliveries; concurrent pollers each claim a disjoint share.
    let t0 = now_utc();
    let lease = t0 + chrono::TimeDelta::seconds(60);
    let barrier = Arc::new(Barrier::new(4));
    let pollers: Vec<_> = (0..4)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.claim_due_notifications(t0, lease, 10).unwrap()
            })
        })
        .collect();
    let mut claimed: Vec<i64> = pollers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .map(|n| n.alert_id.unwrap())
        .collect();
    claimed.sort_unstable();
    let mut ids: Vec<i64> = listed.iter().map(|a| a.id).collect();
    ids.sort_unstable();
    assert_eq!(claimed, ids, "each alert claimed exactly once");
    // Leased: nobody claims them again until the lease ends…
    assert!(
        store
            .claim_due_notifications(t0, lease, 10)
            .unwrap()
            .is_empty()
    );
    // …when a dead instance's alerts are taken over.
    let retaken = store
        .claim_due_notifications(lease, lease + chrono::TimeDelta::seconds(60), 10)
        .unwrap();
    assert_eq!(retaken.len(), 3);
    let of = |list: &[NotificationRow], id: i64| -> NotificationRow {
        list.iter()
            .find(|n| n.alert_id == Some(id))
            .unwrap()
            .clone()
    };

    let failure = |n: i32| NotificationDeliveryRow {
        workspace_id: of(&retaken, warning.id).workspace_id,
        notification_id: 0,
        channel_id: of(&retaken, warning.id).channel_id,
        attempt: n,
        attempted_at: t0,
        target: "http://127.0.0.1:9/hook".into(),
        status_code: Some(500),
        ok: false,
        error: Some("HTTP 500".into()),
        duration_ms: 3,
    };
    let retry_at = t0 + chrono::TimeDelta::seconds(2);
    let w = of(&retaken, warning.id);
    assert!(
        store
            .record_attempt(&w, &failure(1), NextStep::RetryAt(retry_at))
            .unwrap()
    );
    // The same attempt recorded twice (an overrun lease) is refused.
    assert!(
        !store
            .record_attempt(&w, &failure(1), NextStep::RetryAt(retry_at))
            .unwrap()
    );
    // Not due before its backoff…
    assert!(
        store
            .claim_due_notifications(t0, t0, 10)
            .unwrap()
            .iter()
            .all(|n| n.alert_id != Some(warning.id))
    );
    let again = store.claim_due_notifications(retry_at, lease, 10).unwrap();
    assert_eq!(
        again.iter().map(|n| n.alert_id).collect::<Vec<_>>(),
        [Some(warning.id)]
    );
    let success = NotificationDeliveryRow {
        ok: true,
        status_code: Some(204),
        error: None,
        ..failure(2)
    };
    assert!(
        store
            .record_attempt(&again[0], &success, NextStep::Done(delivery::DELIVERED))
            .unwrap()
    );
    let w = delivery_of(warning.id);
    let n = w.webhook.clone().unwrap();
    assert_eq!(
        (w.status(), n.attempts, n.next_attempt_at),
        ("delivered", 2, None)
    );
    assert_eq!(
        w.attempts
            .iter()
            .map(|d| (d.attempt, d.ok, d.status_code))
            .collect::<Vec<_>>(),
        [(1, false, Some(500)), (2, true, Some(204))]
    );
    assert!(store.alert_deliveries(b, row.id).unwrap().is_empty());
    assert!(
        store
            .cancel_notification(&of(&retaken, exceeded.id))
            .unwrap()
    );
    assert_eq!(delivery_of(exceeded.id).status(), delivery::CANCELLED);
    assert!(
        store
            .claim_due_notifications(lease + chrono::TimeDelta::hours(1), lease, 10)
            .unwrap()
            .iter()
            .all(|n| n.alert_id != Some(exceeded.id))
    );
    // Deleting the budget deletes its alerts.
    assert!(store.delete_budget(a, row.id).unwrap());
    assert!(store.list_alerts(a, row.id).unwrap().is_empty());
});

// A budget's webhook is a channel of its own: its alerts' deliveries go there, but the
// workspace does not manage it (not listed, not found, not deletable, not choosable for
// a budget, its name free for a managed channel); clearing the webhook keeps the channel
// and its history, and deleting the budget takes it away.
both_backends!(a_budget_webhook_is_a_channel_of_its_own, |_db, store| {
    let a = user(&store, "own@x.test");
    let row = store.create_budget(a, &budget("b")).unwrap();
    store
        .set_budget_webhook(a, row.id, Some("https://hooks.test/1"))
        .unwrap();
    assert_eq!(
        store.budget_webhooks(a).unwrap(),
        [(row.id, "https://hooks.test/1".to_string())]
    );
    assert!(store.list_channels(a).unwrap().is_empty());
    // Nor does it put the workspace on the notification schedule.
    assert_eq!(store.notifications_due_at(a).unwrap(), None);
    let managed = store
        .create_channel(
            a,
            &llmlab_store::NewChannel {
                name: format!("webhook of budget {}", row.id),
                kind: "webhook".into(),
                target: "https://hooks.test/managed".into(),
                events: "anomaly".into(),
                created_by: None,
            },
        )
        .unwrap();
    assert_eq!(
        store.list_channels(a).unwrap(),
        std::slice::from_ref(&managed)
    );

    let alert = |level: &str| NewAlert {
        budget_id: row.id,
        period_start: T0,
        level: level.into(),
        spent_nanos: 90,
        amount_nanos: 100,
    };
    let warning = store.record_alert(a, &alert("warning")).unwrap().unwrap();
    let deliveries = store.alert_deliveries(a, row.id).unwrap();
    let own = deliveries[0].webhook.clone().unwrap().channel_id;
    assert_ne!(own, managed.id);
    assert!(matches!(
        store.get_channel(a, own),
        Err(StoreError::NotFound)
    ));
    assert!(!store.delete_channel(a, own).unwrap());
    assert!(matches!(
        store.set_budget_channels(a, row.id, &[own]),
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.channel_for_delivery(a, own).unwrap().target,
        "https://hooks.test/1"
    );

    // Cleared: later alerts go nowhere, the earlier one keeps its delivery.
    store.set_budget_webhook(a, row.id, None).unwrap();
    assert!(store.budget_webhooks(a).unwrap().is_empty());
    store.record_alert(a, &alert("exceeded")).unwrap().unwrap();
    let states: Vec<(String, String)> = store
        .alert_deliveries(a, row.id)
        .unwrap()
        .iter()
        .map(|d| (d.alert.level.clone(), d.status().to_string()))
        .collect();
    assert_eq!(
        states,
        [
            ("exceeded".to_string(), delivery::NONE.to_string()),
            ("warning".to_string(), delivery::PENDING.to_string())
        ]
    );
    assert_eq!(store.channel_for_delivery(a, own).unwrap().target, "");
    // Set again: the same channel.
    store
        .set_budget_webhook(a, row.id, Some("https://hooks.test/2"))
        .unwrap();
    assert_eq!(
        store.channel_for_delivery(a, own).unwrap().target,
        "https://hooks.test/2"
    );
    assert_eq!(store.list_channels(a).unwrap(), [managed]);

    assert!(store.delete_budget(a, row.id).unwrap());
    assert!(matches!(
        store.channel_for_delivery(a, own),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_alert(a, warning.id),
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .claim_due_notifications(now_utc(), now_utc(), 10)
            .unwrap()
            .is_empty()
    );
});

// Every change is a revision of its own; deleting ends the price but keeps the rows
// the events it priced point at.
both_backends!(custom_prices_keep_revisions, |_db, store| {
    let a = user(&store, "p@x.test");
    let b = user(&store, "q@x.test");
    let price = NewCustomPrice {
        provider: "openai".into(),
        model: "ft:gpt-4o:acme".into(),
        input_micros: 3_750_000,
        output_micros: 15_000_000,
        cached_input_micros: Some(1_875_000),
        cache_write_micros: None,
        batch_discount_pct: Some(50),
        effective_from: None,
        ..NewCustomPrice::default()
    };
    let first = store.upsert_custom_price(a, &price).unwrap();
    let changed = NewCustomPrice {
        input_micros: 1,
        cached_input_micros: None,
        effective_from: chrono::NaiveDate::from_ymd_opt(2026, 11, 15),
        ..price.clone()
    };
    let second = store.upsert_custom_price(a, &changed).unwrap();
    assert!(second.revision() > first.revision());
    assert_eq!(
        (first.price.input_micros, first.price.cached_input_micros),
        (3_750_000, Some(1_875_000))
    );
    assert_eq!(
        (second.price.input_micros, second.price.cached_input_micros),
        (1, None)
    );
    assert_eq!(second.price.effective_from, changed.effective_from);
    let other = NewCustomPrice {
        model: "other".into(),
        ..price.clone()
    };
    let third = store.upsert_custom_price(a, &other).unwrap();
    store.upsert_custom_price(b, &price).unwrap();
    assert_eq!(
        store.list_custom_prices(a).unwrap(),
        vec![first.clone(), second.clone(), third.clone()]
    );
    assert!(!store.delete_custom_price(a, "openai", "nope").unwrap());
    assert!(
        store
            .delete_custom_price(a, "openai", "ft:gpt-4o:acme")
            .unwrap()
    );
    assert_eq!(store.list_custom_prices(a).unwrap(), vec![third]);
    let history = store
        .with_conn(|c| llmlab_store::prices::history(c, a))
        .unwrap();
    assert_eq!(history.len(), 3);
    assert!(history[..2].iter().all(|r| r.deleted_at.is_some()));
    assert_eq!(store.list_custom_prices(b).unwrap().len(), 1);
});

// Every change to a user's prices moves their version, which the credential checks
// return with the user (what lets a server cache prices safely).
both_backends!(prices_version_moves_with_every_change, |_db, store| {
    let a = user(&store, "v@x.test");
    let owner = store.find_user_by_email("v@x.test").unwrap().unwrap().id;
    let state = |jti: &str, who: llmlab_store::UserId| {
        store
            .with_conn(|c| llmlab_store::workspaces::session_state(c, jti, who, None))
            .unwrap()
    };
    let b = user(&store, "w@x.test");
    let key = store
        .create_api_key(
            a,
            &NewApiKey {
                name: "k".into(),
                prefix: "llm_v".into(),
                key_hash: "hash-v".into(),
                scopes: "ingest".into(),
                created_by: None,
                tags_json: "{}".into(),
            },
        )
        .unwrap();
    store
        .revoke_token("gone", owner, now_utc() + chrono::TimeDelta::hours(1))
        .unwrap();
    let versions = || {
        let (found, by_key) = store.authenticate_api_key("hash-v").unwrap().unwrap();
        assert_eq!(found.id, key.id);
        let live = state("live", owner).unwrap();
        assert!(!live.revoked);
        let by_session = live.membership.unwrap().prices_version;
        assert_eq!(by_key, by_session);
        assert_eq!(by_key, store.custom_prices_version(a).unwrap());
        by_key
    };
    assert_eq!(versions(), 0);
    let price = NewCustomPrice {
        provider: "openai".into(),
        model: "gpt-4o".into(),
        input_micros: 1,
        output_micros: 2,
        ..NewCustomPrice::default()
    };
    store.upsert_custom_price(a, &price).unwrap();
    assert_eq!(versions(), 1);
    store.upsert_custom_price(a, &price).unwrap();
    assert_eq!(versions(), 2, "a rewrite counts too");
    assert!(!store.delete_custom_price(a, "openai", "nope").unwrap());
    assert_eq!(versions(), 2, "deleting nothing changes nothing");
    assert!(store.delete_custom_price(a, "openai", "gpt-4o").unwrap());
    assert_eq!(versions(), 3);
    assert_eq!(store.custom_prices_version(b).unwrap(), 0, "per user");
    assert_eq!(
        state("gone", owner),
        Some(llmlab_store::SessionState {
            revoked: true,
            email: "v@x.test".into(),
            membership: Some(llmlab_store::Membership {
                workspace: a,
                role: llmlab_store::Role::Owner,
                prices_version: 3
            })
        })
    );
    assert_eq!(state("live", llmlab_store::UserId(999_999)), None);
    assert!(store.authenticate_api_key("other").unwrap().is_none());
    store.delete_api_key(a, key.id).unwrap();
    assert!(store.authenticate_api_key("hash-v").unwrap().is_none());
});

both_backends!(tenants_are_isolated, |_db, store| {
    let a = user(&store, "ta@x.test");
    let b = user(&store, "tb@x.test");
    let e = llmlab_store::NewEvent {
        event_id: Some("k".into()),
        tags: tags(&[("team", "growth")]),
        ..event(T0, "openai", "gpt-4o", 42)
    };
    let (row, _) = store.insert_event(a, &e).unwrap();
    store.create_budget(a, &budget("a")).unwrap();
    store
        .create_api_key(
            a,
            &NewApiKey {
                name: "k".into(),
                prefix: "p".into(),
                key_hash: "h".into(),
                scopes: "ingest".into(),
                created_by: None,
                tags_json: "{}".into(),
            },
        )
        .unwrap();
    let all = EventFilter::default();
    assert_eq!(store.event(b, row.id).unwrap(), None);
    assert!(
        store
            .list_events(b, &all, None, 100)
            .unwrap()
            .events
            .is_empty()
    );
    assert_eq!(store.totals(b, &all).unwrap().calls, 0);
    assert!(store.cost_by_provider(b, &all).unwrap().is_empty());
    assert!(store.top_models(b, &all, 10).unwrap().is_empty());
    assert!(
        store
            .cost_by_tag(b, &all, "team")
            .unwrap()
            .values
            .is_empty()
    );
    assert!(store.daily_by_model(b, &all).unwrap().is_empty());
    assert!(store.token_mix(b, &all, None).unwrap().is_empty());
    assert!(store.list_budgets(b).unwrap().is_empty());
    assert!(store.list_api_keys(b).unwrap().is_empty());
    // B's idempotency keys are B's own.
    let (mine, outcome) = store.insert_event(b, &e).unwrap();
    assert!(!outcome.is_duplicate());
    assert_ne!(mine.id, row.id);
    assert_eq!(store.totals(a, &all).unwrap().calls, 1);
});
