-- Custom prices gain the per-unit prices the catalog has beside tokens, in pico-dollars
-- per unit: a minute of audio in, a character of speech, a web search call, a code
-- session. NULL (every existing revision) refuses that unit for a model with the price.
-- No CHECK (>= 0) on the new columns: Citus cannot add a column with one to a
-- distributed table. Ingestion refuses negative counts and prices before any write.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE custom_prices ADD COLUMN audio_input_minute_picos BIGINT';
    EXECUTE 'ALTER TABLE custom_prices ADD COLUMN output_character_picos BIGINT';
    EXECUTE 'ALTER TABLE custom_prices ADD COLUMN web_search_call_picos BIGINT';
    EXECUTE 'ALTER TABLE custom_prices ADD COLUMN code_session_picos BIGINT';
END
$$;
