use std::path::Path;
use std::time::Duration;

use llmlab_store::test_support::TestDb;
use llmlab_store::{
    Backend, ModelTotals, SlotRow, Store, StoreError, TagBreakdown, Totals, UserId, WorkspaceId,
    both_backends, migration_names,
};

fn folder_names(backend: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            for file in ["up.sql", "down.sql"] {
                assert!(
                    entry.path().join(file).is_file(),
                    "{:?} lacks {file}",
                    entry.path()
                );
            }
            entry.file_name().into_string().unwrap()
        })
        .collect();
    names.sort();
    names
}

pub(crate) type Reports = (Totals, Vec<ModelTotals>, TagBreakdown, Vec<SlotRow>);

/// What the upgrade tests expect a migration to leave as it was: reports over every
/// test filter.
pub(crate) fn reports(store: &Store, w: WorkspaceId) -> Vec<Reports> {
    crate::events::filters()
        .iter()
        .map(|f| {
            (
                store.totals(w, f).unwrap(),
                store.top_models(w, f, 100).unwrap(),
                store.cost_by_tag(w, f, "team").unwrap(),
                store.slots(w, f, 3600).unwrap(),
            )
        })
        .collect()
}

/// Reverts migrations, newest first, up to and including `name`; returns the names
/// reverted, oldest first.
pub fn revert_through(url: &str, name: &str) -> Vec<String> {
    let mut reverted = Vec::new();
    while reverted.last().map(String::as_str) != Some(name) {
        let names = llmlab_store::revert_last_migration(url).unwrap();
        assert!(!names.is_empty(), "{name} is applied");
        reverted.extend(names);
    }
    reverted.reverse();
    reverted
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = folder_names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite,
        folder_names("postgres"),
        "migrations/sqlite and migrations/postgres differ"
    );
    assert_eq!(sqlite, migration_names(Backend::Sqlite));
    assert_eq!(sqlite, migration_names(Backend::Postgres));
}

both_backends!(every_migration_applies_and_reverts, |db, _migrated| {
    let all = migration_names(db.backend());
    // Back to an empty database, one migration at a time.
    let store = Store::open(db.url(), 2, Duration::from_secs(5)).unwrap();
    let mut reverted = Vec::new();
    while let Some(name) = store.revert_last().unwrap() {
        reverted.push(name);
    }
    reverted.reverse();
    assert_eq!(reverted, all);
    assert_eq!(store.pending_migrations().unwrap(), all.len());
    assert!(
        store.find_user(llmlab_store::UserId(1)).is_err(),
        "tables must be gone after reverting"
    );
    // Up again, then down and up once more.
    assert_eq!(store.migrate().unwrap(), all);
    assert_eq!(store.pending_migrations().unwrap(), 0);
    assert!(store.migrate().unwrap().is_empty());
    while store.revert_last().unwrap().is_some() {}
    assert_eq!(store.migrate().unwrap(), all);
    // The one-shot functions `cargo xtask migrate` uses.
    let last = all.last().cloned().unwrap();
    assert_eq!(
        llmlab_store::revert_last_migration(db.url()).unwrap(),
        vec![last.clone()]
    );
    assert_eq!(llmlab_store::run_migrations(db.url()).unwrap(), vec![last]);
    let id = crate::person(&store, "after@revert.test").id;
    assert_eq!(
        store.find_user(id).unwrap().unwrap().email,
        "after@revert.test"
    );
});

// Rollups built from events stored before the rollup migration equal the rollups kept
// up at ingestion.
both_backends!(rollup_migration_backfills_existing_events, |db, store| {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let a = crate::user(&store, "backfill@x.test");
    store
        .insert_batch(
            a,
            &crate::events::before_ledger(crate::events::random_events(&mut rng, 400)),
        )
        .unwrap();
    let before = reports(&store, a);
    // Back to before the rollup migration (reverting the later ones first), then up again.
    let reverted = revert_through(db.url(), "2026-11-29-000001_rollups");
    assert_eq!(store.migrate().unwrap(), reverted);
    assert_eq!(before, reports(&store, a));
    assert!(before[0].0.calls == 400);
});

#[test]
fn unsupported_urls_are_config_errors() {
    for url in ["mysql://root@localhost/llmlab", "redis://x", ""] {
        assert!(
            matches!(Store::connect(url, 1), Err(StoreError::Config(_))),
            "{url}"
        );
    }
}

