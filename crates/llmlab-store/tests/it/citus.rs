//! The schema on a sharded PostgreSQL (Citus). On a plain PostgreSQL these check that
//! every table has a kind; on the cluster `cargo xtask test` starts, that the tables are
//! what their kind says and that one workspace's requests stay in one shard.

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use llmlab_store::citus::{self, Kind};
use llmlab_store::test_support;
use llmlab_store::{AnyConnection, EventFilter, NewAlert, NewBudget, Store};

use crate::{HOUR, T0, event, tags};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn pg<T>(store: &Store, f: impl FnOnce(&mut diesel::PgConnection) -> T) -> T {
    store
        .with_conn(|c| match c {
            AnyConnection::Postgresql(c) => Ok(f(c)),
            AnyConnection::Sqlite(_) => panic!("a PostgreSQL store"),
        })
        .unwrap()
}

/// A test `$name::postgres` (so the cluster run, which takes the PostgreSQL tests,
/// takes it) on a fresh migrated PostgreSQL database.
macro_rules! on_postgres {
    ($name:ident, $test:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn postgres() {
                llmlab_store::test_support::run(llmlab_store::Backend::Postgres, $test);
            }
        }
    };
}

/// [`on_postgres!`] for a test that needs the Citus cluster: ignored, saying why, in a
/// run without one (the Citus run of `cargo xtask test` includes ignored tests).
macro_rules! on_cluster {
    ($name:ident, $test:expr) => {
        mod $name {
            use super::*;

            #[test]
            #[ignore = "needs a Citus cluster (LLMLAB_TEST_CITUS_WORKERS): the Citus run of \
                        `cargo xtask test` runs it"]
            fn postgres() {
                assert!(
                    !test_support::citus_workers().is_empty(),
                    "not a Citus cluster: LLMLAB_TEST_CITUS_WORKERS is unset"
                );
                llmlab_store::test_support::run(llmlab_store::Backend::Postgres, $test);
            }
        }
    };
}

// A table without a kind would stay on the coordinator of a cluster, where the
// distributed tables' foreign keys cannot reach it.
on_postgres!(every_table_has_a_kind, |_db, store| {
    let mut tables: Vec<String> = pg(&store, |c| {
        diesel::sql_query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' \
                 AND tablename <> '__diesel_schema_migrations' ORDER BY 1",
        )
        .load::<Name>(c)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
    });
    let mut kinds: Vec<String> = citus::TABLES.iter().map(|(t, _)| (*t).into()).collect();
    tables.sort();
    kinds.sort();
    assert_eq!(tables, kinds);
});

