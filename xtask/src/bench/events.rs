//! Synthetic LLM calls: the request bodies the benchmark sends, and the same calls as
//! priced [`NewEvent`]s for the store-level ceilings.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use llmlab_app::ingest::prepare;
use llmlab_app::ledger::UnknownModels;
use llmlab_engine::providers::Catalog;
use llmlab_server::dto::TrackEvent;
use llmlab_store::NewEvent;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::Result;

/// (provider, model as a client sends it): a mix of aliases and dated snapshots, so the
/// server's model resolution is exercised as in production.
const MODELS: &[(&str, &str)] = &[
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-3-5-sonnet-20241022"),
    ("anthropic", "claude-3-haiku-20240307"),
    ("google", "gemini-1.5-flash"),
];
const TEAMS: &[&str] = &["a", "b", "c", "d", "e"];
const FEATURES: &[&str] = &["chat", "search", "summarize"];

/// One generated call.
#[derive(Debug, Clone)]
pub struct Call {
    pub provider: &'static str,
    pub model: &'static str,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub latency_ms: i64,
    /// `None`: the server stamps it with the time of arrival.
    pub timestamp: Option<DateTime<Utc>>,
    pub tags: Vec<(&'static str, &'static str)>,
}

/// A reproducible stream of calls (seeded, so two runs send the same traffic).
pub struct CallGen {
    rng: SmallRng,
    history: Option<History>,
}

/// Calls spread over a window ending at `end`, each tagged with a team and a feature.
struct History {
    end: DateTime<Utc>,
    span_micros: i64,
    /// Calls this generator is expected to make, and how many it made: the n-th call is
    /// placed in the n-th of `expected` equal steps of the span, so history arrives in
    /// time order, as an export of past traffic does.
    expected: u64,
    made: u64,
}

impl CallGen {
    /// Live traffic: no timestamp, one or two tags.
    pub fn live(seed: u64) -> CallGen {
        CallGen {
            rng: SmallRng::seed_from_u64(seed),
            history: None,
        }
    }

    /// About `expected` calls of past traffic spread evenly over `days` days up to `end`,
    /// oldest first, with both tags.
    pub fn history(seed: u64, end: DateTime<Utc>, days: i64, expected: u64) -> CallGen {
        CallGen {
            rng: SmallRng::seed_from_u64(seed),
            history: Some(History {
                end,
                span_micros: TimeDelta::days(days).num_microseconds().unwrap_or(i64::MAX),
                expected: expected.max(1),
                made: 0,
            }),
        }
    }

    pub fn next_call(&mut self) -> Call {
        let rng = &mut self.rng;
        let &(provider, model) = MODELS.choose(rng).unwrap_or(&MODELS[0]);
        let input_tokens = rng.random_range(50..=8_000);
        // About a quarter of prompts reuse a cached prefix, as chat and RAG apps do.
        let cached_input_tokens = if rng.random_bool(0.25) {
            rng.random_range(0..=input_tokens / 2)
        } else {
            0
        };
        let team = *TEAMS.choose(rng).unwrap_or(&"a");
        let feature = *FEATURES.choose(rng).unwrap_or(&"chat");
        let (timestamp, tags) = match &mut self.history {
            Some(h) => {
                let step = (h.span_micros / i64::try_from(h.expected).unwrap_or(i64::MAX)).max(1);
                let n = i64::try_from(h.made.min(h.expected - 1)).unwrap_or(0);
                h.made += 1;
                let offset = n.saturating_mul(step) + rng.random_range(0..step);
                let at = h.end - TimeDelta::microseconds((h.span_micros - offset).max(0));
                (Some(at), vec![("feature", feature), ("team", team)])
            }
            None if rng.random_bool(0.5) => (None, vec![("team", team)]),
            None => (None, vec![("feature", feature), ("team", team)]),
        };
        Call {
            provider,
            model,
            input_tokens,
            output_tokens: rng.random_range(10..=1_500),
            cached_input_tokens,
            latency_ms: rng.random_range(150..=6_000),
            timestamp,
            tags,
        }
    }