#[test]
fn unreachable_postgres_is_unavailable() {
    let started = std::time::Instant::now();
    let result = Store::connect_with(
        "postgres://postgres@127.0.0.1:1/none",
        1,
        Duration::from_millis(500),
    );
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn sqlite_file_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/llmlab.db");
    let store = Store::connect(&format!("sqlite:{}", path.display()), 2).unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store.ping().unwrap();
    assert!(path.is_file());
}

/// A fresh PostgreSQL database, a store with `pool_size` connections to it and a user
/// called `email`; `None` when the tests run on SQLite only.
fn postgres_with_user(pool_size: u32, email: &str) -> Option<(TestDb, Store, UserId)> {
    if llmlab_store::test_support::sqlite_only() {
        return None;
    }
    let db = TestDb::new(Backend::Postgres);
    let store = Store::connect_with(db.url(), pool_size, Duration::from_secs(1)).unwrap();
    let id = crate::person(&store, email).id;
    Some((db, store, id))
}

/// PostgreSQL only (SQLite has no server to lose): while connections are refused every
/// call is `Unavailable`, and the same `Store` works again once the database is back.
#[test]
fn postgres_outage_is_unavailable_then_recovers() {
    let Some((db, store, id)) = postgres_with_user(3, "outage@x.test") else {
        return;
    };

    db.terminate_connections(true);
    let down = store.find_user(id);
    assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");
    assert!(matches!(store.ping(), Err(StoreError::Unavailable(_))));

    db.admit_connections();
    let back = (0..20).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        store.find_user(id).ok()
    });
    assert_eq!(
        back.flatten().map(|u| u.id),
        Some(id),
        "the store recovers by itself"
    );
}

/// PostgreSQL only: after a restart kills every pooled connection, the first call that
/// meets a dead one reports `Unavailable`, and no call after it does: the other dead
/// connections are found by a ping and replaced, not handed out to fail one by one.
#[test]
fn postgres_restart_costs_at_most_one_failed_call() {
    use diesel::connection::SimpleConnection;

    let Some((db, store, id)) = postgres_with_user(4, "restart@x.test") else {
        return;
    };
    // Four connections in use at once, so the pool holds four when they return.
    let all_out = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                store
                    .with_conn(|c| {
                        all_out.wait();
                        Ok(c.batch_execute("SELECT 1")?)
                    })
                    .unwrap()
            });
        }
    });

    db.terminate_connections(false);
    let results: Vec<_> = (0..12).map(|_| store.find_user(id)).collect();
    assert!(
        results[1..].iter().all(Result::is_ok),
        "only the first call may fail: {results:?}"
    );
}

