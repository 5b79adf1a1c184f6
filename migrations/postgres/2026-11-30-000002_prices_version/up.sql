-- Bumped in the same transaction as every change to a user's custom prices, and read
-- with the credentials on every request: a server instance may keep a user's prices in
-- memory for as long as this number has not moved, and sees a change on the very next
-- request, whichever instance made it.
ALTER TABLE users ADD COLUMN prices_version BIGINT NOT NULL DEFAULT 0;
