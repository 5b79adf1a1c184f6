//! Token usage of one call, validated into disjoint buckets.

use llmlab_providers::{ImageQuality, ImageSize, ServiceTier};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;
use crate::tokens::Tokens;
use crate::units::Units;

/// Upper bound for any token count of one call. Far above any context window, and low
/// enough that pricing arithmetic can never overflow.
pub const MAX_TOKENS: u64 = 1_000_000_000_000;

/// One call's usage as a client reports it, before validation: its [`Tokens`] and how it
/// was sent.
///
/// Convention (OpenAI's): `input_tokens` counts **every** prompt token, cache reads and
/// cache writes included; `output_tokens` counts every generated token, reasoning included.
/// Anthropic reports `input_tokens` without the cached parts: add `cache_read_input_tokens`
/// and `cache_creation_input_tokens` to it before sending. Serialized with the token
/// fields inline (`{"input_tokens": …, "batch": false, …}`).
///
/// Built with [`UsageFields::new`] (or `default()`) and the `with_` methods; a later
/// release may add a field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UsageFields {
    /// The token counts (see [`Tokens`] for which bucket is part of which).
    #[serde(flatten)]
    pub tokens: Tokens,
    /// Sent through the provider's batch API.
    pub batch: bool,
    /// The service tier (`batch` here is the same as `batch: true`).
    #[serde(default)]
    pub service_tier: ServiceTier,
    /// What the call is billed for beside tokens (each 0 when absent).
    #[serde(flatten)]
    pub units: Units,
    /// The size of the generated images (required with `images` unless the model bills
    /// every size alike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<ImageSize>,
    /// Their quality (`standard` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_quality: Option<ImageQuality>,
}

impl UsageFields {
    /// A standard-tier call's counts.
    pub fn new(tokens: Tokens) -> UsageFields {
        UsageFields {
            tokens,
            ..UsageFields::default()
        }
    }

    /// These counts, sent through the provider's batch API or not.
    pub fn with_batch(self, batch: bool) -> UsageFields {
        UsageFields { batch, ..self }
    }

    /// These counts, sent on `tier`.
    pub fn with_service_tier(self, service_tier: ServiceTier) -> UsageFields {
        UsageFields {
            service_tier,
            ..self
        }
    }

    /// These counts with `units` billed beside the tokens.
    pub fn with_units(self, units: Units) -> UsageFields {
        UsageFields { units, ..self }
    }

    /// These counts with images of `size` at `quality` (`standard` when `None`).
    pub fn with_image(self, size: ImageSize, quality: Option<ImageQuality>) -> UsageFields {
        UsageFields {
            image_size: Some(size),
            image_quality: quality,
            ..self
        }
    }
}

/// Validated usage: the buckets are disjoint and every count is in range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    /// Within `0..=MAX_TOKENS` each, the parts within their wholes ([`Usage::parse`]).
    tokens: Tokens,
    tier: ServiceTier,
    /// Within `0..=MAX_TOKENS` each.
    units: Units,
    /// With `units.images > 0` and a size only; images without one are priced at the
    /// model's price for any size.
    image: Option<(ImageSize, ImageQuality)>,
}