    /// `{"events": [n calls]}`, the body of `POST /api/events/batch`.
    pub fn batch_body(&mut self, n: usize) -> Vec<u8> {
        let mut out = String::with_capacity(n * 320 + 16);
        out.push_str("{\"events\":[");
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            self.next_call().write_json(&mut out);
        }
        out.push_str("]}");
        out.into_bytes()
    }

    /// The body of `POST /api/events/track`.
    pub fn track_body(&mut self) -> Vec<u8> {
        let mut out = String::with_capacity(320);
        self.next_call().write_json(&mut out);
        out.into_bytes()
    }
}

impl Call {
    /// Appends the call as an API event object. Every string is one of this module's
    /// constants, none of which needs JSON escaping.
    pub fn write_json(&self, out: &mut String) {
        // `fmt::Write` for `String` cannot fail.
        let _ = self.write_json_fmt(out);
    }

    fn write_json_fmt(&self, out: &mut String) -> std::fmt::Result {
        write!(
            out,
            "{{\"provider\":\"{}\",\"model\":\"{}\",\"input_tokens\":{},\"output_tokens\":{},\
             \"cached_input_tokens\":{},\"latency_ms\":{},\"tags\":{{",
            self.provider,
            self.model,
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.latency_ms
        )?;
        for (i, (k, v)) in self.tags.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            write!(out, "{sep}\"{k}\":\"{v}\"")?;
        }
        out.push('}');
        if let Some(ts) = self.timestamp {
            let ts = ts.to_rfc3339_opts(SecondsFormat::Micros, true);
            write!(out, ",\"timestamp\":\"{ts}\"")?;
        }
        out.push('}');
        Ok(())
    }

    /// The row the server would store for this call: its JSON body through the server's
    /// own ingestion use case (validation and pricing, no custom prices; `now` stands in
    /// for a missing timestamp).
    pub fn to_new_event(&self, catalog: &Catalog, now: DateTime<Utc>) -> Result<NewEvent> {
        let mut json = String::with_capacity(320);
        self.write_json(&mut json);
        let body: TrackEvent = serde_json::from_str(&json).map_err(|e| format!("{json}: {e}"))?;
        let no_custom_prices = &llmlab_app::ledger::WorkspacePrices::default();
        prepare(
            catalog,
            no_custom_prices,
            UnknownModels::Reject,
            body.into(),
            now,
        )
        .map(|priced| priced.event)
        .map_err(|e| format!("{}/{}: {e}", self.provider, self.model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_valid_json_with_the_expected_shape() -> Result<()> {
        let mut live = CallGen::live(1);
        let one: serde_json::Value =
            serde_json::from_slice(&live.track_body()).map_err(|e| e.to_string())?;
        assert!(one.get("timestamp").is_none());
        assert!(one["tags"]["team"].is_string());

        let end = Utc::now();
        let mut past = CallGen::history(2, end, 90, 100);
        let batch: serde_json::Value =
            serde_json::from_slice(&past.batch_body(50)).map_err(|e| e.to_string())?;
        let events = batch["events"].as_array().ok_or("no events array")?;
        assert_eq!(events.len(), 50);
        for e in events {
            let ts: DateTime<Utc> = e["timestamp"]
                .as_str()
                .ok_or("no timestamp")?
                .parse()
                .map_err(|e: chrono::ParseError| e.to_string())?;
            assert!(ts <= end && ts > end - TimeDelta::days(90));
            assert!(e["tags"]["feature"].is_string());
        }
        Ok(())
    }

    #[test]
    fn every_model_is_priced_by_the_catalog() -> Result<()> {
        let mut g = CallGen::live(3);
        let catalog = Catalog::builtin();
        for _ in 0..200 {
            let e = g.next_call().to_new_event(catalog, Utc::now())?;
            assert!(e.cost_nanos > 0, "{e:?}");
        }
        Ok(())
    }
}