// A database filled before workspaces existed upgrades with each user's data in a
// personal workspace of their own (owner), every report and resource unchanged; a user
// written at the previous schema by plain SQL gets one too.
both_backends!(workspaces_migration_keeps_each_users_data, |db, store| {
    use llmlab_store::workspaces::{self, Role};
    use llmlab_store::{NewApiKey, NewCustomPrice};
    use rand::SeedableRng;

    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let personal =
        |store: &Store, user: UserId| store.with_conn(|c| workspaces::personal(c, user)).unwrap();
    // A user whose id differs from their workspace's, so the downgrade must map them.
    crate::person(&store, "first@x.test");
    let users: Vec<UserId> = ["ana@x.test", "ben@x.test"]
        .iter()
        .map(|e| crate::person(&store, e).id)
        .collect();
    for (i, &u) in users.iter().enumerate() {
        let w = personal(&store, u);
        store
            .insert_batch(
                w,
                &crate::events::before_ledger(crate::events::random_events(&mut rng, 150 + 50 * i)),
            )
            .unwrap();
        store
            .create_budget(w, &crate::budgets::budget("monthly"))
            .unwrap();
        store
            .create_api_key(
                w,
                &NewApiKey {
                    name: "k".into(),
                    prefix: "p".into(),
                    key_hash: format!("hash-{i}"),
                    scopes: "ingest,read".into(),
                    created_by: Some(u),
                    tags_json: "{}".into(),
                },
            )
            .unwrap();
        let price = NewCustomPrice {
            provider: "openai".into(),
            model: "gpt-4o".into(),
            input_micros: 1 + i as i64,
            output_micros: 2,
            ..NewCustomPrice::default()
        };
        store.upsert_custom_price(w, &price).unwrap();
    }
    let snapshot = |store: &Store, w: WorkspaceId| {
        let reports = reports(store, w);
        let budgets: Vec<_> = store
            .list_budgets(w)
            .unwrap()
            .into_iter()
            .map(|b| (b.spec.name, b.spec.amount_nanos))
            .collect();
        let prices: Vec<_> = store
            .list_custom_prices(w)
            .unwrap()
            .into_iter()
            .map(|p| (p.price.provider, p.price.model, p.price.input_micros))
            .collect();
        let version = store.custom_prices_version(w).unwrap();
        (reports, budgets, prices, version)
    };
    let before: Vec<_> = users
        .iter()
        .map(|&u| snapshot(&store, personal(&store, u)))
        .collect();

    // Down to the schema before workspaces: the data is the users' again.
    let reverted = revert_through(db.url(), "2026-12-02-000001_workspaces");
    let count = |sql: &str| llmlab_store::admin::query_text(db.url(), sql).unwrap();
    assert_eq!(
        count(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) AS text FROM events WHERE user_id = {}",
            users[1].get()
        )),
        "200"
    );
    // Someone who signed up on the old version, written as it would have.
    llmlab_store::admin::execute(
        db.url(),
        "INSERT INTO users (id, email, password_hash, created_at, prices_version) \
         VALUES (900, 'old@x.test', 'h', '2026-11-01 00:00:00', 4)",
    )
    .unwrap();

    assert_eq!(store.migrate().unwrap(), reverted);
    for (&u, before) in users.iter().zip(&before) {
        let w = personal(&store, u);
        assert_eq!(w.get(), u.get(), "a personal workspace takes its user's id");
        assert_eq!(&snapshot(&store, w), before);
        let listed = store.with_conn(|c| workspaces::list_for(c, u)).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].role, listed[0].personal_of),
            (Role::Owner, Some(u))
        );
        let i = users.iter().position(|x| *x == u).unwrap();
        let (key, _) = store
            .authenticate_api_key(&format!("hash-{i}"))
            .unwrap()
            .unwrap();
        assert_eq!(key.workspace_id, w);
        assert_eq!(key.created_by, Some(u));
    }
    assert!(before[0].0[0].0.calls == 150 && before[1].0[0].0.calls == 200);
    let old = UserId(900);
    let w = personal(&store, old);
    assert_eq!(store.custom_prices_version(w).unwrap(), 4);
    assert_eq!(
        store.with_conn(|c| workspaces::role_of(c, w, old)).unwrap(),
        Some(Role::Owner)
    );
    // New workspaces take ids after every migrated one.
    let fresh = crate::user(&store, "after@x.test");
    assert!(fresh.get() > 900);
});

// Email channels made before recipients confirmed keep every address, listed unconfirmed
// and not yet asked (the server asks them), in the channel's order; other kinds get none.
both_backends!(
    email_confirmation_migration_lists_earlier_addresses,
    |db, store| {
        use llmlab_store::NewChannel;

        let w = crate::user(&store, "mail@x.test");
        let channel = |name: &str, kind: &str, target: &str| {
            let new = NewChannel {
                name: name.into(),
                kind: kind.into(),
                target: target.into(),
                events: "budget".into(),
                created_by: None,
            };
            store.create_channel(w, &new).unwrap()
        };
        let mail = channel("mail", "email", "z@example.com,a@example.org,m@example.net");
        channel("hook", "webhook", "https://example.com/a,b");
        let solo = channel("solo", "email", "solo@example.com");
        // Made by today's schema, then taken back to before the migration under test.
        let reverted = revert_through(db.url(), "2026-12-08-000002_email_confirmation");
        assert_eq!(store.migrate().unwrap(), reverted);

        let rows = store.list_recipients(w).unwrap();
        let listed: Vec<(i64, &str)> = rows
            .iter()
            .map(|r| (r.channel_id.get(), r.address.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                (mail.id.get(), "z@example.com"),
                (mail.id.get(), "a@example.org"),
                (mail.id.get(), "m@example.net"),
                (solo.id.get(), "solo@example.com"),
            ]
        );
        assert!(rows.iter().all(|r| !r.asked && r.confirmed_at.is_none()));
        assert!(
            rows.iter()
                .all(|r| r.created_at == mail.created_at || r.channel_id == solo.id)
        );
        assert_eq!(store.unasked_recipients(10).unwrap(), rows);
        assert!(store.confirmed_recipients(w, mail.id).unwrap().is_empty());
    }
);

