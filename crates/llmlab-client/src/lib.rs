#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod event;
mod reserve;
mod sender;
mod transport;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

pub use event::Event;
pub use llmlab_engine::Usd;
pub use reserve::{HeldBudget, Reservation, Reserve};

use sender::{Policy, Queue};
use transport::Transport;

/// What went wrong with a request the caller waits for ([`Client::check`]) or with
/// building a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting of the builder is out of range.
    #[error("invalid client setting: {0}")]
    Config(String),
    /// No answer: the server could not be reached or did not answer in time.
    #[error("LLMLab server unreachable: {0}")]
    Unreachable(String),
    /// The server answered with an error (its message).
    #[error("LLMLab server answered {status}: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The error's message.
        message: String,
    },
    /// The server answered something this client does not understand.
    #[error("unexpected answer from the LLMLab server: {0}")]
    Unexpected(String),
    /// A hard budget covering the call has less available than its worst case
    /// ([`Client::reserve`]): the call should not be made.
    #[error("budget '{name}' has ${available} available, less than the ${requested} asked")]
    BudgetExceeded {
        /// The budget's id.
        budget_id: i64,
        /// Its name.
        name: String,
        /// What it has left: amount − spent − live reservations.
        available: Usd,
        /// The call's worst case.
        requested: Usd,
    },
}

/// Counters of what became of the events tracked so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Waiting in the queue now.
    pub queued: u64,
    /// Stored by the server.
    pub accepted: u64,
    /// Already stored (a resend after a lost answer, or a repeated `event_id`).
    pub duplicates: u64,
    /// Refused by the server on their own merits (an unknown provider, negative tokens).
    pub rejected: u64,
    /// Given back by [`Client::track`] because the queue was full or the client closing.
    pub dropped: u64,
    /// Given up: refused as a whole (a revoked key), retried past the retry limit, or
    /// still queued when the client closed past its shutdown timeout.
    pub failed: u64,
    /// Batches sent again after a retryable failure.
    pub retries: u64,
    /// The last rejection or failure, in words.
    pub last_error: Option<String>,
}

/// Builds a [`Client`]; every setting has a default suited to a service sending a few
/// hundred events a second.
#[derive(Debug, Clone)]
pub struct Builder {
    endpoint: String,
    api_key: String,
    policy: Policy,
    request_timeout: Duration,
}

impl Builder {
    /// Events per request, 1 to 1,000 (default 100).
    pub fn batch_size(mut self, n: usize) -> Builder {
        self.policy.batch_size = n;
        self
    }

    /// How long an event may wait for its batch to fill (default 1 s).
    pub fn flush_interval(mut self, interval: Duration) -> Builder {
        self.policy.flush_interval = interval;
        self
    }

    /// Events the queue holds before `track` gives them back (default 10,000).
    pub fn queue_capacity(mut self, n: usize) -> Builder {
        self.policy.capacity = n;
        self
    }

    /// The first retry's wait and the longest (defaults 200 ms and 30 s); each retry
    /// doubles it, with jitter.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Builder {
        self.policy.first_backoff = first;
        self.policy.max_backoff = max;
        self
    }

    /// How long one batch is retried before it is given up (default 10 minutes).
    pub fn give_up_after(mut self, limit: Duration) -> Builder {
        self.policy.give_up_after = limit;
        self
    }

    /// How long dropping the client may take to send what is queued (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.policy.shutdown_timeout = timeout;
        self
    }

    /// The limit of one request, connection included (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Builder {
        self.request_timeout = timeout;
        self
    }

    /// Starts the client and its sender thread.
    ///
    /// # Errors
    /// [`Error::Config`] for a batch size outside 1–1,000, an empty queue, a zero
    /// interval or timeout, or an endpoint that is not an `http(s)://` URL.
    pub fn build(self) -> Result<Client, Error> {
        let p = &self.policy;
        if !(1..=1000).contains(&p.batch_size) {
            return Err(Error::Config("batch_size must be 1 to 1000".into()));
        }
        if p.capacity == 0 {
            return Err(Error::Config("queue_capacity must be at least 1".into()));
        }
        if p.flush_interval.is_zero() || self.request_timeout.is_zero() {
            return Err(Error::Config(
                "flush_interval and request_timeout must be above zero".into(),
            ));
        }
        if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            return Err(Error::Config(format!(
                "endpoint {:?} is not an http:// or https:// URL",
                self.endpoint
            )));
        }
        let queue = Queue::new(self.policy.clone());
        let transport = Arc::new(Transport::new(
            &self.endpoint,
            &self.api_key,
            self.request_timeout,
        ));
        let sender = {
            let (queue, transport) = (Arc::clone(&queue), Arc::clone(&transport));
            std::thread::Builder::new()
                .name("llmlab-client".into())
                .spawn(move || queue.run(&transport))
                .map_err(|e| Error::Config(format!("cannot start the sender thread: {e}")))?
        };
        Ok(Client {
            queue,
            transport,
            sender: Some(sender),
        })
    }
}

/// Sends events to one LLMLab server with one API key (scope `ingest`).
///
/// Share it (`Arc<Client>`, or a `static`): it is `Send + Sync`, and every clone of an
/// `Arc` feeds the same queue and sender thread.
#[derive(Debug)]
pub struct Client {
    queue: Arc<Queue>,
    transport: Arc<Transport>,
    sender: Option<JoinHandle<()>>,
}

