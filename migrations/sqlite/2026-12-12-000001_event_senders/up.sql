-- The API key that sent each event (NULL: a person's session, or an event stored
-- before this column), so spend can be split by the service that sent it. No foreign
-- key: deleting a key revokes it, and its history keeps the id it was sent with.
ALTER TABLE events ADD COLUMN api_key_id BIGINT;
