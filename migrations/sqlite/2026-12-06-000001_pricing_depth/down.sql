ALTER TABLE events DROP COLUMN service_tier;
ALTER TABLE events DROP COLUMN output_audio_tokens;
ALTER TABLE events DROP COLUMN input_audio_tokens;
ALTER TABLE events DROP COLUMN cache_write_1h_tokens;
