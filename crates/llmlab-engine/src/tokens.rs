//! Token counts in LLMLab's eight buckets: the one shape every crate carries them in, for
//! one call and for sums over many.

use serde::{Deserialize, Serialize};

/// Token counts in LLMLab's eight buckets: one call's as a client reports them, or sums
/// over many calls.
///
/// `input` counts **every** prompt token; `cached_input` (cache reads), `cache_write`
/// (5-minute cache writes), `cache_write_1h` and `input_audio` are disjoint parts of it,
/// and what they leave is uncached text ([`Tokens::uncached_input`]). `output` counts every
/// generated token; `reasoning` and `output_audio` are disjoint parts of it.
///
/// A `Tokens` is plain numbers and enforces none of that: a client's counts before
/// validation are one too. [`Usage::parse`](crate::Usage::parse) checks one call's counts
/// (with the field named), [`Tokens::is_consistent`] a sum's.
///
/// It serializes under the names providers and LLMLab's event format use (`input_tokens`,
/// `cached_input_tokens`, …), so a struct that flattens it reads like an event.
///
/// ```
/// use llmlab_engine::Tokens;
///
/// let call = Tokens { input: 1_200, cached_input: 1_000, output: 350, ..Tokens::default() };
/// let mut sum = Tokens::default();
/// sum.add(&call);
/// sum.add(&call);
/// assert_eq!(sum.input, 2_400);
/// assert_eq!(sum.uncached_input(), 400);
/// assert!(sum.is_consistent());
/// assert_eq!(serde_json::to_value(call).unwrap()["cached_input_tokens"], 1_000);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tokens {
    /// Every prompt token: cache reads and writes and audio included.
    #[serde(rename = "input_tokens")]
    pub input: i64,
    /// Every output token: reasoning and audio included.
    #[serde(rename = "output_tokens")]
    pub output: i64,
    /// Prompt tokens read from the cache (part of `input`).
    #[serde(rename = "cached_input_tokens")]
    pub cached_input: i64,
    /// Prompt tokens written to the cache with a 5-minute lifetime (part of `input`).
    #[serde(rename = "cache_write_tokens")]
    pub cache_write: i64,
    /// Reasoning tokens (part of `output`, billed at the text output rate).
    #[serde(rename = "reasoning_tokens")]
    pub reasoning: i64,
    /// Prompt tokens written to the 1-hour cache (part of `input`, disjoint from
    /// `cache_write`).
    // JSON written before the 1-hour and audio buckets existed lacks them: they are 0 there.
    #[serde(rename = "cache_write_1h_tokens", default)]
    pub cache_write_1h: i64,
    /// Uncached audio prompt tokens (part of `input`, disjoint from the cache buckets).
    #[serde(rename = "input_audio_tokens", default)]
    pub input_audio: i64,
    /// Audio output tokens (part of `output`, disjoint from `reasoning`).
    #[serde(rename = "output_audio_tokens", default)]
    pub output_audio: i64,
}

impl Tokens {
    /// Adds `other` bucket by bucket. Saturates instead of overflowing: one call holds at
    /// most [`MAX_TOKENS`](crate::MAX_TOKENS) a bucket, so a sum reaches `i64::MAX` only
    /// after millions of maximal calls, and then stays there rather than wrapping.
    pub fn add(&mut self, other: &Tokens) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cached_input = self.cached_input.saturating_add(other.cached_input);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
        self.reasoning = self.reasoning.saturating_add(other.reasoning);
        self.cache_write_1h = self.cache_write_1h.saturating_add(other.cache_write_1h);
        self.input_audio = self.input_audio.saturating_add(other.input_audio);
        self.output_audio = self.output_audio.saturating_add(other.output_audio);
    }

    /// Prompt tokens outside the cache and audio buckets (billed at the plain input rate);
    /// 0 rather than negative for counts that are not [consistent](Tokens::is_consistent).
    pub fn uncached_input(&self) -> i64 {
        self.input
            .saturating_sub(self.cached_input)
            .saturating_sub(self.cache_write)
            .saturating_sub(self.cache_write_1h)
            .saturating_sub(self.input_audio)
            .max(0)
    }

    /// Whether the counts obey the buckets' rules: none negative, the parts of `input`
    /// together within it, the parts of `output` together within it. Sums of calls that
    /// [`Usage::parse`](crate::Usage::parse) accepts always are.
    pub fn is_consistent(&self) -> bool {
        let within = |whole: i64, parts: &[i64]| {
            parts
                .iter()
                .try_fold(0_i64, |sum, &p| sum.checked_add(p))
                .is_some_and(|sum| sum <= whole)
        };
        self.buckets().iter().all(|&n| n >= 0)
            && within(
                self.input,
                &[
                    self.cached_input,
                    self.cache_write,
                    self.cache_write_1h,
                    self.input_audio,
                ],
            )
            && within(self.output, &[self.reasoning, self.output_audio])
    }

    /// Whether every bucket of `self` is at most the same bucket of `whole`: what holds
    /// for the sums of some of the calls a sum covers.
    pub fn fits_in(&self, whole: &Tokens) -> bool {
        self.buckets()
            .iter()
            .zip(whole.buckets())
            .all(|(&part, whole)| part <= whole)
    }

    /// The eight counts, in field order.
    fn buckets(&self) -> [i64; 8] {
        [
            self.input,
            self.output,
            self.cached_input,
            self.cache_write,
            self.reasoning,
            self.cache_write_1h,
            self.input_audio,
            self.output_audio,
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn every_bucket() -> Tokens {
        Tokens {
            input: 100,
            output: 50,
            cached_input: 10,
            cache_write: 20,
            reasoning: 5,
            cache_write_1h: 30,
            input_audio: 40,
            output_audio: 45,
        }
    }

    #[test]
    fn sums_add_every_bucket_and_saturate() {
        let mut sum = every_bucket();
        sum.add(&every_bucket());
        assert_eq!(
            sum.buckets(),
            every_bucket().buckets().map(|n| 2 * n),
            "each of the eight buckets doubles"
        );
        let mut full = Tokens {
            output_audio: i64::MAX,
            ..Tokens::default()
        };
        full.add(&every_bucket());
        assert_eq!(full.output_audio, i64::MAX);
        assert_eq!(full.input, 100);
    }

    #[test]
    fn parts_stay_within_their_wholes() {
        let t = every_bucket();
        assert!(t.is_consistent());
        assert_eq!(t.uncached_input(), 0);
        assert!(!Tokens { input: 99, ..t }.is_consistent());
        assert_eq!(Tokens { input: 99, ..t }.uncached_input(), 0);
        assert!(!Tokens { output: 49, ..t }.is_consistent());
        assert!(!Tokens { reasoning: -1, ..t }.is_consistent());
        assert!(
            !Tokens {
                input: i64::MAX,
                cached_input: i64::MAX,
                cache_write: 1,
                ..Tokens::default()
            }
            .is_consistent()
        );
        assert!(Tokens::default().fits_in(&t));
        assert!(t.fits_in(&t));
        assert!(
            !Tokens {
                cache_write_1h: 31,
                ..t
            }
            .fits_in(&t)
        );
    }

    #[test]
    fn json_uses_the_api_names() {
        let json = serde_json::to_value(every_bucket()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "input_tokens": 100, "output_tokens": 50, "cached_input_tokens": 10,
                "cache_write_tokens": 20, "reasoning_tokens": 5, "cache_write_1h_tokens": 30,
                "input_audio_tokens": 40, "output_audio_tokens": 45
            })
        );
        assert_eq!(
            serde_json::from_value::<Tokens>(json).unwrap(),
            every_bucket()
        );
    }
}
