-- Custom prices gain the per-unit prices the catalog has beside tokens, in pico-dollars
-- per unit: a minute of audio in, a character of speech, a web search call, a code
-- session. NULL (every existing revision) refuses that unit for a model with the price.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE custom_prices ADD COLUMN audio_input_minute_picos BIGINT CHECK (audio_input_minute_picos >= 0)';
    EXECUTE 'ALTER TABLE custom_prices ADD COLUMN output_character_picos BIGINT CHECK (output_character_picos >= 0)';
    EXECUTE 'ALTER TABLE custom_prices ADD COLUMN web_search_call_picos BIGINT CHECK (web_search_call_picos >= 0)';
    EXECUTE 'ALTER TABLE custom_prices ADD COLUMN code_session_picos BIGINT CHECK (code_session_picos >= 0)';
END
$$;
