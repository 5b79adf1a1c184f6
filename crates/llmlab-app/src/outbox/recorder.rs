//! Attempts are recorded by one task, several to a transaction: deliveries that finish
//! while a record is being committed are written together by the next one, so under load
//! a commit is shared instead of paid per delivery. A delivery waits for its own record
//! before it gives its slot back, so a record never trails its lease.

use llmlab_store::StoreError;
use llmlab_store::outbox::Attempted;
use tokio::sync::{mpsc, oneshot};

use crate::{App, AppError};

type Reply = oneshot::Sender<Result<bool, StoreError>>;

/// Hands attempts to the recording task.
#[derive(Clone)]
pub(super) struct Recorder {
    queue: mpsc::UnboundedSender<(Attempted, Reply)>,
}

impl Recorder {
    /// The recording task of `state`'s worker; it ends with the last [`Recorder`].
    pub(super) fn start(state: App) -> Recorder {
        let (queue, mut waiting) = mpsc::unbounded_channel::<(Attempted, Reply)>();
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let mut batch = vec![first];
                while let Ok(next) = waiting.try_recv() {
                    batch.push(next);
                }
                let (attempts, replies): (Vec<Attempted>, Vec<Reply>) = batch.into_iter().unzip();
                let store = state.store.clone();
                let results = tokio::task::spawn_blocking(move || store.record_attempts(&attempts))
                    .await
                    .unwrap_or_default();
                // A panic while recording leaves no result: those attempts are retried
                // once their leases end.
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
        });
        Recorder { queue }
    }

    /// Records `attempt`; `false` when an instance that took over an overrun lease had
    /// recorded it already.
    pub(super) async fn record(&self, attempt: Attempted) -> Result<bool, AppError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((attempt, reply))
            .map_err(|_| AppError::Internal("the outbox's recorder stopped".into()))?;
        match answer.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(AppError::Internal("the attempt was not recorded".into())),
        }
    }
}
