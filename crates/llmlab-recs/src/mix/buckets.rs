//! Disjoint token buckets of a set of calls, as a mix is priced.

use llmlab_engine::aggregate::Totals;

/// Disjoint token buckets of a set of calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Buckets {
    pub calls: u64,
    /// Uncached text prompt tokens.
    pub uncached: u64,
    pub cached: u64,
    /// 5-minute cache writes.
    pub write: u64,
    /// 1-hour cache writes.
    pub write_1h: u64,
    /// Uncached audio prompt tokens.
    pub audio_in: u64,
    /// Every output token (audio included).
    pub output: u64,
    /// Audio output tokens (part of `output`).
    pub audio_out: u64,
}

impl Buckets {
    /// The buckets of `t`; `None` when its tokens are not consistent (so none is
    /// negative here).
    pub(crate) fn of(t: &Totals) -> Option<Buckets> {
        let k = &t.tokens;
        k.is_consistent().then(|| Buckets {
            calls: t.calls,
            uncached: k.uncached_input().unsigned_abs(),
            cached: k.cached_input.unsigned_abs(),
            write: k.cache_write.unsigned_abs(),
            write_1h: k.cache_write_1h.unsigned_abs(),
            audio_in: k.input_audio.unsigned_abs(),
            output: k.output.unsigned_abs(),
            audio_out: k.output_audio.unsigned_abs(),
        })
    }

    pub(crate) fn checked_sub(self, o: Buckets) -> Option<Buckets> {
        Some(Buckets {
            calls: self.calls.checked_sub(o.calls)?,
            uncached: self.uncached.checked_sub(o.uncached)?,
            cached: self.cached.checked_sub(o.cached)?,
            write: self.write.checked_sub(o.write)?,
            write_1h: self.write_1h.checked_sub(o.write_1h)?,
            audio_in: self.audio_in.checked_sub(o.audio_in)?,
            output: self.output.checked_sub(o.output)?,
            audio_out: self.audio_out.checked_sub(o.audio_out)?,
        })
    }

    pub(crate) fn input(&self) -> u64 {
        self.uncached
            .saturating_add(self.cached)
            .saturating_add(self.write)
            .saturating_add(self.write_1h)
            .saturating_add(self.audio_in)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.input() == 0 && self.output == 0
    }

    /// `round(x × share)` of every bucket (half away from zero), so the part plus the rest
    /// is exactly the whole.
    pub(crate) fn share(&self, share: f64) -> Buckets {
        Buckets {
            calls: share_of(self.calls, share),
            uncached: share_of(self.uncached, share),
            cached: share_of(self.cached, share),
            write: share_of(self.write, share),
            write_1h: share_of(self.write_1h, share),
            audio_in: share_of(self.audio_in, share),
            output: share_of(self.output, share),
            audio_out: share_of(self.audio_out, share).min(share_of(self.output, share)),
        }
    }
}

/// `round(x × share)`, clamped to `0..=x`.
pub(crate) fn share_of(x: u64, share: f64) -> u64 {
    let v = (x as f64 * share).round();
    if v.is_finite() && v > 0.0 {
        (v as u64).min(x)
    } else {
        0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use llmlab_engine::{Tokens, Usage, UsageFields, price};
    use llmlab_providers::Catalog;

    use crate::mix::{Bound, ModelMix, cells, price_cells};

    /// A call with every bucket.
    fn call(batch: bool) -> Usage {
        Usage::parse(
            UsageFields::new(Tokens {
                input: 10_000,
                cached_input: 1_000,
                input_audio: 4_000,
                output: 3_000,
                output_audio: 2_000,
                ..Tokens::default()
            })
            .with_batch(batch),
        )
        .unwrap()
    }

    #[test]
    fn a_mix_with_audio_prices_like_its_calls() {
        let catalog = Catalog::builtin();
        let at = "2025-12-01T00:00:00Z".parse().unwrap();
        let mut mix = ModelMix::new("openai", "gpt-realtime");
        let mut expected = 0;
        for batch in [false, false, true] {
            let usage = call(batch);
            let priced = price(catalog, "openai", "gpt-realtime", &usage, at).unwrap();
            expected += priced.cost.total.nanos();
            mix.record(&usage, priced.cost.total);
        }
        assert_eq!(mix.standard.tokens.input_audio, 8_000);
        assert_eq!(mix.standard.tokens.output_audio, 4_000);
        assert_eq!(mix.validate(), Ok(()));
        let version = catalog
            .model("openai", "gpt-realtime")
            .unwrap()
            .current_price();
        let (parts, _) = cells(&mix, version, Bound::Lower).unwrap();
        // 5000×4000 + 1000×400 + 4000×32000 + 1000×16000 + 2000×64000 nano-dollars a call.
        assert_eq!(expected, 3 * 292_400_000);
        assert_eq!(
            price_cells(version, &parts).map(|u| u.nanos()),
            Some(expected)
        );
        // A model without audio rates cannot price the mix: no like-for-like estimate.
        let text_only = catalog.model("openai", "gpt-4o").unwrap().current_price();
        let (parts, _) = cells(&mix, text_only, Bound::Upper).unwrap();
        assert_eq!(price_cells(text_only, &parts), None);
        // A share keeps every bucket inside its whole.
        let b = super::Buckets::of(&mix.standard).unwrap();
        let part = b.share(0.3);
        let rest = b.checked_sub(part).unwrap();
        assert!(part.audio_out <= part.output && rest.audio_out <= rest.output);
        assert_eq!(rest.audio_in + part.audio_in, b.audio_in);
    }
}
