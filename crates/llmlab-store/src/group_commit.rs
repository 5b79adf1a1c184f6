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

/// One event to store, of one workspace.
type Job = (WorkspaceId, NewEvent);

/// The queue in front of the writer thread (see the module documentation). Cloning is
/// cheap; the thread stops when the last clone is dropped.
#[derive(Clone)]
pub struct GroupCommit(Batcher<Job, (EventRow, InsertOutcome)>);

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
        Batcher::start("llmlab-group-commit", max_group, commit).map(GroupCommit)
    }

    /// Whether the writer thread is serving.
    pub fn is_running(&self) -> bool {
        self.0.is_running()
    }

    /// Groups whose storing panicked since start (their requests got errors; the thread
    /// went on).
    pub fn panics(&self) -> u64 {
        self.0.panics()
    }

    /// Stores one event, like [`Store::insert_event`], blocking until its group is
    /// committed.
    pub fn insert_event(&self, workspace_id: WorkspaceId, event: NewEvent) -> Reply {
        self.0.submit((workspace_id, event))
    }
}

/// A job handed to a [`Batcher`], with where its answer goes.
struct Queued<J, R> {
    work: J,
    reply: SyncSender<Result<R, StoreError>>,
}

/// A thread that takes the jobs waiting on its queue in groups (up to a limit) and
/// hands each group to one step that answers every job of it: the writer of single
/// events, and the reservations of hard budgets, each one transaction per group.
pub(crate) struct Batcher<J, R> {
    jobs: Sender<Queued<J, R>>,
    health: Arc<WriterHealth>,
}

impl<J, R> Clone for Batcher<J, R> {
    fn clone(&self) -> Self {
        Batcher {
            jobs: self.jobs.clone(),
            health: self.health.clone(),
        }
    }
}

/// What the thread reports about itself.
#[derive(Default)]
struct WriterHealth {
    running: AtomicBool,
    panics: AtomicU64,
}

/// Marks the thread stopped however it ends.
struct RunningGuard(Arc<WriterHealth>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

impl<J: Send + 'static, R: Send + 'static> Batcher<J, R> {
    /// Starts the thread `name`, handing `step` up to `max_group` jobs at a time.
    pub(crate) fn start(
        name: &str,
        max_group: usize,
        step: impl Fn(&[J]) -> Vec<Result<R, StoreError>> + Send + 'static,
    ) -> Result<Batcher<J, R>, StoreError> {
        let (jobs, queue) = mpsc::channel();
        let health = Arc::new(WriterHealth::default());
        health.running.store(true, Ordering::SeqCst);
        let guard = RunningGuard(health.clone());
        let label = name.to_string();
        thread::Builder::new()
            .name(name.into())
            .spawn(move || run(&queue, max_group.max(1), &guard.0, &label, step))
            .map_err(|e| StoreError::Config(format!("cannot start {name}: {e}")))?;
        Ok(Batcher { jobs, health })
    }

    pub(crate) fn is_running(&self) -> bool {
        self.health.running.load(Ordering::SeqCst)
    }

    pub(crate) fn panics(&self) -> u64 {
        self.health.panics.load(Ordering::SeqCst)
    }

    /// Queues `work` and waits for its group's answer.
    pub(crate) fn submit(&self, work: J) -> Result<R, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let stopped = || StoreError::Unavailable("the writer thread has stopped".into());
        self.jobs
            .send(Queued { work, reply })
            .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

fn run<J, R>(
    queue: &Receiver<Queued<J, R>>,
    max_group: usize,
    health: &WriterHealth,
    name: &str,
    step: impl Fn(&[J]) -> Vec<Result<R, StoreError>>,
) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let (works, replies): (Vec<J>, Vec<_>) =
            group.into_iter().map(|q| (q.work, q.reply)).unzip();
        // A connection dropped while unwinding is mid-transaction, which the pool
        // treats as broken and discards, so nothing of the failed group is committed.
        let answers = match catch_unwind(AssertUnwindSafe(|| step(&works))) {
            Ok(answers) if answers.len() == works.len() => answers,
            Ok(_) | Err(_) => {
                health.panics.fetch_add(1, Ordering::SeqCst);
                log::error!("{name} failed on a group of {} jobs", works.len());
                works
                    .iter()
                    .map(|_| Err(StoreError::Query(format!("{name} failed on this group"))))
                    .collect()
            }
        };
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that gave up waiting is not an error of the others.
            let _ = reply.send(answer);
        }
    }
}

fn one_by_one(store: &Store, group: &[Job]) -> Vec<Reply> {
    group
        .iter()
        .map(|(workspace_id, event)| store.insert_event(*workspace_id, event))
        .collect()
}

fn commit(store: &Store, group: &[Job]) -> Vec<Reply> {
    if group.len() == 1 {
        return one_by_one(store, group);
    }
    // Workspaces in id order, so concurrent transactions lock rows in the same order.
    let mut by_user: BTreeMap<WorkspaceId, Vec<usize>> = BTreeMap::new();
    for (i, (workspace_id, _)) in group.iter().enumerate() {
        by_user.entry(*workspace_id).or_default().push(i);
    }
    let created_at = now_utc();
    let stored = store.write(|conn| {
        write_tx(conn, |conn| {
            let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; group.len()];
            for (&workspace_id, indices) in &by_user {
                let events: Vec<NewEvent> = indices.iter().map(|&i| group[i].1.clone()).collect();
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
                .map(|((workspace_id, event), outcome)| {
                    let outcome = outcome.ok_or_else(|| StoreError::Query("no outcome".into()))?;
                    let row = stored_row(conn, *workspace_id, event, outcome, created_at)?;
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
            if group.iter().any(|j| j.1.tokens.input_tokens == 13) {
                panic!("injected failure");
            }
            group
                .iter()
                .map(|j| Err(StoreError::Conflict(j.1.tokens.input_tokens.to_string())))
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
