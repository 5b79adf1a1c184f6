//! The one conversion between the store's token columns ([`TokenCounts`]) and the
//! engine's token buckets ([`Tokens`]). The store does not know the engine, so the two
//! meet here, and everything that moves counts between them (ingestion, re-pricing, the
//! events the API shows, reports, recommendations) goes through these two functions.

use llmlab_engine::Tokens;
use llmlab_store::TokenCounts;

/// Stored counts, or sums of them, as the engine's buckets.
pub fn from_store(c: &TokenCounts) -> Tokens {
    Tokens {
        input: c.input_tokens,
        output: c.output_tokens,
        cached_input: c.cached_input_tokens,
        cache_write: c.cache_write_tokens,
        reasoning: c.reasoning_tokens,
        cache_write_1h: c.cache_write_1h_tokens,
        input_audio: c.input_audio_tokens,
        output_audio: c.output_audio_tokens,
    }
}

/// The engine's buckets as the store writes them.
pub fn to_store(t: &Tokens) -> TokenCounts {
    TokenCounts {
        input_tokens: t.input,
        output_tokens: t.output,
        cached_input_tokens: t.cached_input,
        cache_write_tokens: t.cache_write,
        reasoning_tokens: t.reasoning,
        cache_write_1h_tokens: t.cache_write_1h,
        input_audio_tokens: t.input_audio,
        output_audio_tokens: t.output_audio,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_survives_the_round_trip() {
        // Eight distinct values: a bucket written to another's column would show.
        let t = Tokens {
            input: 1,
            output: 2,
            cached_input: 3,
            cache_write: 4,
            reasoning: 5,
            cache_write_1h: 6,
            input_audio: 7,
            output_audio: 8,
        };
        let stored = TokenCounts {
            input_tokens: 1,
            output_tokens: 2,
            cached_input_tokens: 3,
            cache_write_tokens: 4,
            reasoning_tokens: 5,
            cache_write_1h_tokens: 6,
            input_audio_tokens: 7,
            output_audio_tokens: 8,
        };
        assert_eq!(to_store(&t), stored);
        assert_eq!(from_store(&stored), t);
    }
}
