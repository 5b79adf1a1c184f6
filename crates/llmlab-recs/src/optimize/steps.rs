//! The four tips, each a step over the current state of the mix (see the parent
//! module's table), and how a tip is titled and described.

use super::*;
use crate::mix::Buckets;

/// `state` with each cell's tokens changed by `change`.
fn map_tokens(state: &[Cell], mut change: impl FnMut(&mut Buckets)) -> Vec<Cell> {
    state
        .iter()
        .map(|c| {
            let mut tokens = c.tokens;
            change(&mut tokens);
            Cell { tokens, ..*c }
        })
        .collect()
}

impl Ctx<'_> {
    pub(super) fn long_context(&self, state: &[Cell], _: &Totals) -> Option<Candidate> {
        let tier = self.version.long_context.as_ref()?;
        let long: Vec<&Cell> = state.iter().filter(|c| c.long).collect();
        let calls: u64 = long.iter().map(|c| c.tokens.calls).sum();
        if calls == 0 {
            return None;
        }
        let next = state.iter().map(|c| Cell { long: false, ..*c }).collect();
        Some(Candidate {
            kind: OptimizationKind::LongContextSurcharge,
            cells: next,
            detail: Detail::LongContextSurcharge {
                threshold_tokens: tier.threshold_tokens,
                long_prompt_calls: calls,
                long_prompt_input_tokens: long.iter().map(|c| c.tokens.input()).sum(),
                long_prompt_output_tokens: long.iter().map(|c| c.tokens.output).sum(),
            },
        })
    }

    pub(super) fn caching(&self, state: &[Cell], totals: &Totals) -> Option<Candidate> {
        let cfg = self.config;
        let rates = &self.version.rates;
        rates.cached_input?;
        // `state` exists, so the mix's sums are consistent: none is negative.
        let input = totals.tokens.input.unsigned_abs();
        let cached = totals.tokens.cached_input.unsigned_abs();
        if totals.calls == 0 || input == 0 {
            return None;
        }
        let avg_prompt = input / totals.calls;
        let cached_share = cached as f64 / input as f64;
        if avg_prompt < cfg.min_avg_prompt_tokens || cached_share >= cfg.max_cached_share {
            return None;
        }
        let reads_per_write = (rates.cache_write.is_some() && cfg.reads_per_cache_write > 0)
            .then_some(cfg.reads_per_cache_write);
        let (mut reads, mut writes) = (0u64, 0u64);
        let next = map_tokens(state, |t| {
            let r = share_of(t.uncached, cfg.assumed_cacheable_share);
            let w = reads_per_write
                .map_or(0, |n| div_round(r, u64::from(n)))
                .min(t.uncached - r);
            t.uncached -= r + w;
            t.cached += r;
            t.write += w;
            reads += r;
            writes += w;
        });
        Some(Candidate {
            kind: OptimizationKind::PromptCaching,
            cells: next,
            detail: Detail::PromptCaching {
                avg_prompt_tokens: avg_prompt,
                cached_share_pct: ratio_pct(cached, input),
                assumed_cacheable_share: cfg.assumed_cacheable_share,
                reads_per_cache_write: reads_per_write,
                assumed_cache_read_tokens: reads,
                assumed_cache_write_tokens: writes,
            },
        })
    }

    pub(super) fn output(&self, state: &[Cell], totals: &Totals) -> Option<Candidate> {
        let cfg = self.config;
        let rates = &self.version.rates;
        let (input, output) = (totals.tokens.input as f64, totals.tokens.output as f64);
        let price_ratio = rates.output.micros() as f64 / rates.input.micros() as f64;
        if totals.tokens.input == 0
            || rates.input.micros() == 0
            || output <= input * cfg.min_output_ratio
            || price_ratio < cfg.min_output_price_ratio
        {
            return None;
        }
        let mut trimmed = 0u64;
        let next = map_tokens(state, |t| {
            let cut = share_of(t.output, cfg.assumed_output_reduction);
            t.output -= cut;
            trimmed += cut;
        });
        Some(Candidate {
            kind: OptimizationKind::OutputHeavy,
            cells: next,
            detail: Detail::OutputHeavy {
                output_input_ratio: round2(output / input),
                output_price_ratio: round2(price_ratio),
                assumed_output_reduction: cfg.assumed_output_reduction,
                assumed_trimmed_output_tokens: trimmed,
            },
        })
    }

    pub(super) fn batch(&self, state: &[Cell], totals: &Totals) -> Option<Candidate> {
        let cfg = self.config;
        let discount = self.version.batch_discount_pct.filter(|d| *d > 0)?;
        let batch_calls = self.mix.batch.calls;
        if totals.calls == 0
            || self.mix.standard.calls == 0
            || batch_calls as f64 >= cfg.max_batch_share * totals.calls as f64
        {
            return None;
        }
        let mut moved_calls = 0u64;
        let mut next = Vec::with_capacity(state.len() * 2);
        for c in state {
            if c.batch {
                next.push(*c);
                continue;
            }
            let moved = c.tokens.share(cfg.assumed_batchable_share);
            let mut rest = c.tokens;
            rest.calls -= moved.calls;
            rest.uncached -= moved.uncached;
            rest.cached -= moved.cached;
            rest.write -= moved.write;
            rest.write_1h -= moved.write_1h;
            rest.audio_in -= moved.audio_in;
            rest.output -= moved.output;
            rest.audio_out -= moved.audio_out;
            moved_calls += moved.calls;
            next.push(Cell { tokens: rest, ..*c });
            next.push(Cell {
                tokens: moved,
                batch: true,
                long: c.long,
            });
        }
        Some(Candidate {
            kind: OptimizationKind::BatchApi,
            cells: next,
            detail: Detail::BatchApi {
                batch_share_pct: ratio_pct(batch_calls, totals.calls),
                batch_discount_pct: discount,
                assumed_batchable_share: cfg.assumed_batchable_share,
                assumed_batch_calls: moved_calls,
            },
        })
    }

    pub(super) fn title(&self, kind: OptimizationKind) -> String {
        let m = self.model;
        match kind {
            OptimizationKind::LongContextSurcharge => {
                format!("Keep {m} prompts under the long-context threshold")
            }
            OptimizationKind::PromptCaching => format!("Use prompt caching with {m}"),
            OptimizationKind::OutputHeavy => format!("Trim {m} output"),
            OptimizationKind::BatchApi => {
                format!("Send deferrable {m} calls through the batch API")
            }
        }
    }

    pub(super) fn describe(&self, detail: &Detail, savings: Usd) -> String {
        let m = self.model;
        let r = &self.version.rates;
        let save = format!("would save about {} a month", cents(savings));
        match detail {
            Detail::LongContextSurcharge {
                threshold_tokens,
                long_prompt_calls,
                ..
            } => {
                let (long_in, long_out) = self
                    .version
                    .long_context
                    .map_or((r.input, r.output), |t| (t.rates.input, t.rates.output));
                format!(
                    "{long_prompt_calls} of {} {m} calls sent prompts over {threshold_tokens} tokens, which bills the whole request at ${long_in}/${long_out} per million tokens instead of ${}/${}. Keeping prompts under the threshold (trim retrieved context, summarise history, split long documents) {save}.",
                    self.mix.totals().calls,
                    r.input,
                    r.output
                )
            }
            Detail::PromptCaching {
                avg_prompt_tokens,
                cached_share_pct,
                assumed_cacheable_share,
                reads_per_cache_write,
                ..
            } => {
                let cached_rate = r.cached_input.unwrap_or(r.input);
                let writes = match (reads_per_cache_write, r.cache_write) {
                    (Some(n), Some(w)) => {
                        format!(" (plus one token written at ${w}/M per {n} read)")
                    }
                    _ => String::new(),
                };
                format!(
                    "{m} prompts average {avg_prompt_tokens} tokens and {}% of prompt tokens are read from the cache. Putting the stable part of each prompt first (system prompt, instructions, examples, shared documents) so that {}% of the uncached prompt tokens are read from the cache at ${cached_rate}/M instead of ${}/M{writes} {save}.",
                    pct_text(*cached_share_pct),
                    pct_text(assumed_cacheable_share * 100.0),
                    r.input
                )
            }
            Detail::OutputHeavy {
                output_input_ratio,
                output_price_ratio,
                assumed_output_reduction,
                ..
            } => format!(
                "{m} generates {output_input_ratio}× as many tokens as it reads, and its output costs {output_price_ratio}× its input (${}/M against ${}/M). Trimming output by {}% (a max_tokens limit, concise or structured answers, a lower reasoning effort) {save}.",
                r.output,
                r.input,
                pct_text(assumed_output_reduction * 100.0)
            ),
            Detail::BatchApi {
                batch_share_pct,
                batch_discount_pct,
                assumed_batchable_share,
                ..
            } => {
                let now = if *batch_share_pct == 0.0 {
                    format!("No {m} calls use")
                } else {
                    format!("{}% of {m} calls use", pct_text(*batch_share_pct))
                };
                format!(
                    "{now} the batch API, which costs {batch_discount_pct}% less. Sending {}% of the other calls through it (evaluations, back-fills, nightly jobs: anything that can wait up to a day) {save}.",
                    pct_text(assumed_batchable_share * 100.0)
                )
            }
        }
    }
}
