//! The thread that decides reservations and releases in groups, one transaction per
//! workspace and round.

use std::collections::BTreeMap;

use super::{Ask, Outcome, decide_in, settle_each};
use crate::group_commit::Batcher;
use crate::{Store, StoreError, WorkspaceId, write_tx};

/// What the reservations thread is asked to do.
#[derive(Debug, Clone)]
pub enum Work {
    /// Reserve (see [`reserve_all`]).
    Reserve(Ask),
    /// Release the reservation of this id (see [`release`]).
    Release(String),
}

/// What became of a [`Work`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// The reservation's outcome.
    Reserved(Outcome),
    /// The budgets the released reservation held (0: nothing was live).
    Released(usize),
}

/// Reservations and releases asked at once, through one transaction per workspace: the
/// thread in front of [`reserve_all`]. Concurrent callers of one budget would otherwise
/// each hold its lock through a commit of their own, one after the other; grouped,
/// they share one lock, one read of the spend and one commit, releases included. A
/// caller is answered after the commit that holds (or frees) its reservation.
#[derive(Clone)]
pub struct ReserveQueue(Batcher<(WorkspaceId, Work), Done>);

impl ReserveQueue {
    /// Starts the thread, deciding up to `max_group` requests per round.
    pub fn start(store: Store, max_group: usize) -> Result<ReserveQueue, StoreError> {
        Batcher::start("llmlab-reservations", max_group, move |group| {
            decide(&store, group)
        })
        .map(ReserveQueue)
    }

    /// Reserves `ask` for `workspace_id` (see [`reserve_all`]), waiting for its group.
    pub fn reserve(&self, workspace_id: WorkspaceId, ask: Ask) -> Result<Outcome, StoreError> {
        match self.0.submit((workspace_id, Work::Reserve(ask)))? {
            Done::Reserved(outcome) => Ok(outcome),
            Done::Released(_) => Err(StoreError::Query(
                "a reservation answered as a release".into(),
            )),
        }
    }

    /// Releases reservation `id` of `workspace_id` (see [`release`]), waiting for its
    /// group: the number of budgets it held.
    pub fn release(&self, workspace_id: WorkspaceId, id: String) -> Result<usize, StoreError> {
        match self.0.submit((workspace_id, Work::Release(id)))? {
            Done::Released(n) => Ok(n),
            Done::Reserved(_) => Err(StoreError::Query(
                "a release answered as a reservation".into(),
            )),
        }
    }

    /// Whether its thread is serving.
    pub fn is_running(&self) -> bool {
        self.0.is_running()
    }
}

/// One round: each workspace's releases, then its reservations in the order they came,
/// in one transaction.
fn decide(store: &Store, group: &[(WorkspaceId, Work)]) -> Vec<Result<Done, StoreError>> {
    let mut by_workspace: BTreeMap<WorkspaceId, Vec<usize>> = BTreeMap::new();
    for (i, (workspace_id, _)) in group.iter().enumerate() {
        by_workspace.entry(*workspace_id).or_default().push(i);
    }
    let mut answers: Vec<Option<Result<Done, StoreError>>> = vec![None; group.len()];
    for (workspace_id, indices) in by_workspace {
        let decided = store.write(|c| {
            write_tx(c, |c| {
                let mut done = Vec::with_capacity(indices.len());
                let releases: Vec<(usize, &str)> = indices
                    .iter()
                    .filter_map(|&i| match &group[i].1 {
                        Work::Release(id) => Some((i, id.as_str())),
                        Work::Reserve(_) => None,
                    })
                    .collect();
                if !releases.is_empty() {
                    let ids: Vec<&str> = releases.iter().map(|r| r.1).collect();
                    let freed = settle_each(c, workspace_id, &ids)?;
                    for (i, id) in releases {
                        let n = freed.iter().filter(|f| f.as_str() == id).count();
                        done.push((i, Done::Released(n)));
                    }
                }
                let (asked, asks): (Vec<usize>, Vec<Ask>) = indices
                    .iter()
                    .filter_map(|&i| match &group[i].1 {
                        Work::Reserve(ask) => Some((i, ask.clone())),
                        Work::Release(_) => None,
                    })
                    .unzip();
                if !asks.is_empty() {
                    let outcomes = decide_in(c, workspace_id, &asks)?;
                    done.extend(
                        asked
                            .into_iter()
                            .zip(outcomes.into_iter().map(Done::Reserved)),
                    );
                }
                Ok(done)
            })
        });
        match decided {
            Ok(done) => {
                for (i, d) in done {
                    answers[i] = Some(Ok(d));
                }
            }
            Err(e) => {
                for &i in &indices {
                    answers[i] = Some(Err(e.clone()));
                }
            }
        }
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(StoreError::Query("no outcome".into()))))
        .collect()
}
