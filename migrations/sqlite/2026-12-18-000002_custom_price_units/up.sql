-- See the PostgreSQL twin.
ALTER TABLE custom_prices ADD COLUMN audio_input_minute_picos BIGINT CHECK (audio_input_minute_picos >= 0);
ALTER TABLE custom_prices ADD COLUMN output_character_picos BIGINT CHECK (output_character_picos >= 0);
ALTER TABLE custom_prices ADD COLUMN web_search_call_picos BIGINT CHECK (web_search_call_picos >= 0);
ALTER TABLE custom_prices ADD COLUMN code_session_picos BIGINT CHECK (code_session_picos >= 0);
