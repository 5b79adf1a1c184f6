//! What one instance has under way: deliveries in flight, and attempts per receiver. The
//! worker asks it which receivers are busy (left out of the next look at the queue) and
//! which of the rows it saw it may take now.

use std::collections::{BTreeSet, HashMap};

use llmlab_store::WorkspaceId;
use llmlab_store::outbox::{Due, Host};

/// Deliveries one instance has under way at once, whatever they are: from claim to the
/// recorded attempt. A flood waits in the database, not in memory.
pub const IN_FLIGHT: usize = 16;

/// Attempts one instance makes at once to one receiver (a URL's scheme and authority,
/// or the SMTP server): a slow or hanging receiver holds at most this many of the
/// [`IN_FLIGHT`] slots, and the others keep flowing.
pub const PER_HOST: usize = 4;

/// The count of deliveries under way, and of attempts per receiver.
#[derive(Debug, Default, Clone)]
pub(super) struct Flight {
    total: usize,
    attempts: HashMap<Host, usize>,
}

/// What a delivery gives back as it goes.
#[derive(Debug)]
pub(super) enum Freed {
    /// Its attempt is over: the receiver has room for another.
    Host(Host),
    /// It is recorded: its slot is free.
    Slot,
}

impl Flight {
    /// Slots free for more deliveries.
    pub(super) fn free(&self) -> usize {
        IN_FLIGHT.saturating_sub(self.total)
    }

    /// The receivers with [`PER_HOST`] attempts under way.
    pub(super) fn busy(&self) -> BTreeSet<Host> {
        self.attempts
            .iter()
            .filter(|(_, n)| **n >= PER_HOST)
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// Of `due` (oldest first), the ones to claim now: as many as there are free slots,
    /// each to a receiver with room for it, the oldest first.
    pub(super) fn choose(&self, due: &[Due]) -> Vec<(WorkspaceId, i64)> {
        let mut taken: HashMap<&Host, usize> = HashMap::new();
        let mut chosen = Vec::new();
        for d in due {
            if chosen.len() >= self.free() {
                break;
            }
            let now = self.attempts.get(&d.host).copied().unwrap_or(0);
            let more = taken.entry(&d.host).or_insert(0);
            if now + *more < PER_HOST {
                *more += 1;
                chosen.push((d.workspace_id, d.id));
            }
        }
        chosen
    }

    /// A delivery to `host` starts.
    pub(super) fn start(&mut self, host: Host) {
        self.total += 1;
        *self.attempts.entry(host).or_insert(0) += 1;
    }

    /// A delivery gave back `freed`.
    pub(super) fn end(&mut self, freed: Freed) {
        match freed {
            Freed::Host(host) => {
                if let Some(n) = self.attempts.get_mut(&host) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.attempts.remove(&host);
                    }
                }
            }
            Freed::Slot => self.total = self.total.saturating_sub(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(id: i64, host: &str) -> Due {
        Due {
            workspace_id: WorkspaceId(1),
            id,
            host: Host::Origin(host.into()),
        }
    }

    fn ids(chosen: &[(WorkspaceId, i64)]) -> Vec<i64> {
        chosen.iter().map(|(_, id)| *id).collect()
    }

    #[test]
    fn at_most_per_host_to_one_receiver_and_in_flight_in_all() {
        let mut f = Flight::default();
        let flood: Vec<Due> = (1..=10)
            .map(|i| due(i, "http://a"))
            .chain((11..=12).map(|i| due(i, "http://b")))
            .collect();
        assert_eq!(ids(&f.choose(&flood)), [1, 2, 3, 4, 11, 12]);
        for _ in 0..3 {
            f.start(Host::Origin("http://a".into()));
        }
        assert_eq!(ids(&f.choose(&flood)), [1, 11, 12]);
        f.start(Host::Origin("http://a".into()));
        assert_eq!(f.busy(), BTreeSet::from([Host::Origin("http://a".into())]));
        let many: Vec<Due> = (1..=40).map(|i| due(i, &format!("http://h{i}"))).collect();
        assert_eq!(f.choose(&many).len(), IN_FLIGHT - 4);
        // The attempt ends before its record: the receiver has room, the slot does not.
        f.end(Freed::Host(Host::Origin("http://a".into())));
        assert!(f.busy().is_empty());
        assert_eq!(f.free(), IN_FLIGHT - 4);
        f.end(Freed::Slot);
        assert_eq!(f.free(), IN_FLIGHT - 3);
    }
}
