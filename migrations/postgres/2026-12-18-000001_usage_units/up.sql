-- What a call is billed for beside tokens: images (with their size and quality, `1024x1792/hd`,
-- which pick the price), seconds of audio transcribed, characters of speech, web search calls
-- and code sessions. Every event stored before has none: 0, and 0 is each existing
-- rollup row's exact sum of them.
-- No CHECK (>= 0) on the new columns: Citus cannot add a column with one to a
-- distributed table. Ingestion refuses negative counts and prices before any write.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE events ADD COLUMN images BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE events ADD COLUMN audio_input_seconds BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE events ADD COLUMN output_characters BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE events ADD COLUMN web_search_calls BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE events ADD COLUMN code_sessions BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE events ADD COLUMN image TEXT';
    EXECUTE 'ALTER TABLE event_rollups ADD COLUMN images BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE event_rollups ADD COLUMN audio_input_seconds BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE event_rollups ADD COLUMN output_characters BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE event_rollups ADD COLUMN web_search_calls BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE event_rollups ADD COLUMN code_sessions BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE tag_rollups ADD COLUMN images BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE tag_rollups ADD COLUMN audio_input_seconds BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE tag_rollups ADD COLUMN output_characters BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE tag_rollups ADD COLUMN web_search_calls BIGINT NOT NULL DEFAULT 0';
    EXECUTE 'ALTER TABLE tag_rollups ADD COLUMN code_sessions BIGINT NOT NULL DEFAULT 0';
END
$$;
