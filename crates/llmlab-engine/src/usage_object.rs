//! Provider usage objects, read as the providers return them (their `usage` object, or
//! Gemini's `usageMetadata`) into LLMLab's inclusive token buckets, so a caller need not
//! know each provider's conventions:
//!
//! | format | prompt (all) | cache reads | cache writes (5 min / 1 h) | audio in | output (all) | reasoning | audio out |
//! | --- | --- | --- | --- | --- | --- | --- | --- |
//! | `openai_chat` | `prompt_tokens` | `prompt_tokens_details.cached_tokens` | — | `prompt_tokens_details.audio_tokens` | `completion_tokens` | `completion_tokens_details.reasoning_tokens` | `completion_tokens_details.audio_tokens` |
//! | `openai_responses` | `input_tokens` | `input_tokens_details.cached_tokens` | — | — | `output_tokens` | `output_tokens_details.reasoning_tokens` | — |
//! | `anthropic` | `input_tokens + cache_read_input_tokens + cache_creation_input_tokens` | `cache_read_input_tokens` | `cache_creation.ephemeral_5m_input_tokens` / `cache_creation.ephemeral_1h_input_tokens` (without `cache_creation`: `cache_creation_input_tokens` / 0) | — | `output_tokens` | — | — |
//! | `gemini` | `promptTokenCount` | `cachedContentTokenCount` | — | `promptTokensDetails[modality=AUDIO]` | `candidatesTokenCount + thoughtsTokenCount` | `thoughtsTokenCount` | `candidatesTokensDetails[modality=AUDIO]` |
//! | `openai_transcription` (`type: tokens`) | `input_tokens` | — | — | `input_token_details.audio_tokens` | `output_tokens` | — | — |
//!
//! Beside tokens: Anthropic's `server_tool_use.web_search_requests` are `web_search_calls`,
//! and a transcription's `{"type": "duration", "seconds": n}` (whisper-1) is
//! `audio_input_seconds` (fractions of a second rounded up, as a bill by the second would).
//!
//! Anthropic's `input_tokens` excludes cached tokens and Gemini's `candidatesTokenCount`
//! excludes thinking tokens: the table adds them back into LLMLab's inclusive buckets.
//! Anthropic's `cache_creation_input_tokens` is the sum of its 5-minute and 1-hour writes;
//! an object whose parts do not add up to it is refused.
//! Without `usage_format` the format is told by the object's shape; a shape two formats
//! share (`{input_tokens, output_tokens}` alone is both Anthropic's and the Responses
//! API's) is refused, naming both. Gemini's cached audio tokens
//! (`cacheTokensDetails[modality=AUDIO]`) have their own rate, which LLMLab does not carry:
//! they are refused rather than priced at the wrong rate.

use serde_json::Value;

use crate::error::EngineError;
use crate::{Tokens, Units};

fn invalid(field: &'static str, message: impl Into<String>) -> EngineError {
    EngineError::InvalidUsage {
        field,
        message: message.into(),
    }
}

/// How an object was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Chat Completions' `usage`.
    OpenAiChat,
    /// The Responses API's `usage`.
    OpenAiResponses,
    /// The Messages API's `usage`.
    Anthropic,
    /// `usageMetadata` of generateContent.
    Gemini,
    /// The Audio API's transcription `usage` (`type` `tokens` or `duration`).
    OpenAiTranscription,
}

impl Format {
    const ALL: [Format; 5] = [
        Format::OpenAiChat,
        Format::OpenAiResponses,
        Format::Anthropic,
        Format::Gemini,
        Format::OpenAiTranscription,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::OpenAiChat => "openai_chat",
            Format::OpenAiResponses => "openai_responses",
            Format::Anthropic => "anthropic",
            Format::Gemini => "gemini",
            Format::OpenAiTranscription => "openai_transcription",
        }
    }

    /// Whether `usage` has this format's shape.
    fn fits(self, usage: &Value) -> bool {
        let has = |k: &str| usage.get(k).is_some();
        // Only the transcription object says its `type`.
        if has("type") {
            return self == Format::OpenAiTranscription;
        }
        match self {
            Format::OpenAiChat => has("prompt_tokens") || has("completion_tokens"),
            Format::OpenAiTranscription => false,
            Format::OpenAiResponses => {
                has("input_tokens")
                    && !has("cache_read_input_tokens")
                    && !has("cache_creation_input_tokens")
                    && !has("cache_creation")
                    && !has("server_tool_use")
            }
            Format::Anthropic => {
                has("input_tokens") && !has("input_tokens_details") && !has("output_tokens_details")
            }
            Format::Gemini => has("promptTokenCount") || has("candidatesTokenCount"),
        }
    }
}

