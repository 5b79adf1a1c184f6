-- See the PostgreSQL twin.
ALTER TABLE events ADD COLUMN images BIGINT NOT NULL DEFAULT 0 CHECK (images >= 0);
ALTER TABLE events ADD COLUMN audio_input_seconds BIGINT NOT NULL DEFAULT 0 CHECK (audio_input_seconds >= 0);
ALTER TABLE events ADD COLUMN output_characters BIGINT NOT NULL DEFAULT 0 CHECK (output_characters >= 0);
ALTER TABLE events ADD COLUMN web_search_calls BIGINT NOT NULL DEFAULT 0 CHECK (web_search_calls >= 0);
ALTER TABLE events ADD COLUMN code_sessions BIGINT NOT NULL DEFAULT 0 CHECK (code_sessions >= 0);
ALTER TABLE events ADD COLUMN image TEXT;
ALTER TABLE event_rollups ADD COLUMN images BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_rollups ADD COLUMN audio_input_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_rollups ADD COLUMN output_characters BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_rollups ADD COLUMN web_search_calls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_rollups ADD COLUMN code_sessions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN images BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN audio_input_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN output_characters BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN web_search_calls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN code_sessions BIGINT NOT NULL DEFAULT 0;
