-- API keys carry scopes: a comma-separated subset of ingest, read. New keys default to
-- ingest; keys made before scopes existed keep what they used (sending and reading),
-- never the account management that no key may do any more.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'ingest';
UPDATE api_keys SET scopes = 'ingest,read';

-- Limiter windows of different lengths share the table (login: a minute, signup: an
-- hour), so each row knows when it ends.
ALTER TABLE login_attempts ADD COLUMN window_micros BIGINT NOT NULL DEFAULT 60000000;

-- Each account's running totals, kept in the transaction that stores its events. The
-- ceilings make every SUM over an account's events or rollups fit a BIGINT: a sum of
-- non-negative values is at most their total, and 9e18 < 2^63 - 1. An insert that would
-- cross one fails this CHECK (or overflows BIGINT), and nothing of it is stored.
CREATE TABLE ledger_totals (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    cost_nanos BIGINT NOT NULL CHECK (cost_nanos BETWEEN 0 AND 9000000000000000000),
    input_tokens BIGINT NOT NULL CHECK (input_tokens BETWEEN 0 AND 9000000000000000000),
    output_tokens BIGINT NOT NULL CHECK (output_tokens BETWEEN 0 AND 9000000000000000000)
);
INSERT INTO ledger_totals (user_id, cost_nanos, input_tokens, output_tokens)
SELECT user_id,
       LEAST(SUM(cost_nanos), 9000000000000000000)::BIGINT,
       LEAST(SUM(input_tokens), 9000000000000000000)::BIGINT,
       LEAST(SUM(output_tokens), 9000000000000000000)::BIGINT
FROM events GROUP BY user_id;
