-- Workspaces: the tenant. Every resource that belonged to a user now belongs to a
-- workspace; each existing user gets a personal workspace holding all of their data.
-- The personal workspaces take their owners' ids, so no value changes: only the column's
-- name and its foreign key. SQLite cannot change a foreign key in place, so the tables
-- that have one are rebuilt as its documentation prescribes (foreign keys off, one
-- transaction, new table, copy, drop, rename); hence `run_in_transaction = false`.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    personal_of BIGINT UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    prices_version BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id, workspace_id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key')),
    actor_id BIGINT NOT NULL,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    details_json TEXT NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id);

INSERT INTO workspaces (id, name, personal_of, prices_version, created_at)
SELECT id, 'Personal', id, prices_version, created_at FROM users;
INSERT INTO workspace_members (workspace_id, user_id, role, added_at)
SELECT id, id, 'owner', created_at FROM users;
ALTER TABLE users DROP COLUMN prices_version;

CREATE TABLE new_api_keys (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    scopes TEXT NOT NULL DEFAULT 'ingest',
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    tags_json TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO new_api_keys (id, workspace_id, name, prefix, key_hash, created_at, last_used_at,
    revoked_at, scopes, created_by, tags_json)
SELECT id, user_id, name, prefix, key_hash, created_at, last_used_at, revoked_at, scopes,
    user_id, '{}'
FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE new_api_keys RENAME TO api_keys;
CREATE INDEX api_keys_user ON api_keys (workspace_id, id);

CREATE TABLE new_events (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
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
    UNIQUE (workspace_id, event_id)
);
INSERT INTO new_events SELECT * FROM events;
DROP TABLE events;
ALTER TABLE new_events RENAME TO events;
CREATE INDEX events_user_ts ON events (workspace_id, ts, id);
CREATE INDEX events_user_model_ts ON events (workspace_id, provider, resolved_model, ts);

ALTER TABLE event_tags RENAME COLUMN user_id TO workspace_id;

CREATE TABLE new_budgets (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
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
    UNIQUE (workspace_id, name)
);
INSERT INTO new_budgets SELECT * FROM budgets;
DROP TABLE budgets;
ALTER TABLE new_budgets RENAME TO budgets;

ALTER TABLE budget_alerts RENAME COLUMN user_id TO workspace_id;
ALTER TABLE webhook_deliveries RENAME COLUMN user_id TO workspace_id;

CREATE TABLE new_custom_prices (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_micros BIGINT NOT NULL,
    output_micros BIGINT NOT NULL,
    cached_input_micros BIGINT,
    cache_write_micros BIGINT,
    batch_discount_pct INTEGER,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, provider, model)
);
INSERT INTO new_custom_prices SELECT * FROM custom_prices;
DROP TABLE custom_prices;
ALTER TABLE new_custom_prices RENAME TO custom_prices;

CREATE TABLE new_event_rollups (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
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
    PRIMARY KEY (workspace_id, slot, provider, resolved_model, batch)
) WITHOUT ROWID;
INSERT INTO new_event_rollups SELECT * FROM event_rollups;
DROP TABLE event_rollups;
ALTER TABLE new_event_rollups RENAME TO event_rollups;

CREATE TABLE new_tag_rollups (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
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
    PRIMARY KEY (workspace_id, key, slot, value)
) WITHOUT ROWID;
INSERT INTO new_tag_rollups SELECT * FROM tag_rollups;
DROP TABLE tag_rollups;
ALTER TABLE new_tag_rollups RENAME TO tag_rollups;

CREATE TABLE new_ledger_totals (
    workspace_id BIGINT PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    cost_nanos BIGINT NOT NULL
        CHECK (typeof(cost_nanos) = 'integer' AND cost_nanos BETWEEN 0 AND 9000000000000000000),
    input_tokens BIGINT NOT NULL
        CHECK (typeof(input_tokens) = 'integer' AND input_tokens BETWEEN 0 AND 9000000000000000000),
    output_tokens BIGINT NOT NULL
        CHECK (typeof(output_tokens) = 'integer' AND output_tokens BETWEEN 0 AND 9000000000000000000)
);
INSERT INTO new_ledger_totals SELECT * FROM ledger_totals;
DROP TABLE ledger_totals;
ALTER TABLE new_ledger_totals RENAME TO ledger_totals;

COMMIT;
PRAGMA foreign_keys = ON;