impl Usage {
    /// Validates client-reported counts. Errors name the field: negative or absurd
    /// counts, a part above its whole, the disjoint parts of `input_tokens` (cache reads,
    /// 5-minute and 1-hour cache writes, audio) summing above it, the parts of
    /// `output_tokens` (reasoning, audio) summing above it, and `batch: true` with a
    /// service tier other than standard or batch.
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
        let t = f.tokens;
        let input = count("input_tokens", t.input)?;
        let output = count("output_tokens", t.output)?;
        let cached_input = count("cached_input_tokens", t.cached_input)?;
        let cache_write = count("cache_write_tokens", t.cache_write)?;
        let reasoning = count("reasoning_tokens", t.reasoning)?;
        let cache_write_1h = count("cache_write_1h_tokens", t.cache_write_1h)?;
        let input_audio = count("input_audio_tokens", t.input_audio)?;
        let output_audio = count("output_audio_tokens", t.output_audio)?;
        let within = |field: &'static str, part: u64, whole: u64, parent: &str| {
            if part > whole {
                return Err(EngineError::InvalidUsage {
                    field,
                    message: format!(
                        "{part} tokens exceed {parent} ({whole}); {parent} counts every one of them"
                    ),
                });
            }
            Ok(())
        };
        within(
            "cache_write_1h_tokens",
            cache_write_1h,
            input,
            "input_tokens",
        )?;
        within("input_audio_tokens", input_audio, input, "input_tokens")?;
        within("output_audio_tokens", output_audio, output, "output_tokens")?;
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
        let parts = cached_input + cache_write + cache_write_1h + input_audio;
        if parts > input {
            let field = if input_audio > 0 {
                "input_audio_tokens"
            } else {
                "cache_write_1h_tokens"
            };
            return Err(EngineError::InvalidUsage {
                field,
                message: format!(
                    "cached_input_tokens + cache_write_tokens + cache_write_1h_tokens + input_audio_tokens ({parts}) exceed input_tokens ({input}); they are disjoint parts of input_tokens"
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
        if reasoning + output_audio > output {
            return Err(EngineError::InvalidUsage {
                field: "output_audio_tokens",
                message: format!(
                    "reasoning_tokens + output_audio_tokens ({}) exceed output_tokens ({output}); they are disjoint parts of output_tokens",
                    reasoning + output_audio
                ),
            });
        }
        let tier = match (f.batch, f.service_tier) {
            (false, tier) => tier,
            (true, ServiceTier::Standard | ServiceTier::Batch) => ServiceTier::Batch,
            (true, tier) => {
                return Err(EngineError::InvalidUsage {
                    field: "service_tier",
                    message: format!("{tier} contradicts batch: true (send one of them)"),
                });
            }
        };
        for (field, n) in f.units.named() {
            count(field, n)?;
        }
        // A size and quality mean nothing without images: not kept.
        let image = f
            .image_size
            .filter(|_| f.units.images > 0)
            .map(|size| (size, f.image_quality.unwrap_or(ImageQuality::Standard)));
        Ok(Usage {
            tokens: t,
            tier,
            units: f.units,
            image,
        })
    }

    /// Plain input/output usage with no caching (always valid below [`MAX_TOKENS`]).
    pub fn simple(input_tokens: u64, output_tokens: u64) -> Result<Usage, EngineError> {
        Usage::parse(UsageFields {
            tokens: Tokens {
                input: i64::try_from(input_tokens).unwrap_or(i64::MAX),
                output: i64::try_from(output_tokens).unwrap_or(i64::MAX),
                ..Tokens::default()
            },
            ..UsageFields::default()
        })
    }

    /// The validated counts, to store or to add up (every one within `0..=MAX_TOKENS`).
    pub fn tokens(&self) -> Tokens {
        self.tokens
    }

    /// The non-token units, to store or to add up (every one within `0..=MAX_TOKENS`).
    pub fn units(&self) -> Units {
        self.units
    }

    /// The size and quality of the call's images (quality `standard` unless given).
    pub fn image(&self) -> Option<(ImageSize, ImageQuality)> {
        self.image
    }

    /// Every prompt token (the long-context threshold is measured on this).
    pub fn input_tokens(&self) -> u64 {
        unsigned(self.tokens.input)
    }
    /// Prompt tokens billed at the plain (text) input rate: every prompt token outside
    /// the cache and audio buckets.
    pub fn uncached_input_tokens(&self) -> u64 {
        self.input_tokens()
            - self.cached_input_tokens()
            - self.cache_write_tokens()
            - self.cache_write_1h_tokens()
            - self.input_audio_tokens()
    }
    /// Cache-read tokens.
    pub fn cached_input_tokens(&self) -> u64 {
        unsigned(self.tokens.cached_input)
    }
    /// Cache-write tokens (5-minute).
    pub fn cache_write_tokens(&self) -> u64 {
        unsigned(self.tokens.cache_write)
    }
    /// 1-hour cache-write tokens.
    pub fn cache_write_1h_tokens(&self) -> u64 {
        unsigned(self.tokens.cache_write_1h)
    }
    /// Uncached audio prompt tokens.
    pub fn input_audio_tokens(&self) -> u64 {
        unsigned(self.tokens.input_audio)
    }
    /// Output tokens, reasoning and audio included.
    pub fn output_tokens(&self) -> u64 {
        unsigned(self.tokens.output)
    }
    /// Output tokens billed at the text output rate (reasoning included).
    pub fn text_output_tokens(&self) -> u64 {
        self.output_tokens() - self.output_audio_tokens()
    }
    /// Audio output tokens.
    pub fn output_audio_tokens(&self) -> u64 {
        unsigned(self.tokens.output_audio)
    }
    /// The service tier (`Batch` for a batch call).
    pub fn service_tier(&self) -> ServiceTier {
        self.tier
    }
    /// Reasoning tokens (inside output).
    pub fn reasoning_tokens(&self) -> u64 {
        unsigned(self.tokens.reasoning)
    }
    /// Sent through a batch API.
    pub fn batch(&self) -> bool {
        self.tier == ServiceTier::Batch
    }
}

/// A validated count as the unsigned number pricing multiplies. [`Usage::parse`] has
/// checked it is within `0..=MAX_TOKENS`, so the cast is exact, and free on the pricing
/// path.
fn unsigned(n: i64) -> u64 {
    n as u64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn fields_keep_their_flat_json_and_usage_gives_the_tokens_back() {
        // The shape written before the 1-hour and audio buckets existed.
        let old = json!({"input_tokens": 10, "output_tokens": 5, "cached_input_tokens": 4,
                         "cache_write_tokens": 2, "reasoning_tokens": 1, "batch": true});
        let f: UsageFields = serde_json::from_value(old).unwrap();
        let tokens = Tokens {
            input: 10,
            output: 5,
            cached_input: 4,
            cache_write: 2,
            reasoning: 1,
            ..Tokens::default()
        };
        assert_eq!(f.tokens, tokens);
        assert!(f.batch);
        let written = serde_json::to_value(f).unwrap();
        assert_eq!(written["cached_input_tokens"], 4);
        assert_eq!(written["output_audio_tokens"], 0);
        assert_eq!(written["batch"], true);
        assert!(written.get("tokens").is_none(), "{written}");
        // A count the format requires is still required.
        let no_input = json!({"output_tokens": 5, "cached_input_tokens": 0,
                              "cache_write_tokens": 0, "reasoning_tokens": 0, "batch": false});
        assert!(serde_json::from_value::<UsageFields>(no_input).is_err());

        let usage = Usage::parse(f).unwrap();
        assert_eq!(usage.tokens(), tokens);
        assert_eq!(usage.uncached_input_tokens(), 4);
        assert_eq!(usage.text_output_tokens(), 5);
    }
}