impl Client {
    /// A builder for a client of the server at `endpoint` (`http://127.0.0.1:8000`)
    /// sending with `api_key`.
    pub fn builder(endpoint: impl Into<String>, api_key: impl Into<String>) -> Builder {
        Builder {
            endpoint: endpoint.into(),
            api_key: api_key.into(),
            policy: Policy {
                batch_size: 100,
                flush_interval: Duration::from_secs(1),
                capacity: 10_000,
                first_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(30),
                give_up_after: Duration::from_secs(600),
                shutdown_timeout: Duration::from_secs(5),
            },
            request_timeout: Duration::from_secs(10),
        }
    }

    /// Queues `event` for sending and returns at once. It is stamped with the time of
    /// this call and an idempotency key unless it has its own.
    ///
    /// # Errors
    /// Gives the event back when the queue is full (the server is away or slower than the
    /// events come) or the client is closing; [`Stats::dropped`] counts it.
    pub fn track(&self, event: Event) -> Result<(), Box<Event>> {
        self.queue.push(event.stamped(chrono::Utc::now()))
    }

    /// Sends what is queued now and waits until the server has answered for all of it
    /// (or it was given up), at most `timeout`; whether everything was settled in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.queue.flush(timeout)
    }

    /// What became of the events tracked so far.
    pub fn stats(&self) -> Stats {
        self.queue.stats()
    }

    /// The pre-flight question (`GET /api/budgets/check`): may `call` be made under the
    /// budgets whose scope covers it? Waits for the answer, at most the request timeout.
    ///
    /// # Errors
    /// [`Error::Unreachable`] without an answer, [`Error::Server`] for an error answer
    /// (a revoked key, a malformed tag). Whether to make the call then is the caller's
    /// choice (fail open or closed).
    pub fn check(&self, call: &Call) -> Result<Check, Error> {
        let mut query = vec![
            ("provider", call.provider.as_str()),
            ("model", call.model.as_str()),
        ];
        let tag = call.tag.as_ref().map(|(k, v)| format!("{k}:{v}"));
        if let Some(tag) = &tag {
            query.push(("tag", tag));
        }
        let answer: CheckAnswer = self.transport.get_json("/api/budgets/check", &query)?;
        let budgets = answer
            .budgets
            .into_iter()
            .map(|b| {
                let remaining = Usd::parse(b.remaining_usd.get())
                    .map_err(|e| Error::Unexpected(format!("remaining_usd: {e}")))?;
                Ok(BudgetCheck {
                    id: b.id,
                    name: b.name,
                    status: b.status,
                    remaining,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Check {
            allowed: answer.allowed,
            budgets,
        })
    }
}

impl Drop for Client {
    /// Sends what is queued, waiting at most the shutdown timeout (plus a request
    /// already under way); what is left then counts as failed.
    fn drop(&mut self) {
        self.queue.close();
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
    }
}

/// A call about to be made, as [`Client::check`] asks about it.
#[derive(Debug, Clone)]
pub struct Call {
    provider: String,
    model: String,
    tag: Option<(String, String)>,
}

impl Call {
    /// A call of `model` at `provider`.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Call {
        Call {
            provider: provider.into(),
            model: model.into(),
            tag: None,
        }
    }

    /// The tag the call will carry that budgets may be scoped by (one: the server's
    /// check takes one tag).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Call {
        self.tag = Some((key.into(), value.into()));
        self
    }
}

/// The answer to [`Client::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// False when a budget covering the call is exceeded.
    pub allowed: bool,
    /// The budgets whose scope covers the call.
    pub budgets: Vec<BudgetCheck>,
}

/// One budget covering a checked call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetCheck {
    /// The budget's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `ok`, `warning` or `exceeded`.
    pub status: String,
    /// What is left of its amount this period.
    pub remaining: Usd,
}

#[derive(Deserialize)]
struct CheckAnswer {
    allowed: bool,
    budgets: Vec<BudgetAnswer>,
}

#[derive(Deserialize)]
struct BudgetAnswer {
    id: i64,
    name: String,
    status: String,
    /// Read from its digits, exactly.
    remaining_usd: Box<RawValue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused() {
        let builder = || Client::builder("http://127.0.0.1:9", "k");
        assert!(matches!(
            builder().batch_size(0).build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            builder().batch_size(1001).build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            builder().queue_capacity(0).build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Client::builder("127.0.0.1:8000", "k").build(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn the_client_is_shareable() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Client>();
        shareable::<Event>();
    }

    #[test]
    fn an_unreachable_server_never_blocks_tracking() {
        let client = Client::builder("http://127.0.0.1:9", "k")
            .queue_capacity(2)
            .backoff(Duration::from_millis(10), Duration::from_millis(20))
            .shutdown_timeout(Duration::from_millis(200))
            .build()
            .expect("a client");
        for _ in 0..5 {
            let _ = client.track(Event::new("openai", "gpt-4o", 1, 1));
        }
        assert!(!client.flush(Duration::from_millis(100)));
        let stats = client.stats();
        assert!(stats.dropped >= 3, "{stats:?}");
        drop(client);
    }
}
