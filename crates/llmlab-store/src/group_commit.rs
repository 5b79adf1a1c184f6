//! Group commit for single events: concurrent requests that each store one event share
//! one transaction.
//!
//! Under load most of the cost of storing one event is the transaction around it —
//! `BEGIN`/`COMMIT`, the WAL pages or the flush to disk, round trips. [`GroupCommit`]
//! hands every event to one writer thread, which stores whatever events are waiting
//! (up to a limit) in one transaction and then answers each caller. A caller is answered
//! only after the commit that made its event durable, so nothing acknowledged is lost;
//! alone, an event is stored at once, as [`Store::insert_event`] does.
//!
//! One failing event does not fail the others: when a group's transaction fails for a
//! reason other than an unreachable database, each event is retried on its own and only
//! the faulty one reports an error. A panic while storing a group fails that group's
//! requests only: the thread goes on with the next group, and [`GroupCommit::is_running`]
//! tells health checks whether it is still there.

use crate::WorkspaceId;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread;

use crate::events::{EventRow, InsertOutcome, NewEvent, insert_all, stored_row};
use crate::{Store, StoreError, now_utc, write_tx};

type Reply = Result<(EventRow, InsertOutcome), StoreError>;

struct Job {
    workspace_id: WorkspaceId,
    event: NewEvent,
    reply: SyncSender<Reply>,
}

/// The queue in front of the writer thread (see the module documentation). Cloning is
/// cheap; the thread stops when the last clone is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    jobs: Sender<Job>,
    health: Arc<WriterHealth>,
}

/// What the writer thread reports about itself.
#[derive(Default)]
struct WriterHealth {
    running: AtomicBool,
    panics: AtomicU64,
}

