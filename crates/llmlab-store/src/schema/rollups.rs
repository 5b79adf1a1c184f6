//! The rollup tables: the ledger's sums per 15-minute slot, by model and by tag value.

diesel::table! {
    /// Event sums per workspace, 15-minute UTC slot, provider, model and batch flag.
    event_rollups (workspace_id, slot, provider, resolved_model, batch) {
        workspace_id -> BigInt,
        slot -> BigInt,
        provider -> Text,
        resolved_model -> Text,
        batch -> Bool,
        calls -> BigInt,
        cost_nanos -> BigInt,
        input_tokens -> BigInt,
        output_tokens -> BigInt,
        cached_input_tokens -> BigInt,
        cache_write_tokens -> BigInt,
        reasoning_tokens -> BigInt,
        max_input_tokens -> BigInt,
        unpriced_calls -> BigInt,
        cache_write_1h_tokens -> BigInt,
        input_audio_tokens -> BigInt,
        output_audio_tokens -> BigInt,
        images -> BigInt,
        audio_input_seconds -> BigInt,
        output_characters -> BigInt,
        web_search_calls -> BigInt,
        code_sessions -> BigInt,
    }
}

diesel::table! {
    /// Event sums per workspace, tag key, 15-minute UTC slot and tag value.
    tag_rollups (workspace_id, key, slot, value) {
        workspace_id -> BigInt,
        key -> Text,
        slot -> BigInt,
        value -> Text,
        calls -> BigInt,
        cost_nanos -> BigInt,
        input_tokens -> BigInt,
        output_tokens -> BigInt,
        cached_input_tokens -> BigInt,
        cache_write_tokens -> BigInt,
        reasoning_tokens -> BigInt,
        unpriced_calls -> BigInt,
        cache_write_1h_tokens -> BigInt,
        input_audio_tokens -> BigInt,
        output_audio_tokens -> BigInt,
        images -> BigInt,
        audio_input_seconds -> BigInt,
        output_characters -> BigInt,
        web_search_calls -> BigInt,
        code_sessions -> BigInt,
    }
}
