//! A call's usage from its token counts, for the unit and the integration tests.

use llmlab_engine::{Usage, UsageFields};

#[allow(clippy::unwrap_used)]
pub fn usage(input: i64, cached: i64, output: i64, batch: bool) -> Usage {
    Usage::parse(UsageFields {
        input_tokens: input,
        cached_input_tokens: cached,
        output_tokens: output,
        batch,
        ..UsageFields::default()
    })
    .unwrap()
}