/// Marks the writer stopped however its thread ends.
struct RunningGuard(Arc<WriterHealth>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

impl GroupCommit {
    /// Starts the writer thread for `store`, committing up to `max_group` events per
    /// transaction.
    pub fn start(store: Store, max_group: usize) -> Result<GroupCommit, StoreError> {
        GroupCommit::start_with(max_group, move |group| commit(&store, group))
    }

    /// The writer thread with its commit step given: `commit` answers one reply per job.
    fn start_with(
        max_group: usize,
        commit: impl Fn(&[Job]) -> Vec<Reply> + Send + 'static,
    ) -> Result<GroupCommit, StoreError> {
        let (jobs, queue) = mpsc::channel();
        let health = Arc::new(WriterHealth::default());
        health.running.store(true, Ordering::SeqCst);
        let guard = RunningGuard(health.clone());
        thread::Builder::new()
            .name("llmlab-group-commit".into())
            .spawn(move || run(&queue, max_group.max(1), &guard.0, commit))
            .map_err(|e| StoreError::Config(format!("cannot start the writer thread: {e}")))?;
        Ok(GroupCommit { jobs, health })
    }

    /// Whether the writer thread is serving.
    pub fn is_running(&self) -> bool {
        self.health.running.load(Ordering::SeqCst)
    }

    /// Groups whose storing panicked since start (their requests got errors; the thread
    /// went on).
    pub fn panics(&self) -> u64 {
        self.health.panics.load(Ordering::SeqCst)
    }

    /// Stores one event, like [`Store::insert_event`], blocking until its group is
    /// committed.
    pub fn insert_event(&self, workspace_id: WorkspaceId, event: NewEvent) -> Reply {
        let (reply, answer) = mpsc::sync_channel(1);
        let stopped = || StoreError::Unavailable("the writer thread has stopped".into());
        self.jobs
            .send(Job {
                workspace_id,
                event,
                reply,
            })
            .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

fn run(
    queue: &Receiver<Job>,
    max_group: usize,
    health: &WriterHealth,
    commit: impl Fn(&[Job]) -> Vec<Reply>,
) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // A connection dropped while unwinding is mid-transaction, which the pool
        // treats as broken and discards, so nothing of the failed group is committed.
        let replies = match catch_unwind(AssertUnwindSafe(|| commit(&group))) {
            Ok(replies) if replies.len() == group.len() => replies,
            Ok(_) | Err(_) => {
                health.panics.fetch_add(1, Ordering::SeqCst);
                log::error!(
                    "the writer failed storing a group of {} events",
                    group.len()
                );
                group
                    .iter()
                    .map(|_| Err(StoreError::Query("the writer failed on this group".into())))
                    .collect()
            }
        };
        for (job, reply) in group.into_iter().zip(replies) {
            // A caller that gave up waiting is not an error of the others.
            let _ = job.reply.send(reply);
        }
    }
}

fn one_by_one(store: &Store, group: &[Job]) -> Vec<Reply> {
    group
        .iter()
        .map(|job| store.insert_event(job.workspace_id, &job.event))
        .collect()
}

fn commit(store: &Store, group: &[Job]) -> Vec<Reply> {
    if group.len() == 1 {
        return one_by_one(store, group);
    }
    // Workspaces in id order, so concurrent transactions lock rows in the same order.
    let mut by_user: BTreeMap<WorkspaceId, Vec<usize>> = BTreeMap::new();
    for (i, job) in group.iter().enumerate() {
        by_user.entry(job.workspace_id).or_default().push(i);
    }
    let created_at = now_utc();
    let stored = store.write(|conn| {
        write_tx(conn, |conn| {
            let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; group.len()];
            for (&workspace_id, indices) in &by_user {
                let events: Vec<NewEvent> =
                    indices.iter().map(|&i| group[i].event.clone()).collect();
                let stored = insert_all(conn, workspace_id, &events, created_at)?;
                for (&i, outcome) in indices.iter().zip(stored) {
                    outcomes[i] = Some(outcome);
                }
            }
            // Repeats read their stored event in the same transaction, on the same
            // connection; new events need no read.
            group
                .iter()
                .zip(outcomes)
                .map(|(job, outcome)| {
                    let outcome = outcome.ok_or_else(|| StoreError::Query("no outcome".into()))?;
                    let row = stored_row(conn, job.workspace_id, &job.event, outcome, created_at)?;
                    Ok((row, outcome))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
    });
    match stored {
        Ok(rows) => rows.into_iter().map(Ok).collect(),
        Err(StoreError::Unavailable(message)) => group
            .iter()
            .map(|_| Err(StoreError::Unavailable(message.clone())))
            .collect(),
        Err(_) => one_by_one(store, group),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenCounts;

    fn event(n: i64) -> NewEvent {
        NewEvent {
            tokens: TokenCounts {
                input_tokens: n,
                ..TokenCounts::default()
            },
            event_id: None,
            provider: "openai".into(),
            model: "gpt-4o".into(),
            resolved_model: "gpt-4o".into(),
            batch: false,
            cost_nanos: n,
            cost_source: "client".into(),
            price_effective_from: None,
            ts: 0,
            latency_ms: None,
            tags: Default::default(),
            price_revision: None,
            ..NewEvent::default()
        }
    }

    /// A group whose storing panics gets errors; the thread serves the next one.
    #[test]
    fn a_panicking_group_fails_alone() {
        let writer = GroupCommit::start_with(8, |group| {
            if group.iter().any(|j| j.event.tokens.input_tokens == 13) {
                panic!("injected failure");
            }
            group
                .iter()
                .map(|j| {
                    Err(StoreError::Conflict(
                        j.event.tokens.input_tokens.to_string(),
                    ))
                })
                .collect()
        })
        .expect("start");
        let bad = writer.insert_event(WorkspaceId(1), event(13));
        assert!(matches!(bad, Err(StoreError::Query(_))), "{bad:?}");
        assert!(writer.is_running());
        assert_eq!(writer.panics(), 1);
        let next = writer.insert_event(WorkspaceId(1), event(7));
        assert!(
            matches!(next, Err(StoreError::Conflict(ref m)) if m == "7"),
            "{next:?}"
        );
    }
}
