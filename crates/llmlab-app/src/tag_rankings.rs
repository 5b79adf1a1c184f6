//! Tag rankings (see `llmlab_store::analytics::ranking`) built in the background when a
//! report found that one would have answered it faster: on the primary (a report may
//! have run on the read replica), at most one build per key started a minute on each
//! instance, and builders of one key on several instances wait for each other in the
//! database, the later one finding the ranking fresh and building nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use llmlab_store::{TagBreakdown, WorkspaceId};

use crate::App;

/// When this instance last started building each key's ranking.
#[derive(Default)]
pub struct RankingBuilds(Mutex<HashMap<(WorkspaceId, String), Instant>>);

impl RankingBuilds {
    /// Least time between two builds of one key started here.
    const EVERY: Duration = Duration::from_secs(60);
    /// Keys remembered at most; past it, builds wait until old starts are forgotten.
    const MAX_KEYS: usize = 10_000;

    /// Whether a build of `key` may start now (and if so, it counts as started).
    fn claim(&self, workspace: WorkspaceId, key: &str) -> bool {
        let mut started = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let recent = |t: &Instant| now.duration_since(*t) < Self::EVERY;
        if started.len() >= Self::MAX_KEYS {
            started.retain(|_, t| recent(t));
            if started.len() >= Self::MAX_KEYS {
                return false;
            }
        }
        let id = (workspace, key.to_owned());
        if started.get(&id).is_some_and(recent) {
            return false;
        }
        started.insert(id, now);
        true
    }
}

/// Builds the ranking of tag `key` of `workspace` in the background if `found` (a report
/// by that key) asks for it.
pub fn refresh(app: &App, workspace: WorkspaceId, key: &str, found: &TagBreakdown) {
    if found.refresh {
        build_in_background(app, workspace, key);
    }
}

/// Builds the ranking of tag `key` of `workspace` in the background, unless this
/// instance started building it less than a minute ago.
pub fn build_in_background(app: &App, workspace: WorkspaceId, key: &str) {
    if !app.tag_rankings.claim(workspace, key) {
        return;
    }
    let state = app.clone();
    let key = key.to_owned();
    tokio::task::spawn_blocking(move || {
        let now = chrono::Utc::now().timestamp_micros();
        match state.store.rebuild_tag_ranking(workspace, &key, now) {
            Ok(true) => state.metrics.tag_ranking_built(),
            Ok(false) => {}
            Err(e) => log::warn!("building the ranking of tag key {key:?}: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_build_per_key_a_minute() {
        let builds = RankingBuilds::default();
        let ws = WorkspaceId(1);
        assert!(builds.claim(ws, "customer"));
        assert!(!builds.claim(ws, "customer"));
        assert!(builds.claim(ws, "team"));
        assert!(builds.claim(WorkspaceId(2), "customer"));
    }
}
