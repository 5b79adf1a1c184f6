-- Pricing depth: three more disjoint token buckets and the service tier of each event.
-- `cache_write_1h_tokens` (1-hour cache writes) and `input_audio_tokens` are parts of
-- `input_tokens`, disjoint from the cache reads, the 5-minute writes and each other;
-- `output_audio_tokens` is a part of `output_tokens`, disjoint from `reasoning_tokens`.
-- `service_tier` is the tier the event was priced at, so re-pricing keeps it: events
-- sent through a batch API so far are the `batch` tier.
ALTER TABLE events ADD COLUMN cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0
    CHECK (cache_write_1h_tokens >= 0);
ALTER TABLE events ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0
    CHECK (input_audio_tokens >= 0);
ALTER TABLE events ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0
    CHECK (output_audio_tokens >= 0);
ALTER TABLE events ADD COLUMN service_tier TEXT NOT NULL DEFAULT 'standard'
    CHECK (service_tier IN ('standard', 'batch', 'flex', 'priority'));
UPDATE events SET service_tier = 'batch' WHERE batch;

-- The rollups sum the new buckets like the old ones. Every event stored before this
-- migration has 0 in them, so 0 is each existing rollup row's exact sum.
ALTER TABLE event_rollups ADD COLUMN cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_rollups ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_rollups ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0;
