//! What the tenants part puts in the database, through llmlab-store's own functions
//! (no sign-up over HTTP: bcrypt alone would take minutes for thousands of users): the
//! workspaces with their channel, budget and events; the notifications the outbox
//! delivers; and one workspace's large, high-cardinality ledger.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use llmlab_app::notify::notice::{Event, Fact, Notice};
use llmlab_engine::providers::Catalog;
use llmlab_store::{
    ChannelId, NewBudget, NewChannel, NewEvent, NewUser, Store, StoreError, WorkspaceId, budgets,
    channels, events, outbox, users, workspaces,
};

use super::super::events::CallGen;
use crate::Result;

/// Workspaces made per transaction: large enough that commits do not dominate, small
/// enough that one transaction stays short.
const PER_TRANSACTION: usize = 100;
/// Events per workspace, spread over the last week.
const EVENTS_PER_WORKSPACE: usize = 3;
/// Every occasion the scheduler looks for: the heaviest tick a workspace can cost.
const SUBSCRIPTIONS: &str = "budget,forecast,anomaly,unpriced,report_weekly,report_monthly";
const SEED: u64 = 0x7465_6e61;
/// Events per `insert_batch` call for the large ledger.
const CHUNK: usize = 1000;

/// A seeded workspace and its one managed channel.
#[derive(Debug, Clone, Copy)]
pub struct Tenant {
    pub workspace: WorkspaceId,
    pub channel: ChannelId,
}

/// `n` workspaces, each its owner's personal one, with one webhook channel to `hook`
/// subscribed to everything, one monthly budget and three events; and how long it took.
pub fn workspaces(store: &Store, n: usize, hook: &str) -> Result<(Vec<Tenant>, Duration)> {
    let started = Instant::now();
    let catalog = Catalog::builtin();
    let now = Utc::now();
    let mut calls = CallGen::history(SEED, now, 7, (n * EVENTS_PER_WORKSPACE) as u64);
    let run = rand::random::<u32>();
    let mut tenants = Vec::with_capacity(n);
    let indexes: Vec<usize> = (0..n).collect();
    for chunk in indexes.chunks(PER_TRANSACTION) {
        let mut ledgers = Vec::with_capacity(chunk.len());
        for _ in chunk {
            let ledger = (0..EVENTS_PER_WORKSPACE)
                .map(|_| calls.next_call().to_new_event(catalog, now))
                .collect::<Result<Vec<NewEvent>>>()?;
            ledgers.push(ledger);
        }
        let made = store
            .transaction(|c| {
                chunk
                    .iter()
                    .zip(&ledgers)
                    .map(|(i, ledger)| {
                        let user = users::create(
                            c,
                            &NewUser {
                                email: format!("tenant-{run:08x}-{i:06}@bench.invalid"),
                                password_hash: "not-a-hash".into(),
                            },
                        )?;
                        let workspace = workspaces::personal(c, user.id)?;
                        let channel = channels::create(
                            c,
                            workspace,
                            &NewChannel {
                                name: "ops".into(),
                                kind: "webhook".into(),
                                target: hook.into(),
                                events: SUBSCRIPTIONS.into(),
                                created_by: Some(user.id),
                            },
                        )?;
                        budgets::create(c, workspace, &budget())?;
                        events::insert_batch(c, workspace, ledger)?;
                        Ok(Tenant {
                            workspace,
                            channel: channel.id,
                        })
                    })
                    .collect::<std::result::Result<Vec<Tenant>, StoreError>>()
            })
            .map_err(|e| format!("seeding workspaces: {e}"))?;
        tenants.extend(made);
    }
    Ok((tenants, started.elapsed()))
}

fn budget() -> NewBudget {
    NewBudget {
        name: "Monthly".into(),
        // $1,000: three calls are far from it, so no alert is due.
        amount_nanos: 1_000 * 1_000_000_000,
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

/// Records one monthly report for each tenant's channel, all in one transaction (so the
/// outbox finds every one at once), as the scheduler records a report: pending, never
/// attempted. Returns when they are committed.
pub fn notifications(store: &Store, tenants: &[Tenant]) -> Result<Instant> {
    let key = format!("report_monthly:bench-{:08x}", rand::random::<u32>());
    let payloads = tenants
        .iter()
        .map(|t| serde_json::to_string(&report(t.workspace)).map_err(|e| e.to_string()))
        .collect::<Result<Vec<String>>>()?;
    store
        .transaction(|c| {
            for (t, payload) in tenants.iter().zip(&payloads) {
                let occasion = (Event::ReportMonthly.as_str(), key.as_str());
                outbox::enqueue(c, t.workspace, t.channel, occasion, payload)?;
            }
            Ok(())
        })
        .map_err(|e| format!("recording notifications: {e}"))?;
    Ok(Instant::now())
}

/// A monthly report's notice about `workspace`, the size of a real one.
fn report(workspace: WorkspaceId) -> Notice {
    let fact = |label: &str, value: &str| Fact {
        label: label.into(),
        value: value.into(),
    };
    Notice {
        event: Event::ReportMonthly,
        workspace_id: workspace.get(),
        workspace: "Personal".into(),
        title: "Monthly report".into(),
        summary: "$1.23 spent last month over 3 calls.".into(),
        facts: vec![
            fact("Spent", "$1.23"),
            fact("Calls", "3"),
            fact("Top model", "gpt-4o"),
        ],
        sections: Vec::new(),
        page: Some("/".into()),
        data: serde_json::json!({"spent_usd": 1.23, "calls": 3}),
        created_at: Utc::now(),
    }
}

/// `events` events of workspace `workspace` over the last 30 days, each tagged
/// `customer` with one of `values` distinct values (every value used about equally).
pub fn tagged_ledger(
    store: &Store,
    workspace: WorkspaceId,
    events: usize,
    values: usize,
) -> Result<Duration> {
    let started = Instant::now();
    let catalog = Catalog::builtin();
    let now = Utc::now();
    let mut calls = CallGen::history(SEED + 1, now, 30, events as u64);
    let mut made = 0;
    while made < events {
        let n = CHUNK.min(events - made);
        let chunk = (made..made + n)
            .map(|i| {
                let mut e = calls.next_call().to_new_event(catalog, now)?;
                e.tags = BTreeMap::from([("customer".into(), format!("c{:06}", i % values))]);
                Ok(e)
            })
            .collect::<Result<Vec<NewEvent>>>()?;
        store
            .insert_batch(workspace, &chunk)
            .map_err(|e| format!("seeding the tagged ledger: {e}"))?;
        made += n;
    }
    Ok(started.elapsed())
}

/// The personal workspace of the user signed up as `email`.
pub fn workspace_of(store: &Store, email: &str) -> Result<WorkspaceId> {
    let user = store
        .find_user_by_email(email)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {email}"))?;
    store
        .with_conn(|c| workspaces::personal(c, user.id))
        .map_err(|e| e.to_string())
}