// Budgets' webhooks and their alerts' delivery history, written at the schema before one
// outbox, read through it afterwards: each webhook is its budget's own channel (none of
// the workspace's managed ones, whose names it does not take), each alert's state and
// attempts are its notification's, a pending one is claimed where the old worker left
// it. Reverting gives the old shape back with the same data.
both_backends!(
    one_outbox_migration_carries_webhooks_and_history,
    |db, store| {
        use chrono::NaiveDateTime;
        use llmlab_store::{NextStep, NotificationDeliveryRow, delivery};

        let w = crate::user(&store, "hooks@x.test");
        let budget = |name: &str| {
            let new = crate::budgets::budget(name);
            store.create_budget(w, &new).unwrap().id
        };
        let (hook, cleared, none) = (budget("hook"), budget("cleared"), budget("none"));
        let reverted = revert_through(db.url(), "2026-12-09-000001_one_outbox");
        let url = "https://hooks.example.com/a";
        llmlab_store::admin::execute(
            db.url(),
            &format!(
                "UPDATE budgets SET webhook_url = '{url}' WHERE id = {hook};
             INSERT INTO channels (workspace_id, name, kind, target, events, created_at)
             VALUES ({w}, 'webhook of budget {hook}', 'webhook', 'https://x.example.com/h',
                     'anomaly', '2026-12-01 00:00:00');
             INSERT INTO budget_alerts (budget_id, workspace_id, period_start, level,
                 spent_nanos, amount_nanos, created_at, delivery_status, attempts,
                 last_attempt_at, last_error, next_attempt_at) VALUES
             ({hook}, {w}, 0, 'warning', 90, 100, '2026-12-02 00:00:00', 'delivered', 2,
              '2026-12-02 00:00:01', NULL, NULL),
             ({hook}, {w}, 0, 'exceeded', 110, 100, '2026-12-02 00:00:05', 'pending', 1,
              '2026-12-02 00:00:05', 'receiver answered HTTP 503', '2026-12-02 00:01:00'),
             ({cleared}, {w}, 0, 'warning', 90, 100, '2026-12-03 00:00:00', 'delivered', 1,
              '2026-12-03 00:00:00', NULL, NULL),
             ({cleared}, {w}, 0, 'exceeded', 110, 100, '2026-12-03 00:00:09', 'cancelled', 0,
              NULL, NULL, NULL),
             ({none}, {w}, 0, 'warning', 90, 100, '2026-12-04 00:00:00', 'none', 0,
              NULL, NULL, NULL);
             INSERT INTO webhook_deliveries (alert_id, workspace_id, attempt, attempted_at, url,
                 status_code, ok, error, duration_ms)
             SELECT id, workspace_id, 1, '2026-12-02 00:00:00', '{url}', 500, FALSE,
                    'receiver answered HTTP 500', 3
             FROM budget_alerts WHERE budget_id = {hook} AND level = 'warning';
             INSERT INTO webhook_deliveries (alert_id, workspace_id, attempt, attempted_at, url,
                 status_code, ok, error, duration_ms)
             SELECT id, workspace_id, 2, '2026-12-02 00:00:01', '{url}', 204, TRUE, NULL, 4
             FROM budget_alerts WHERE budget_id = {hook} AND level = 'warning';
             INSERT INTO webhook_deliveries (alert_id, workspace_id, attempt, attempted_at, url,
                 status_code, ok, error, duration_ms)
             SELECT id, workspace_id, 1, '2026-12-02 00:00:05', '{url}', 503, FALSE,
                    'receiver answered HTTP 503', 5
             FROM budget_alerts WHERE budget_id = {hook} AND level = 'exceeded';
             INSERT INTO webhook_deliveries (alert_id, workspace_id, attempt, attempted_at, url,
                 status_code, ok, error, duration_ms)
             SELECT id, workspace_id, 1, '2026-12-03 00:00:00', 'https://old.example.com/', 200,
                    TRUE, NULL, 6
             FROM budget_alerts WHERE budget_id = {cleared} AND level = 'warning';"
            ),
        )
        .unwrap();
        assert_eq!(store.migrate().unwrap(), reverted);

        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        // (level, state, attempts, last error, next attempt, [(attempt, url, status, ok)])
        type Seen = (
            String,
            String,
            i32,
            Option<String>,
            Option<NaiveDateTime>,
            Vec<(i32, String, Option<i32>, bool)>,
        );
        let seen = |budget| -> Vec<Seen> {
            store
                .alert_deliveries(w, budget)
                .unwrap()
                .into_iter()
                .map(|d| {
                    let n = d.webhook.clone();
                    (
                        d.alert.level.clone(),
                        d.status().to_string(),
                        n.as_ref().map_or(0, |n| n.attempts),
                        n.as_ref().and_then(|n| n.last_error.clone()),
                        n.as_ref().and_then(|n| n.next_attempt_at),
                        d.attempts
                            .iter()
                            .map(|a| (a.attempt, a.target.clone(), a.status_code, a.ok))
                            .collect(),
                    )
                })
                .collect()
        };
        let s = |v: &str| v.to_string();
        assert_eq!(
            seen(hook),
            [
                (
                    s("exceeded"),
                    s("pending"),
                    1,
                    Some(s("receiver answered HTTP 503")),
                    Some(at("2026-12-02 00:01:00")),
                    vec![(1, s(url), Some(503), false)]
                ),
                (
                    s("warning"),
                    s("delivered"),
                    2,
                    None,
                    None,
                    vec![(1, s(url), Some(500), false), (2, s(url), Some(204), true)]
                ),
            ]
        );
        assert_eq!(
            seen(cleared),
            [
                (s("exceeded"), s("cancelled"), 0, None, None, vec![]),
                (
                    s("warning"),
                    s("delivered"),
                    1,
                    None,
                    None,
                    vec![(1, s("https://old.example.com/"), Some(200), true)]
                ),
            ]
        );
        assert_eq!(
            seen(none),
            [(s("warning"), s("none"), 0, None, None, vec![])]
        );
        assert_eq!(store.budget_webhooks(w).unwrap(), [(hook, s(url))]);
        let managed: Vec<String> = store
            .list_channels(w)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(managed, [format!("webhook of budget {hook}")]);

        // Down again: the old shape, the same data.
        let down = revert_through(db.url(), "2026-12-09-000001_one_outbox");
        let text = |sql: &str| llmlab_store::admin::query_text(db.url(), sql).unwrap();
        assert_eq!(
            text(&format!(
                "SELECT COALESCE(webhook_url, '-') AS text FROM budgets WHERE id = {hook}"
            )),
            url
        );
        assert_eq!(
            text(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) AS text FROM budgets
             WHERE webhook_url IS NULL AND id IN ({cleared}, {none})"
            )),
            "2"
        );
        for (budget, level, state) in [
            (hook, "warning", "delivered:2"),
            (hook, "exceeded", "pending:1"),
            (cleared, "warning", "delivered:1"),
            (cleared, "exceeded", "cancelled:0"),
            (none, "warning", "none:0"),
        ] {
            let found = text(&format!(
                "SELECT delivery_status || ':' || CAST(attempts AS TEXT) AS text
             FROM budget_alerts WHERE budget_id = {budget} AND level = '{level}'"
            ));
            assert_eq!(found, state, "{budget} {level}");
        }
        assert_eq!(
            text("SELECT CAST(COUNT(*) AS TEXT) AS text FROM webhook_deliveries"),
            "4"
        );
        assert_eq!(
            text("SELECT CAST(COUNT(*) AS TEXT) AS text FROM channels"),
            "1"
        );
        assert_eq!(store.migrate().unwrap(), down);

        // The pending alert goes out from the one outbox where the old worker left it.
        let due = at("2026-12-02 00:01:00");
        let claimed = store
            .claim_due_notifications(due, due + chrono::TimeDelta::seconds(60), 10)
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let n = &claimed[0];
        let channel = store.channel_for_delivery(w, n.channel_id).unwrap();
        assert_eq!(channel.target, url);
        let pending = store.alert_deliveries(w, hook).unwrap();
        assert_eq!(n.alert_id, Some(pending[0].alert.id));
        let attempt = NotificationDeliveryRow {
            workspace_id: n.workspace_id,
            notification_id: n.id,
            channel_id: n.channel_id,
            attempt: 2,
            attempted_at: due,
            target: url.into(),
            status_code: Some(200),
            ok: true,
            error: None,
            duration_ms: 7,
        };
        let done = NextStep::Done(delivery::DELIVERED);
        assert!(store.record_attempt(n, &attempt, done).unwrap());
        assert_eq!(seen(hook)[0].1, "delivered");
        assert_eq!(seen(hook)[0].5.len(), 2);
    }
);
