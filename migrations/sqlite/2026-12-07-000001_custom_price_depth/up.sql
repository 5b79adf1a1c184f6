-- Custom prices gain the rates the catalog already has for pricing depth: 1-hour cache
-- writes and audio in and out, in micro-dollars per million tokens. NULL (every existing
-- revision) keeps today's rule: such tokens are refused for a model with that price.
ALTER TABLE custom_prices ADD COLUMN cache_write_1h_micros BIGINT
    CHECK (cache_write_1h_micros >= 0);
ALTER TABLE custom_prices ADD COLUMN input_audio_micros BIGINT
    CHECK (input_audio_micros >= 0);
ALTER TABLE custom_prices ADD COLUMN output_audio_micros BIGINT
    CHECK (output_audio_micros >= 0);
