DO $$
BEGIN
    EXECUTE 'ALTER TABLE custom_prices DROP COLUMN code_session_picos';
    EXECUTE 'ALTER TABLE custom_prices DROP COLUMN web_search_call_picos';
    EXECUTE 'ALTER TABLE custom_prices DROP COLUMN output_character_picos';
    EXECUTE 'ALTER TABLE custom_prices DROP COLUMN audio_input_minute_picos';
END
$$;
