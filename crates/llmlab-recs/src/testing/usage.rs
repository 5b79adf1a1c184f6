//! A call's usage from its token counts, for the unit and the integration tests.

use llmlab_engine::{Tokens, Usage, UsageFields};

#[allow(clippy::unwrap_used)]
pub fn usage(input: i64, cached: i64, output: i64, batch: bool) -> Usage {
    Usage::parse(
        UsageFields::new(Tokens {
            input,
            cached_input: cached,
            output,
            ..Tokens::default()
        })
        .with_batch(batch),
    )
    .unwrap()
}
