//! Token usage of one call, validated into disjoint buckets.

use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// Upper bound for any token count of one call. Far above any context window, and low
/// enough that pricing arithmetic can never overflow.
pub const MAX_TOKENS: u64 = 1_000_000_000_000;

/// Token counts as a client reports them, before validation.
///
/// Convention (OpenAI's): `input_tokens` counts **every** prompt token, cache reads and
/// cache writes included; `output_tokens` counts every generated token, reasoning included.
/// Anthropic reports `input_tokens` without the cached parts: add `cache_read_input_tokens`
/// and `cache_creation_input_tokens` to it before sending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageFields {
    /// All prompt tokens, cached included.
    pub input_tokens: i64,
    /// All output tokens, reasoning included.
    pub output_tokens: i64,
    /// Prompt tokens read from the cache (part of `input_tokens`).
    pub cached_input_tokens: i64,
    /// Prompt tokens written to the cache (part of `input_tokens`).
    pub cache_write_tokens: i64,
    /// Reasoning tokens (part of `output_tokens`).
    pub reasoning_tokens: i64,
    /// Sent through the provider's batch API.
    pub batch: bool,
}

/// Validated usage: the buckets are disjoint and every count is in range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    input: u64,
    output: u64,
    cached_input: u64,
    cache_write: u64,
    reasoning: u64,
    batch: bool,
}

impl Usage {
    /// Validates client-reported counts. Errors name the field:
    /// negative or absurd counts, `cached_input_tokens + cache_write_tokens > input_tokens`,
    /// `reasoning_tokens > output_tokens`.
    pub fn parse(f: UsageFields) -> Result<Usage, EngineError> {
        let count = |field: &'static str, v: i64| -> Result<u64, EngineError> {
            let v = u64::try_from(v).map_err(|_| EngineError::InvalidUsage {
                field,
                message: "must be >= 0".into(),
            })?;
            if v > MAX_TOKENS {
                return Err(EngineError::InvalidUsage {
                    field,
                    message: format!("must be <= {MAX_TOKENS}"),
                });
            }
            Ok(v)
        };
        let input = count("input_tokens", f.input_tokens)?;
        let output = count("output_tokens", f.output_tokens)?;
        let cached_input = count("cached_input_tokens", f.cached_input_tokens)?;
        let cache_write = count("cache_write_tokens", f.cache_write_tokens)?;
        let reasoning = count("reasoning_tokens", f.reasoning_tokens)?;
        if cached_input > input {
            return Err(EngineError::InvalidUsage {
                field: "cached_input_tokens",
                message: format!(
                    "{cached_input} cached input tokens exceed input_tokens ({input}); input_tokens counts every prompt token, cached ones included"
                ),
            });
        }
        if cached_input + cache_write > input {
            return Err(EngineError::InvalidUsage {
                field: "cache_write_tokens",
                message: format!(
                    "cached_input_tokens + cache_write_tokens ({}) exceed input_tokens ({input}); input_tokens counts every prompt token, cache reads and writes included",
                    cached_input + cache_write
                ),
            });
        }
        if reasoning > output {
            return Err(EngineError::InvalidUsage {
                field: "reasoning_tokens",
                message: format!(
                    "{reasoning} reasoning tokens exceed output_tokens ({output}); output_tokens counts reasoning tokens too"
                ),
            });
        }
        Ok(Usage {
            input,
            output,
            cached_input,
            cache_write,
            reasoning,
            batch: f.batch,
        })
    }

    /// Plain input/output usage with no caching (always valid below [`MAX_TOKENS`]).
    pub fn simple(input_tokens: u64, output_tokens: u64) -> Result<Usage, EngineError> {
        Usage::parse(UsageFields {
            input_tokens: i64::try_from(input_tokens).unwrap_or(i64::MAX),
            output_tokens: i64::try_from(output_tokens).unwrap_or(i64::MAX),
            ..UsageFields::default()
        })
    }

    /// Every prompt token (the long-context threshold is measured on this).
    pub fn input_tokens(&self) -> u64 {
        self.input
    }
    /// Prompt tokens billed at the plain input rate.
    pub fn uncached_input_tokens(&self) -> u64 {
        self.input - self.cached_input - self.cache_write
    }
    /// Cache-read tokens.
    pub fn cached_input_tokens(&self) -> u64 {
        self.cached_input
    }
    /// Cache-write tokens.
    pub fn cache_write_tokens(&self) -> u64 {
        self.cache_write
    }
    /// Output tokens, reasoning included.
    pub fn output_tokens(&self) -> u64 {
        self.output
    }
    /// Reasoning tokens (inside output).
    pub fn reasoning_tokens(&self) -> u64 {
        self.reasoning
    }
    /// Sent through a batch API.
    pub fn batch(&self) -> bool {
        self.batch
    }
}