/// LLMLab's buckets read from a usage object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Read {
    /// The format used.
    pub format: Format,
    /// The counts, in LLMLab's inclusive buckets.
    pub tokens: Tokens,
    /// What the object reports beside tokens (web searches, seconds of audio).
    pub units: Units,
}

/// A count at `path` (`a.b`), 0 when absent; anything but a non-negative integer is
/// invalid.
fn count(usage: &Value, path: &str) -> Result<i64, EngineError> {
    let mut at = usage;
    for part in path.split('.') {
        match at.get(part) {
            Some(v) => at = v,
            None => return Ok(0),
        }
    }
    match at {
        Value::Null => Ok(0),
        v => v
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or_else(|| invalid("usage", format!("{path} must be a non-negative integer"))),
    }
}

/// Gemini's token count of `modality` in the list at `key` (`promptTokensDetails`).
fn modality(usage: &Value, key: &str, modality: &str) -> i64 {
    usage
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| d.get("modality").and_then(Value::as_str) == Some(modality))
        .filter_map(|d| d.get("tokenCount").and_then(Value::as_i64))
        .sum()
}

fn not_yet(what: &str) -> EngineError {
    invalid(
        "usage",
        format!(
            "{what}: LLMLab does not price them yet, and pricing them at another rate would \
             misstate the cost; send the token fields for the rest, or leave the call out"
        ),
    )
}

/// Reads `usage` as `format` (its wire name, or the format its shape tells when `None`).
///
/// ```
/// use llmlab_engine::usage_object::{Format, read};
///
/// // Anthropic's input_tokens leaves out the cache reads and writes: they are added back.
/// let usage = serde_json::json!({
///     "input_tokens": 100, "cache_read_input_tokens": 1_000,
///     "cache_creation_input_tokens": 500, "output_tokens": 40,
/// });
/// let read = read(&usage, Some("anthropic")).unwrap();
/// assert_eq!(read.format, Format::Anthropic);
/// assert_eq!((read.tokens.input, read.tokens.cached_input, read.tokens.cache_write), (1_600, 1_000, 500));
/// ```
pub fn read(usage: &Value, format: Option<&str>) -> Result<Read, EngineError> {
    if !usage.is_object() {
        return Err(invalid("usage", "must be the provider's usage object"));
    }
    let format = match format {
        Some(name) => Format::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| {
                invalid(
                    "usage_format",
                    "must be openai_chat, openai_responses, anthropic, gemini or openai_transcription",
                )
            })?,
        None => {
            let fits: Vec<Format> = Format::ALL.into_iter().filter(|f| f.fits(usage)).collect();
            match fits.as_slice() {
                [one] => *one,
                [] => {
                    return Err(invalid(
                        "usage",
                        "not a usage object of openai_chat, openai_responses, anthropic, gemini or openai_transcription",
                    ));
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|f| f.as_str()).collect();
                    return Err(invalid(
                        "usage_format",
                        format!("the usage object fits {}: say which", names.join(" and ")),
                    ));
                }
            }
        }
    };
    let c = |path: &str| count(usage, path);
    let mut units = Units::default();
    let tokens = match format {
        Format::OpenAiChat => Tokens {
            input: c("prompt_tokens")?,
            cached_input: c("prompt_tokens_details.cached_tokens")?,
            input_audio: c("prompt_tokens_details.audio_tokens")?,
            output: c("completion_tokens")?,
            reasoning: c("completion_tokens_details.reasoning_tokens")?,
            output_audio: c("completion_tokens_details.audio_tokens")?,
            ..Tokens::default()
        },
        Format::OpenAiResponses => Tokens {
            input: c("input_tokens")?,
            cached_input: c("input_tokens_details.cached_tokens")?,
            output: c("output_tokens")?,
            reasoning: c("output_tokens_details.reasoning_tokens")?,
            ..Tokens::default()
        },
        Format::Anthropic => {
            units.web_search_calls = c("server_tool_use.web_search_requests")?;
            let read = c("cache_read_input_tokens")?;
            let (minutes, hour) = anthropic_writes(usage)?;
            Tokens {
                input: c("input_tokens")?
                    .saturating_add(read)
                    .saturating_add(minutes)
                    .saturating_add(hour),
                cached_input: read,
                cache_write: minutes,
                cache_write_1h: hour,
                output: c("output_tokens")?,
                ..Tokens::default()
            }
        }
        Format::Gemini => {
            if modality(usage, "cacheTokensDetails", "AUDIO") > 0 {
                return Err(not_yet(
                    "cached audio tokens (cacheTokensDetails with modality AUDIO)",
                ));
            }
            let thoughts = c("thoughtsTokenCount")?;
            Tokens {
                input: c("promptTokenCount")?,
                cached_input: c("cachedContentTokenCount")?,
                input_audio: modality(usage, "promptTokensDetails", "AUDIO"),
                output: c("candidatesTokenCount")?.saturating_add(thoughts),
                reasoning: thoughts,
                output_audio: modality(usage, "candidatesTokensDetails", "AUDIO"),
                ..Tokens::default()
            }
        }
        Format::OpenAiTranscription => match usage.get("type").and_then(Value::as_str) {
            Some("tokens") => Tokens {
                input: c("input_tokens")?,
                input_audio: c("input_token_details.audio_tokens")?,
                output: c("output_tokens")?,
                ..Tokens::default()
            },
            Some("duration") => {
                units.audio_input_seconds = seconds(usage)?;
                Tokens::default()
            }
            _ => return Err(invalid("usage", "type must be tokens or duration")),
        },
    };
    Ok(Read {
        format,
        tokens,
        units,
    })
}