// On the cluster: each table is what `citus::TABLES` says, and every distributed
// table is co-located with `events` (a workspace's rows of all of them in one shard
// group).
on_cluster!(the_cluster_holds_each_table_as_its_kind, |_db, store| {
    let mut on_cluster = pg(&store, |c| citus::kinds(c).unwrap());
    // A local table stays the coordinator's: Citus does not list it.
    let mut expected: Vec<(String, Kind)> = citus::TABLES
        .iter()
        .filter(|(_, k)| *k != Kind::Local)
        .map(|(t, k)| ((*t).to_string(), *k))
        .collect();
    on_cluster.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(on_cluster, expected);
    #[derive(QueryableByName)]
    struct Groups {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let groups = pg(&store, |c| {
        diesel::sql_query(
            "SELECT count(DISTINCT colocationid) AS n FROM pg_dist_partition \
                 WHERE partmethod = 'h'",
        )
        .get_result::<Groups>(c)
        .unwrap()
        .n
    });
    assert_eq!(groups, 1, "every distributed table co-located with events");
});

// On the cluster, with every statement that would ask more than one shard made an
// error: one workspace's ingestion (single events and a batch, with tags), its reports
// (totals, models, tags, time slots, the events list) and its budget's alerts all run.
on_cluster!(one_workspace_stays_in_one_shard, |db, store| {
    let w = crate::user(&store, "router@x.test");
    let name = db.pg_name().unwrap();
    pg(&store, |c| {
        c.batch_execute(&format!(
            "ALTER DATABASE {name} SET citus.multi_task_query_log_level = 'error'"
        ))
        .unwrap()
    });
    // New connections take the setting.
    let store = Store::connect(db.url(), 2).unwrap();
    let mut one = event(T0, "openai", "gpt-4o", 5_000);
    one.tags = tags(&[("team", "search")]);
    one.event_id = Some("router-1".into());
    let (row, _) = store.insert_event(w, &one).unwrap();
    store.insert_event(w, &one).unwrap();
    let batch: Vec<_> = (0..20)
        .map(|i| {
            let mut e = event(T0 + i * HOUR, "anthropic", "claude-sonnet-4", 7_000);
            e.tags = tags(&[("team", if i % 2 == 0 { "a" } else { "b" })]);
            e
        })
        .collect();
    store.insert_batch(w, &batch).unwrap();
    assert!(store.event(w, row.id).unwrap().is_some());
    let all = EventFilter {
        start_micros: Some(T0),
        end_micros: Some(T0 + 48 * HOUR),
        ..EventFilter::default()
    };
    let totals = store.totals(w, &all).unwrap();
    assert_eq!(totals.calls, 21);
    assert_eq!(totals.cost_nanos, 5_000 + 20 * 7_000);
    assert_eq!(store.top_models(w, &all, 10).unwrap().len(), 2);
    assert_eq!(store.cost_by_tag(w, &all, "team").unwrap().values.len(), 3);
    // Attribution's breakdown, and every budget's spend at once, with range edges that
    // cut slots (raw events) and scopes only the events answer.
    let cut = EventFilter::between(T0 + 7, T0 + 30 * HOUR + 11);
    assert!(
        !store
            .daily_by_tag(w, &cut, "team", &[T0], 1)
            .unwrap()
            .is_empty()
    );
    let scoped = EventFilter {
        provider: Some("anthropic".into()),
        tags: vec![("team".into(), "a".into())],
        ..cut.clone()
    };
    let tagged = EventFilter {
        tags: vec![("team".into(), "b".into())],
        ..all.clone()
    };
    let each = [all.clone(), cut, scoped, tagged];
    let spent: Vec<i64> = each.iter().map(|f| store.spend(w, f).unwrap()).collect();
    assert_eq!(store.spend_each(w, &each).unwrap(), spent);
    assert!(!store.slots(w, &all, 3_600).unwrap().is_empty());
    let page = store.list_events(w, &all, None, 50).unwrap();
    assert_eq!(page.events.len(), 21);
    let budget = store
        .create_budget(
            w,
            &NewBudget {
                amount_nanos: 100_000,
                ..crate::budgets::budget("monthly")
            },
        )
        .unwrap();
    let alert = NewAlert {
        budget_id: budget.id,
        period_start: T0,
        level: "exceeded".into(),
        spent_nanos: totals.cost_nanos,
        amount_nanos: 100_000,
    };
    assert!(store.record_alert(w, &alert).unwrap().is_some());
    assert!(store.record_alert(w, &alert).unwrap().is_none());
    assert_eq!(store.list_alerts(w, budget.id).unwrap().len(), 1);
});

// `cargo xtask distribute`: a database one PostgreSQL filled (here: this cluster's
// tables brought back to the coordinator, rows and all) becomes a distributed one, and
// every report of every workspace is what it was.
on_cluster!(
    an_existing_database_is_distributed_with_its_rows,
    |db, store| {
        use rand::SeedableRng;
        pg(&store, |c| citus::undistribute(c).unwrap());
        assert!(pg(&store, |c| citus::kinds(c).unwrap()).is_empty());
        let mut rng = rand::rngs::StdRng::seed_from_u64(26);
        let a = crate::user(&store, "a@distribute.test");
        let b = crate::user(&store, "b@distribute.test");
        store
            .insert_batch(a, &crate::events::random_events(&mut rng, 300))
            .unwrap();
        store
            .insert_batch(b, &crate::events::random_events(&mut rng, 200))
            .unwrap();
        let before = (
            crate::migrations::reports(&store, a),
            crate::migrations::reports(&store, b),
        );
        assert!(
            before.0.iter().any(|r| r.0.calls > 0),
            "reports with events in them"
        );
        drop(store);

        let tables = llmlab_store::distribute(db.url()).unwrap();
        let movable = citus::TABLES.iter().filter(|(_, k)| *k != Kind::Local);
        assert_eq!(tables.len(), movable.count());

        let store = Store::connect(db.url(), 2).unwrap();
        let after = (
            crate::migrations::reports(&store, a),
            crate::migrations::reports(&store, b),
        );
        assert_eq!(after, before);
        #[derive(QueryableByName)]
        struct Nodes {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let nodes = pg(&store, |c| {
            diesel::sql_query(
                "SELECT count(DISTINCT nodeport) AS n FROM citus_shards \
             WHERE table_name = 'events'::regclass",
            )
            .get_result::<Nodes>(c)
            .unwrap()
            .n
        });
        assert_eq!(nodes, 2, "the events' shards are spread over both workers");
    }
);

// Growing the cluster online: a third worker added and the shards rebalanced onto it
// while four writers keep ingesting. Every acknowledged event is stored once, nothing
// unacknowledged appears, and the reports of what was there before are unchanged.
on_cluster!(a_worker_added_while_ingesting_loses_nothing, |db, store| {
    use std::sync::atomic::{AtomicBool, Ordering};
    let spare = test_support::citus_spare()
        .expect("a spare Citus node (LLMLAB_TEST_CITUS_SPARE), as `cargo xtask test` starts");
    let workspaces: Vec<_> = (0..8)
        .map(|i| crate::user(&store, &format!("grow{i}@x.test")))
        .collect();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(34);
    for w in &workspaces {
        store
            .insert_batch(*w, &crate::events::random_events(&mut rng, 50))
            .unwrap();
    }
    // Every report over the seeded days, before the writers' later ones.
    let grow_from = T0 + 400 * 24 * HOUR;
    let seeded = |store: &Store| -> Vec<_> {
        let mut out = Vec::new();
        for w in &workspaces {
            for mut f in crate::events::filters() {
                f.end_micros = Some(f.end_micros.unwrap_or(grow_from).min(grow_from));
                out.push((
                    store.totals(*w, &f).unwrap(),
                    store.top_models(*w, &f, 100).unwrap(),
                    store.cost_by_tag(*w, &f, "team").unwrap(),
                    store.slots(*w, &f, 3600).unwrap(),
                ));
            }
        }
        out
    };
    let before = seeded(&store);

    let name = db.pg_name().unwrap();
    citus::node_database(&spare, name).unwrap();
    let (host, port) = citus::host_port(&spare);
    let stop = AtomicBool::new(false);
    let acknowledged: Vec<Vec<String>> = std::thread::scope(|s| {
        let writers: Vec<_> = workspaces
            .chunks(2)
            .enumerate()
            .map(|(t, mine)| {
                let (store, stop) = (&store, &stop);
                s.spawn(move || {
                    let mut acked = Vec::new();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) || i < 20 {
                        let w = mine[i % mine.len()];
                        let key = format!("grow-{t}-{i}");
                        // Later than every seeded event: the reports above stay apart.
                        let mut e = event(grow_from + i as i64, "openai", "gpt-4o", 3);
                        e.event_id = Some(key.clone());
                        e.tags = tags(&[("team", "grow")]);
                        if store.insert_event(w, &e).is_ok() {
                            acked.push(format!("{}:{key}", w.0));
                        }
                        i += 1;
                    }
                    acked
                })
            })
            .collect();
        // Each in its own transaction: the rebalancer's background job must see the
        // node committed.
        for sql in [
            format!("SELECT citus_add_node('{host}', {port})"),
            "SELECT citus_rebalance_start()".into(),
            "SELECT citus_rebalance_wait()".into(),
        ] {
            pg(&store, |c| c.batch_execute(&sql).unwrap());
        }
        stop.store(true, Ordering::Relaxed);
        writers.into_iter().map(|h| h.join().unwrap()).collect()
    });

    #[derive(QueryableByName)]
    struct Nodes {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let on_spare = pg(&store, |c| {
        diesel::sql_query(format!(
            "SELECT count(*) AS n FROM citus_shards WHERE nodeport = {port}"
        ))
        .get_result::<Nodes>(c)
        .unwrap()
        .n
    });
    assert!(
        on_spare > 0,
        "the rebalancer moved shards to the new worker"
    );
    let mut acked: Vec<String> = acknowledged.into_iter().flatten().collect();
    acked.sort();
    assert!(
        acked.len() >= 80,
        "the writers kept writing: {}",
        acked.len()
    );
    let mut stored = Vec::new();
    for w in &workspaces {
        let all = EventFilter::default();
        let mut cursor = None;
        loop {
            let page = store.list_events(*w, &all, cursor, 500).unwrap();
            stored.extend(
                page.events
                    .iter()
                    .filter_map(|e| e.event_id.as_ref())
                    .filter(|k| k.starts_with("grow-"))
                    .map(|k| format!("{}:{k}", w.0)),
            );
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    stored.sort();
    assert_eq!(stored, acked, "every acknowledged event once, nothing else");
    assert_eq!(seeded(&store), before);
});

/// A distributed transaction whose coordinator went away mid-commit leaves its half
/// prepared on a worker. Dropping the test database must roll it back: a database with
/// a prepared transaction cannot be dropped, and the transaction holds back every
/// logical replication slot on that worker, so a later shard move (as in
/// `a_worker_added_while_ingesting_loses_nothing`) waits for it forever.
#[test]
#[ignore = "needs a Citus cluster (LLMLAB_TEST_CITUS_WORKERS): the Citus run of \
            `cargo xtask test` runs it"]
fn a_dropped_cluster_database_leaves_nothing_prepared_on_a_worker_citus() {
    let workers = test_support::citus_workers();
    let worker = workers.first().expect("a Citus cluster");
    let db = test_support::TestDb::new(llmlab_store::Backend::Postgres);
    let name = db.pg_name().expect("a PostgreSQL database").to_owned();
    let on_worker = llmlab_store::admin::with_database(worker, &name);
    test_support::execute_on(
        &on_worker,
        "CREATE TABLE orphan (x int); BEGIN; INSERT INTO orphan VALUES (1); \
         PREPARE TRANSACTION 'llmlab_orphan_test'",
    );
    drop(db);
    let left = |sql: &str| {
        llmlab_store::admin::query_text(
            &llmlab_store::admin::with_database(worker, "postgres"),
            sql,
        )
        .unwrap()
    };
    assert_eq!(
        left(
            "SELECT count(*)::text AS text FROM pg_prepared_xacts WHERE gid = 'llmlab_orphan_test'"
        ),
        "0"
    );
    assert_eq!(
        left(&format!(
            "SELECT count(*)::text AS text FROM pg_database WHERE datname = '{name}'"
        )),
        "0"
    );
}
