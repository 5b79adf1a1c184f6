//! Integration tests of llmlab-store. Every test runs on SQLite and on PostgreSQL
//! (`both_backends!`); see `llmlab_store::test_support` for the PostgreSQL setup.

#![allow(clippy::unwrap_used)]

mod accounts;
mod analytics;
mod budget_spend;
pub mod budgets;
mod citus;
mod crash;
pub mod events;
mod group_commit;
pub mod migrations;
mod outbox;
mod pricing_depth;
mod rankings;
mod reservations;
mod schedule;
mod send_quota;

use std::collections::BTreeMap;

use llmlab_store::{NewEvent, NewUser, Store, TokenCounts, WorkspaceId};

/// Base instant of the generated events: 2026-11-01T00:00:00Z in microseconds.
pub const T0: i64 = 1_793_491_200_000_000;
/// One hour in microseconds.
pub const HOUR: i64 = 3_600_000_000;

/// Creates a user and returns their personal workspace, the tenant most tests act in.
pub fn user(store: &Store, email: &str) -> WorkspaceId {
    let user = person(store, email);
    store
        .with_conn(|c| llmlab_store::workspaces::personal(c, user.id))
        .unwrap()
}

/// Creates a user and returns them.
pub fn person(store: &Store, email: &str) -> llmlab_store::UserRow {
    store
        .create_user(&NewUser {
            email: email.into(),
            password_hash: "hash".into(),
        })
        .unwrap()
}

/// A minimal event.
pub fn event(ts: i64, provider: &str, model: &str, cost_nanos: i64) -> NewEvent {
    NewEvent {
        tokens: TokenCounts {
            input_tokens: 100,
            output_tokens: 20,
            ..TokenCounts::default()
        },
        provider: provider.into(),
        model: model.into(),
        resolved_model: model.into(),
        cost_nanos,
        cost_source: "catalog".into(),
        ts,
        ..NewEvent::default()
    }
}

/// `pairs` as a tag map.
pub fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
