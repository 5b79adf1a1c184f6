//! The one conversion between the store's token and unit columns ([`TokenCounts`],
//! [`UnitCounts`], the `image` column) and the engine's buckets ([`Tokens`], [`Units`]). The store does not know the engine, so the two
//! meet here, and everything that moves counts between them (ingestion, re-pricing, the
//! events the API shows, reports, recommendations) goes through these two functions.

use llmlab_engine::providers::{ImageQuality, ImageSize};
use llmlab_engine::{Tokens, Units};
use llmlab_store::{TokenCounts, UnitCounts};

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

/// Stored unit counts, or sums of them, as the engine's units.
pub fn units_from_store(c: &UnitCounts) -> Units {
    Units {
        images: c.images,
        audio_input_seconds: c.audio_input_seconds,
        output_characters: c.output_characters,
        web_search_calls: c.web_search_calls,
        code_sessions: c.code_sessions,
    }
}

/// The engine's units as the store writes them.
pub fn units_to_store(u: &Units) -> UnitCounts {
    UnitCounts {
        images: u.images,
        audio_input_seconds: u.audio_input_seconds,
        output_characters: u.output_characters,
        web_search_calls: u.web_search_calls,
        code_sessions: u.code_sessions,
    }
}

/// An image's size and quality as the `image` column keeps them: `1024x1792/hd`.
pub fn image_to_store(image: Option<(ImageSize, ImageQuality)>) -> Option<String> {
    image.map(|(size, quality)| format!("{size}/{quality}"))
}

/// The `image` column read back; `None` for anything the store would not have written.
pub fn image_from_store(stored: Option<&str>) -> Option<(ImageSize, ImageQuality)> {
    let (size, quality) = stored?.split_once('/')?;
    Some((ImageSize::parse(size)?, ImageQuality::parse(quality)?))
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
        let units = Units {
            images: 1,
            audio_input_seconds: 2,
            output_characters: 3,
            web_search_calls: 4,
            code_sessions: 5,
        };
        let stored = UnitCounts {
            images: 1,
            audio_input_seconds: 2,
            output_characters: 3,
            web_search_calls: 4,
            code_sessions: 5,
        };
        assert_eq!(units_to_store(&units), stored);
        assert_eq!(units_from_store(&stored), units);
        for &size in ImageSize::ALL {
            for &quality in ImageQuality::ALL {
                let kept = image_to_store(Some((size, quality)));
                assert_eq!(image_from_store(kept.as_deref()), Some((size, quality)));
            }
        }
        assert_eq!(image_from_store(Some("1024x1024")), None);
    }
}
