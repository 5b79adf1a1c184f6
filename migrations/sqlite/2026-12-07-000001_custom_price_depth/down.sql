ALTER TABLE custom_prices DROP COLUMN output_audio_micros;
ALTER TABLE custom_prices DROP COLUMN input_audio_micros;
ALTER TABLE custom_prices DROP COLUMN cache_write_1h_micros;
