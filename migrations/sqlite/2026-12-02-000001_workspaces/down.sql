-- Back to one tenant per user: each personal workspace's data returns to its owner; the
-- data of shared workspaces has no user to return to and is deleted with them. Rebuilt
-- like the upgrade (foreign keys off, one transaction).
PRAGMA foreign_keys = ON;
DELETE FROM workspaces WHERE personal_of IS NULL;
PRAGMA foreign_keys = OFF;
BEGIN;

ALTER TABLE users ADD COLUMN prices_version BIGINT NOT NULL DEFAULT 0;
UPDATE users SET prices_version =
    (SELECT w.prices_version FROM workspaces w WHERE w.personal_of = users.id);

-- Personal workspaces made after the upgrade have ids of their own: map them back.
CREATE TEMPORARY TABLE workspace_owner AS
SELECT id AS workspace_id, personal_of AS user_id FROM workspaces;
ALTER TABLE event_tags RENAME COLUMN workspace_id TO user_id;
UPDATE event_tags SET user_id = (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = event_tags.user_id);
ALTER TABLE budget_alerts RENAME COLUMN workspace_id TO user_id;
UPDATE budget_alerts SET user_id = (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = budget_alerts.user_id);
ALTER TABLE webhook_deliveries RENAME COLUMN workspace_id TO user_id;
UPDATE webhook_deliveries SET user_id = (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = webhook_deliveries.user_id);

CREATE TABLE new_api_keys (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    scopes TEXT NOT NULL DEFAULT 'ingest'
);
INSERT INTO new_api_keys (id, user_id, name, prefix, key_hash, created_at, last_used_at, revoked_at, scopes)
SELECT id, (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = t.workspace_id), name, prefix, key_hash, created_at, last_used_at, revoked_at, scopes
FROM api_keys t;
DROP TABLE api_keys;
ALTER TABLE new_api_keys RENAME TO api_keys;
CREATE INDEX api_keys_user ON api_keys (user_id, id);

CREATE TABLE new_events (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    resolved_model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL CHECK (input_tokens >= 0),
    output_tokens BIGINT NOT NULL CHECK (output_tokens >= 0),
    cached_input_tokens BIGINT NOT NULL CHECK (cached_input_tokens >= 0),
    cache_write_tokens BIGINT NOT NULL CHECK (cache_write_tokens >= 0),
    reasoning_tokens BIGINT NOT NULL CHECK (reasoning_tokens >= 0),
    batch BOOLEAN NOT NULL,
    cost_nanos BIGINT NOT NULL,
    cost_source TEXT NOT NULL CHECK (cost_source IN ('catalog', 'custom_pricing', 'client')),
    price_effective_from DATE,
    ts BIGINT NOT NULL,
    latency_ms BIGINT,
    tags_json TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, event_id)
);
INSERT INTO new_events (id, user_id, event_id, provider, model, resolved_model, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, batch, cost_nanos, cost_source, price_effective_from, ts, latency_ms, tags_json, created_at)
SELECT id, (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = t.workspace_id), event_id, provider, model, resolved_model, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, batch, cost_nanos, cost_source, price_effective_from, ts, latency_ms, tags_json, created_at
FROM events t;
DROP TABLE events;
ALTER TABLE new_events RENAME TO events;
CREATE INDEX events_user_ts ON events (user_id, ts, id);
CREATE INDEX events_user_model_ts ON events (user_id, provider, resolved_model, ts);

CREATE TABLE new_budgets (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    amount_nanos BIGINT NOT NULL,
    period TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    scope_provider TEXT,
    scope_model TEXT,
    scope_tag_key TEXT,
    scope_tag_value TEXT,
    alert_threshold_pct INTEGER NOT NULL,
    webhook_url TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, name)
);
INSERT INTO new_budgets (id, user_id, name, amount_nanos, period, timezone, scope_provider, scope_model, scope_tag_key, scope_tag_value, alert_threshold_pct, webhook_url, created_at, updated_at)
SELECT id, (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = t.workspace_id), name, amount_nanos, period, timezone, scope_provider, scope_model, scope_tag_key, scope_tag_value, alert_threshold_pct, webhook_url, created_at, updated_at
FROM budgets t;
DROP TABLE budgets;
ALTER TABLE new_budgets RENAME TO budgets;

CREATE TABLE new_custom_prices (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_micros BIGINT NOT NULL,
    output_micros BIGINT NOT NULL,
    cached_input_micros BIGINT,
    cache_write_micros BIGINT,
    batch_discount_pct INTEGER,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, provider, model)
);
INSERT INTO new_custom_prices (id, user_id, provider, model, input_micros, output_micros, cached_input_micros, cache_write_micros, batch_discount_pct, created_at, updated_at)
SELECT id, (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = t.workspace_id), provider, model, input_micros, output_micros, cached_input_micros, cache_write_micros, batch_discount_pct, created_at, updated_at
FROM custom_prices t;
DROP TABLE custom_prices;
ALTER TABLE new_custom_prices RENAME TO custom_prices;

CREATE TABLE new_event_rollups (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slot BIGINT NOT NULL,
    provider TEXT NOT NULL,
    resolved_model TEXT NOT NULL,
    batch BOOLEAN NOT NULL,
    calls BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    max_input_tokens BIGINT NOT NULL,
    PRIMARY KEY (user_id, slot, provider, resolved_model, batch)
) WITHOUT ROWID;
INSERT INTO new_event_rollups (user_id, slot, provider, resolved_model, batch, calls, cost_nanos, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, max_input_tokens)
SELECT (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = t.workspace_id), slot, provider, resolved_model, batch, calls, cost_nanos, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, max_input_tokens
FROM event_rollups t;
DROP TABLE event_rollups;
ALTER TABLE new_event_rollups RENAME TO event_rollups;

CREATE TABLE new_tag_rollups (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    slot BIGINT NOT NULL,
    value TEXT NOT NULL,
    calls BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    PRIMARY KEY (user_id, key, slot, value)
) WITHOUT ROWID;
INSERT INTO new_tag_rollups (user_id, key, slot, value, calls, cost_nanos, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens)
SELECT (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = t.workspace_id), key, slot, value, calls, cost_nanos, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens
FROM tag_rollups t;
DROP TABLE tag_rollups;
ALTER TABLE new_tag_rollups RENAME TO tag_rollups;

CREATE TABLE new_ledger_totals (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cost_nanos BIGINT NOT NULL
        CHECK (typeof(cost_nanos) = 'integer' AND cost_nanos BETWEEN 0 AND 9000000000000000000),
    input_tokens BIGINT NOT NULL
        CHECK (typeof(input_tokens) = 'integer' AND input_tokens BETWEEN 0 AND 9000000000000000000),
    output_tokens BIGINT NOT NULL
        CHECK (typeof(output_tokens) = 'integer' AND output_tokens BETWEEN 0 AND 9000000000000000000)
);
INSERT INTO new_ledger_totals (user_id, cost_nanos, input_tokens, output_tokens)
SELECT (SELECT o.user_id FROM workspace_owner o WHERE o.workspace_id = t.workspace_id), cost_nanos, input_tokens, output_tokens
FROM ledger_totals t;
DROP TABLE ledger_totals;
ALTER TABLE new_ledger_totals RENAME TO ledger_totals;

DROP TABLE workspace_owner;
DROP TABLE audit_log;
DROP TABLE workspace_members;
DROP TABLE workspaces;

COMMIT;
PRAGMA foreign_keys = ON;
