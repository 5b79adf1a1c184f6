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
//! the faulty one reports an error.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread;

use crate::events::{EventRow, InsertOutcome, NewEvent, insert_all, stored_row};
use crate::{Store, StoreError, now_utc, write_tx};

type Reply = Result<(EventRow, InsertOutcome), StoreError>;

struct Job {
    user_id: i64,
    event: NewEvent,
    reply: SyncSender<Reply>,
}

/// The queue in front of the writer thread (see the module documentation). Cloning is
/// cheap; the thread stops when the last clone is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    jobs: Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer thread for `store`, committing up to `max_group` events per
    /// transaction.
    pub fn start(store: Store, max_group: usize) -> Result<GroupCommit, StoreError> {
        let (jobs, queue) = mpsc::channel();
        thread::Builder::new()
            .name("llmlab-group-commit".into())
            .spawn(move || run(&store, &queue, max_group.max(1)))
            .map_err(|e| StoreError::Config(format!("cannot start the writer thread: {e}")))?;
        Ok(GroupCommit { jobs })
    }

    /// Stores one event, like [`Store::insert_event`], blocking until its group is
    /// committed.
    pub fn insert_event(&self, user_id: i64, event: NewEvent) -> Reply {
        let (reply, answer) = mpsc::sync_channel(1);
        let stopped = || StoreError::Unavailable("the writer thread has stopped".into());
        self.jobs
            .send(Job {
                user_id,
                event,
                reply,
            })
            .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

fn run(store: &Store, queue: &Receiver<Job>, max_group: usize) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let replies = commit(store, &group);
        for (job, reply) in group.into_iter().zip(replies) {
            // A caller that gave up waiting is not an error of the others.
            let _ = job.reply.send(reply);
        }
    }
}

fn one_by_one(store: &Store, group: &[Job]) -> Vec<Reply> {
    group
        .iter()
        .map(|job| store.insert_event(job.user_id, &job.event))
        .collect()
}

fn commit(store: &Store, group: &[Job]) -> Vec<Reply> {
    if group.len() == 1 {
        return one_by_one(store, group);
    }
    // Users in id order, so concurrent transactions lock rows in the same order.
    let mut by_user: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, job) in group.iter().enumerate() {
        by_user.entry(job.user_id).or_default().push(i);
    }
    let created_at = now_utc();
    let stored = store.write(|conn| {
        write_tx(conn, |conn| {
            let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; group.len()];
            for (&user_id, indices) in &by_user {
                let events: Vec<NewEvent> =
                    indices.iter().map(|&i| group[i].event.clone()).collect();
                let stored = insert_all(conn, user_id, &events, created_at)?;
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
                    let row = stored_row(conn, job.user_id, &job.event, outcome, created_at)?;
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