/// A transcription's `seconds`, rounded up to a whole second.
fn seconds(usage: &Value) -> Result<i64, EngineError> {
    let s = usage.get("seconds").and_then(Value::as_f64);
    match s {
        // A duration of audio, not money: rounding it up to the billed second is exact.
        Some(s) if s.is_finite() && (0.0..=1e12).contains(&s) => Ok(s.ceil() as i64),
        _ => Err(invalid("usage", "seconds must be a non-negative number")),
    }
}

/// Anthropic's cache writes as (5-minute, 1-hour): from `cache_creation` when the object
/// breaks them down (their sum must then be `cache_creation_input_tokens`), else all of
/// `cache_creation_input_tokens` as 5-minute writes.
fn anthropic_writes(usage: &Value) -> Result<(i64, i64), EngineError> {
    let total = count(usage, "cache_creation_input_tokens")?;
    if usage.get("cache_creation").is_none_or(Value::is_null) {
        return Ok((total, 0));
    }
    let minutes = count(usage, "cache_creation.ephemeral_5m_input_tokens")?;
    let hour = count(usage, "cache_creation.ephemeral_1h_input_tokens")?;
    let parts = minutes.saturating_add(hour);
    if usage.get("cache_creation_input_tokens").is_some() && parts != total {
        return Err(invalid(
            "usage",
            format!(
                "cache_creation.ephemeral_5m_input_tokens + ephemeral_1h_input_tokens ({parts}) \
                 differ from cache_creation_input_tokens ({total})"
            ),
        ));
    }
    Ok((minutes, hour))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `[input, cached, write 5m, write 1h, audio in, output, reasoning, audio out]`.
    fn tokens(r: Read) -> [i64; 8] {
        let t = r.tokens;
        [
            t.input,
            t.cached_input,
            t.cache_write,
            t.cache_write_1h,
            t.input_audio,
            t.output,
            t.reasoning,
            t.output_audio,
        ]
    }

    #[test]
    fn each_format_lands_in_inclusive_buckets() {
        let cases = [
            (
                json!({"prompt_tokens": 1200, "completion_tokens": 350,
                       "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
                       "completion_tokens_details": {"reasoning_tokens": 200}}),
                Format::OpenAiChat,
                [1200, 1000, 0, 0, 0, 350, 200, 0],
            ),
            (
                json!({"prompt_tokens": 900, "completion_tokens": 400,
                       "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 600},
                       "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 250}}),
                Format::OpenAiChat,
                [900, 0, 0, 0, 600, 400, 0, 250],
            ),
            (
                json!({"input_tokens": 900, "output_tokens": 120,
                       "input_tokens_details": {"cached_tokens": 300},
                       "output_tokens_details": {"reasoning_tokens": 64}, "total_tokens": 1020}),
                Format::OpenAiResponses,
                [900, 300, 0, 0, 0, 120, 64, 0],
            ),
            // Anthropic's input_tokens excludes the cache reads and writes.
            (
                json!({"input_tokens": 50, "cache_read_input_tokens": 2000,
                       "cache_creation_input_tokens": 500, "output_tokens": 80,
                       "cache_creation": {"ephemeral_5m_input_tokens": 500,
                                          "ephemeral_1h_input_tokens": 0}}),
                Format::Anthropic,
                [2550, 2000, 500, 0, 0, 80, 0, 0],
            ),
            (
                json!({"input_tokens": 50, "cache_read_input_tokens": 2000,
                       "cache_creation_input_tokens": 900, "output_tokens": 80,
                       "cache_creation": {"ephemeral_5m_input_tokens": 300,
                                          "ephemeral_1h_input_tokens": 600}}),
                Format::Anthropic,
                [2950, 2000, 300, 600, 0, 80, 0, 0],
            ),
            // Gemini's candidates exclude the thoughts.
            (
                json!({"promptTokenCount": 4000, "cachedContentTokenCount": 1000,
                       "candidatesTokenCount": 300, "thoughtsTokenCount": 700,
                       "totalTokenCount": 5000,
                       "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2500},
                                               {"modality": "AUDIO", "tokenCount": 1500}]}),
                Format::Gemini,
                [4000, 1000, 0, 0, 1500, 1000, 700, 0],
            ),
        ];
        for (usage, format, expected) in cases {
            let r = read(&usage, None).unwrap();
            assert_eq!(r.format, format, "{usage}");
            assert_eq!(tokens(r), expected, "{usage}");
            assert_eq!(read(&usage, Some(format.as_str())).unwrap(), r);
        }
    }

    #[test]
    fn ambiguous_unknown_and_unpriceable_objects_are_refused() {
        let both = json!({"input_tokens": 10, "output_tokens": 5});
        let e = read(&both, None).unwrap_err().to_string();
        assert!(e.contains("openai_responses and anthropic"), "{e}");
        assert_eq!(
            tokens(read(&both, Some("anthropic")).unwrap()),
            [10, 0, 0, 0, 0, 5, 0, 0]
        );
        assert!(read(&json!({"tokens": 3}), None).is_err());
        assert!(read(&json!([1, 2]), None).is_err());
        assert!(read(&both, Some("bedrock")).is_err());
        assert!(read(&json!({"prompt_tokens": -1}), None).is_err());
        assert!(read(&json!({"prompt_tokens": "12"}), None).is_err());
        // The 5-minute and 1-hour writes must add up to the total Anthropic reports.
        let split = json!({"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 9,
                          "cache_creation": {"ephemeral_5m_input_tokens": 2,
                                             "ephemeral_1h_input_tokens": 9}});
        let e = read(&split, None).unwrap_err().to_string();
        assert!(e.contains("differ from cache_creation_input_tokens"), "{e}");
        let cached_audio = json!({"promptTokenCount": 10, "candidatesTokenCount": 1,
                                  "cachedContentTokenCount": 4,
                                  "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 3}]});
        let e = read(&cached_audio, None).unwrap_err().to_string();
        assert!(e.contains("cached audio"), "{e}");
        let odd = json!({"type": "minutes", "seconds": 3});
        assert!(read(&odd, None).is_err());
        assert!(read(&json!({"type": "duration", "seconds": -1}), None).is_err());
    }

    #[test]
    fn web_searches_and_audio_seconds_are_read_beside_the_tokens() {
        // A Messages API answer that searched twice.
        let searched = json!({"input_tokens": 2100, "output_tokens": 300,
                              "server_tool_use": {"web_search_requests": 2}});
        let r = read(&searched, Some("anthropic")).unwrap();
        assert_eq!(r.units.web_search_calls, 2);
        assert_eq!(tokens(r), [2100, 0, 0, 0, 0, 300, 0, 0]);
        // whisper-1: a duration, rounded up to the second.
        let whisper = read(&json!({"type": "duration", "seconds": 9.2}), None).unwrap();
        assert_eq!(whisper.format, Format::OpenAiTranscription);
        assert_eq!(
            (whisper.units.audio_input_seconds, whisper.tokens),
            (10, Tokens::default())
        );
        // gpt-4o-transcribe: tokens, the audio ones a part of the input.
        let tokens_used = json!({"type": "tokens", "input_tokens": 14, "output_tokens": 45,
                                 "input_token_details": {"text_tokens": 0, "audio_tokens": 14},
                                 "total_tokens": 59});
        let r = read(&tokens_used, None).unwrap();
        assert_eq!(r.format, Format::OpenAiTranscription);
        assert_eq!(tokens(r), [14, 0, 0, 0, 14, 45, 0, 0]);
        assert!(r.units.is_zero());
    }
}
