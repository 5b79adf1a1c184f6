//! LLMLab's use cases, one module per area, in domain and store types with their own
//! error ([`AppError`]), and no HTTP in them: the server's JSON API and dashboard parse a
//! request, call one use case and convert its answer, and so do xtask's commands.
//!
//! A use case takes what it needs: most take a [`Store`](llmlab_store::Store) and the
//! caller's [`Identity`](auth::Identity) (or the workspace it acts in); those that start
//! background work or share a cache take the [`App`] context. Database work runs on the
//! blocking pool through [`blocking`]. Background work (the notification scheduler, the
//! outbox, retention) is started by the server from [`notify`] and [`webhooks`].

pub mod access;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod error;
pub mod ingest;
pub mod input;
pub mod metrics;
pub mod money;
pub mod notify;
pub mod outbox;
pub mod quota;
pub mod replica;
pub mod state;
pub mod webhooks;

pub mod accounts;
pub mod alerts;
pub mod budgets;
pub mod catalog_changes;
pub mod channels;
pub mod commitments;
pub mod consent;
pub mod contracts;
pub mod digest;
pub mod focus;
pub mod fx;
pub mod invitations;
pub mod keys;
pub mod ledger;
pub mod notifications;
pub mod otlp;
pub mod overview;
pub mod pricing;
pub mod recommendations;
pub mod reconciliation;
pub mod reports;
pub mod retention;
pub mod tag_rankings;
pub mod tokens;
pub mod usage_formats;
pub mod workspaces;

pub use error::AppError;
pub use state::AppState;

/// The store's ids, roles and rows the use cases answer in: the server and xtask name
/// them through here (only the server's startup names the store itself, to open it).
pub use llmlab_store::{
    Actor, AlertDelivery, ApiKeyId, ApiKeyRow, AuditRow, BudgetId, ChannelId, ChannelRow,
    CustomPriceRow, EventCursor, EventFilter, EventPage, EventRow, GroupTotals, InvitationId,
    InvitationRow, MemberRow, ModelTotals, NewCustomPrice, NotificationDeliveryRow,
    NotificationRow, RecipientRow, Role, Sender, SenderTotals, StoreError, TagBreakdown, TagRest,
    TagTotals, Totals, UserId, UserRow, WorkspaceId, WorkspaceRow, now_utc,
};

use std::sync::Arc;

/// The context the use cases share (an `Arc`; the server hands it to handlers).
pub type App = Arc<AppState>;

/// `Ok` when an account holding `held` of `what` may create one more under `limit`.
/// Counted in the transaction-less read before the insert: requests racing at the limit
/// on several instances can each pass (see docs/SECURITY.md).
pub fn ensure_room(what: &'static str, held: usize, limit: usize) -> Result<(), AppError> {
    if held < limit {
        Ok(())
    } else {
        Err(AppError::LimitExceeded { what, limit })
    }
}

/// Runs blocking store work off the async executor.
pub async fn blocking<T: Send + 'static, E: Into<AppError> + Send + 'static>(
    app: &App,
    f: impl FnOnce(&llmlab_store::Store) -> Result<T, E> + Send + 'static,
) -> Result<T, AppError> {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(Into::into)
}

/// [`blocking`] for a read that may lag the primary by up to `LLMLAB_REPLICA_MAX_LAG_MS`
/// (reports, event lists and exports, the dashboard's read-only pages): on the read
/// replica when one is configured and healthy, else on the primary, counting why (see
/// `crate::replica`). Never for a write, nor for a read that must see the caller's own
/// writes (the pre-flight budget check, budget evaluation, credentials, a form's page
/// after its redirect).
///
/// A replica that answers can still fail a query the primary answers: a statement
/// cancelled by a recovery conflict (which PostgreSQL applies at once after replay was
/// held back), a connection cut by one, a schema not yet replayed after an upgrade. Such
/// a read runs again on the primary (reads are idempotent) and is counted as
/// `reason="failed"`; a replica found gone also sends the reads after it to the primary.
pub async fn blocking_read<T: Send + 'static, E: Into<AppError> + Send + 'static>(
    app: &App,
    f: impl Fn(&llmlab_store::Store) -> Result<T, E> + Send + 'static,
) -> Result<T, AppError> {
    let Some(replica) = app.replica.clone() else {
        return blocking(app, f).await;
    };
    let state = app.clone();
    tokio::task::spawn_blocking(move || match replica.route() {
        crate::replica::Route::Replica => match f(replica.store()).map_err(Into::into) {
            Err(AppError::Store(
                e @ (llmlab_store::StoreError::Unavailable(_) | llmlab_store::StoreError::Query(_)),
            )) => {
                if let llmlab_store::StoreError::Unavailable(_) = e {
                    replica.mark_unreachable();
                }
                log::warn!("read replica: a read failed there, retried on the primary: {e}");
                state.metrics.replica_fallback("failed");
                f(&state.store).map_err(Into::into)
            }
            read => {
                state.metrics.replica_read();
                read
            }
        },
        route => {
            if let crate::replica::Route::Fallback(reason) = route {
                state.metrics.replica_fallback(reason);
            }
            f(&state.store).map_err(Into::into)
        }
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// A change to record in a workspace's audit log.
pub struct Audit {
    /// What was done, e.g. `budget.create`.
    pub action: &'static str,
    /// The kind of thing it was done to.
    pub target_kind: &'static str,
    /// Its id.
    pub target_id: String,
    /// What changed.
    pub details: serde_json::Value,
}

/// Runs `change` and records the [`Audit`] it returns in one transaction: the log holds
/// exactly the changes that were made.
pub fn audited<T>(
    s: &llmlab_store::Store,
    workspace: llmlab_store::WorkspaceId,
    actor: &llmlab_store::Actor,
    change: impl FnOnce(
        &mut llmlab_store::AnyConnection,
    ) -> Result<(T, Audit), llmlab_store::StoreError>,
) -> Result<T, AppError> {
    Ok(s.transaction(|c| {
        let (done, audit) = change(c)?;
        record_audit(c, workspace, actor, audit)?;
        Ok(done)
    })?)
}

/// Writes `audit` to `workspace`'s log; call it in the transaction of the change.
pub fn record_audit(
    c: &mut llmlab_store::AnyConnection,
    workspace: llmlab_store::WorkspaceId,
    actor: &llmlab_store::Actor,
    audit: Audit,
) -> Result<(), llmlab_store::StoreError> {
    llmlab_store::audit::record(
        c,
        workspace,
        &llmlab_store::NewAuditEntry {
            actor,
            action: audit.action,
            target_kind: audit.target_kind,
            target_id: audit.target_id,
            details_json: audit.details.to_string(),
        },
    )
}

/// Deletes through `delete` and records it in the audit log, in one transaction;
/// `delete` finding nothing (`false`) is a 404 naming `what`, and records nothing.
pub fn audited_delete(
    s: &llmlab_store::Store,
    workspace: llmlab_store::WorkspaceId,
    actor: &llmlab_store::Actor,
    what: &'static str,
    audit: Audit,
    delete: impl FnOnce(&mut llmlab_store::AnyConnection) -> Result<bool, llmlab_store::StoreError>,
) -> Result<(), AppError> {
    audited(s, workspace, actor, |c| {
        if delete(c)? {
            Ok(((), audit))
        } else {
            Err(llmlab_store::StoreError::NotFound)
        }
    })
    .map_err(|e| e.or_not_found(what))
}
