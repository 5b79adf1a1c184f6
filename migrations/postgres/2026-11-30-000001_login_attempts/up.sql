-- Login attempts per limiter subject, shared by every server instance so that running
-- more instances does not multiply the attempts an attacker gets. `key_hash` is the
-- SHA-256 of "email:<address>" or "ip:<address>" (no address is kept in clear);
-- `window_start` is when the subject's current one-minute window began, in microseconds
-- since the Unix epoch.
CREATE TABLE login_attempts (
    key_hash TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX login_attempts_window ON login_attempts (window_start);
