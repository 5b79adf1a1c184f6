ALTER TABLE events DROP COLUMN api_key_id;
