-- See the PostgreSQL twin.
ALTER TABLE custom_prices ADD COLUMN audio_input_minute_picos BIGINT;
ALTER TABLE custom_prices ADD COLUMN output_character_picos BIGINT;
ALTER TABLE custom_prices ADD COLUMN web_search_call_picos BIGINT;
ALTER TABLE custom_prices ADD COLUMN code_session_picos BIGINT;
