//! Hard budgets: reserve a call's worst case before making it, then send its event with
//! the reservation's id (or release the reservation when the call is not made).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::transport::error_message;
use crate::{Client, Error, Usd};

/// A call about to be made, as [`Client::reserve`] describes it to the server.
///
/// ```
/// use llmlab_client::Reserve;
///
/// let call = Reserve::new("openai", "gpt-4o", 1_200, 1_024).tag("team", "search");
/// assert_eq!(call.model(), "gpt-4o");
/// ```
#[derive(Debug, Clone)]
pub struct Reserve {
    provider: String,
    model: String,
    input_tokens: u64,
    max_output_tokens: u64,
    tags: BTreeMap<String, String>,
    ttl_seconds: Option<u64>,
}

impl Reserve {
    /// A call of `model` at `provider` with `input_tokens` in its prompt that may answer
    /// up to `max_output_tokens` (its `max_tokens`): its worst case is what is held.
    pub fn new(
        provider: impl Into<String>,
        model: impl Into<String>,
        input_tokens: u64,
        max_output_tokens: u64,
    ) -> Reserve {
        Reserve {
            provider: provider.into(),
            model: model.into(),
            input_tokens,
            max_output_tokens,
            tags: BTreeMap::new(),
            ttl_seconds: None,
        }
    }

    /// A tag its event will carry (tags choose the budgets that cover the call).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Reserve {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// How long the reservation holds unless settled or released (server default 300 s,
    /// at most 3,600 s).
    pub fn ttl(mut self, ttl: std::time::Duration) -> Reserve {
        self.ttl_seconds = Some(ttl.as_secs().max(1));
        self
    }

    /// The model.
    pub fn model(&self) -> &str {
        &self.model
    }

    fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "provider": self.provider,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "max_output_tokens": self.max_output_tokens,
        });
        if !self.tags.is_empty() {
            body["tags"] = serde_json::json!(self.tags);
        }
        if let Some(ttl) = self.ttl_seconds {
            body["ttl_seconds"] = serde_json::json!(ttl);
        }
        body
    }
}

/// A reservation the server made: send `id` with the call's event
/// ([`Event::reservation_id`](crate::Event::reservation_id)), or release it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reservation {
    /// Its id.
    pub id: String,
    /// The call's worst case, held against each budget below.
    pub reserved: Usd,
    /// When it lapses by itself (RFC 3339).
    pub expires_at: String,
    /// The hard budgets covering the call (none: nothing is held).
    pub budgets: Vec<HeldBudget>,
}

/// A hard budget a reservation holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldBudget {
    /// The budget's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// What it has left after this reservation.
    pub available: Usd,
}

#[derive(Deserialize)]
struct ReservationAnswer {
    reservation_id: String,
    reserved_usd: Box<RawValue>,
    expires_at: String,
    budgets: Vec<HeldAnswer>,
}

#[derive(Deserialize)]
struct HeldAnswer {
    id: i64,
    name: String,
    available_usd: Box<RawValue>,
}

/// A JSON number read from its digits, exactly.
fn usd(field: &str, raw: &RawValue) -> Result<Usd, Error> {
    Usd::parse(raw.get()).map_err(|e| Error::Unexpected(format!("{field}: {e}")))
}

/// The 409 `budget_exceeded` answer as [`Error::BudgetExceeded`].
fn exceeded(text: &str) -> Result<Error, Error> {
    #[derive(Deserialize)]
    struct Answer {
        error: Details,
    }
    #[derive(Deserialize)]
    struct Details {
        details: Refusal,
    }
    #[derive(Deserialize)]
    struct Refusal {
        budget_id: i64,
        name: String,
        available_usd: Box<RawValue>,
        requested_usd: Box<RawValue>,
    }
    let r = serde_json::from_str::<Answer>(text)
        .map_err(|e| Error::Unexpected(format!("a 409 answer: {e}")))?
        .error
        .details;
    Ok(Error::BudgetExceeded {
        budget_id: r.budget_id,
        name: r.name,
        available: usd("available_usd", &r.available_usd)?,
        requested: usd("requested_usd", &r.requested_usd)?,
    })
}

impl Client {
    /// Reserves `call`'s worst case against every hard budget that covers it, at once
    /// for all of them or for none. Waits for the server's answer (one request, not
    /// queued).
    ///
    /// # Errors
    /// [`Error::BudgetExceeded`] when a hard budget has less available: do not make
    /// the call. [`Error::Unreachable`] without an answer: making the call anyway
    /// (fail open) or not (fail closed) is the caller's choice. [`Error::Server`] for
    /// other refusals (an unknown model, a key without the `ingest` scope).
    pub fn reserve(&self, call: &Reserve) -> Result<Reservation, Error> {
        let (status, text) =
            self.transport
                .call("POST", "/api/budgets/reserve", Some(&call.body()))?;
        match status {
            201 => {}
            409 => return Err(exceeded(&text)?),
            _ => {
                return Err(Error::Server {
                    status,
                    message: error_message(&text),
                });
            }
        }
        let answer: ReservationAnswer =
            serde_json::from_str(&text).map_err(|e| Error::Unexpected(e.to_string()))?;
        let budgets = answer
            .budgets
            .into_iter()
            .map(|b| {
                Ok(HeldBudget {
                    available: usd("available_usd", &b.available_usd)?,
                    id: b.id,
                    name: b.name,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Reservation {
            reserved: usd("reserved_usd", &answer.reserved_usd)?,
            id: answer.reservation_id,
            expires_at: answer.expires_at,
            budgets,
        })
    }

    /// Releases reservation `id` when its call is not made (or failed before costing
    /// anything). Releasing one already settled, released or expired is not an error.
    ///
    /// # Errors
    /// [`Error::Unreachable`] without an answer (the reservation then lapses at its
    /// TTL), [`Error::Server`] for a refusal.
    pub fn release(&self, id: &str) -> Result<(), Error> {
        let path = format!("/api/budgets/reservations/{id}");
        match self.transport.call("DELETE", &path, None)? {
            (204, _) => Ok(()),
            (status, text) => Err(Error::Server {
                status,
                message: error_message(&text),
            }),
        }
    }
}
