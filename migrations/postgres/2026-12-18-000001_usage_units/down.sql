DO $$
BEGIN
    EXECUTE 'ALTER TABLE tag_rollups DROP COLUMN code_sessions';
    EXECUTE 'ALTER TABLE tag_rollups DROP COLUMN web_search_calls';
    EXECUTE 'ALTER TABLE tag_rollups DROP COLUMN output_characters';
    EXECUTE 'ALTER TABLE tag_rollups DROP COLUMN audio_input_seconds';
    EXECUTE 'ALTER TABLE tag_rollups DROP COLUMN images';
    EXECUTE 'ALTER TABLE event_rollups DROP COLUMN code_sessions';
    EXECUTE 'ALTER TABLE event_rollups DROP COLUMN web_search_calls';
    EXECUTE 'ALTER TABLE event_rollups DROP COLUMN output_characters';
    EXECUTE 'ALTER TABLE event_rollups DROP COLUMN audio_input_seconds';
    EXECUTE 'ALTER TABLE event_rollups DROP COLUMN images';
    EXECUTE 'ALTER TABLE events DROP COLUMN image';
    EXECUTE 'ALTER TABLE events DROP COLUMN code_sessions';
    EXECUTE 'ALTER TABLE events DROP COLUMN web_search_calls';
    EXECUTE 'ALTER TABLE events DROP COLUMN output_characters';
    EXECUTE 'ALTER TABLE events DROP COLUMN audio_input_seconds';
    EXECUTE 'ALTER TABLE events DROP COLUMN images';
END
$$;
