-- The price ledger (see the PostgreSQL migration for what each change means). SQLite
-- cannot change a CHECK or drop a UNIQUE constraint in place: `events` and
-- `custom_prices` are rebuilt as its documentation prescribes (foreign keys off, one
-- transaction); hence `run_in_transaction = false`.
PRAGMA foreign_keys = OFF;
BEGIN;

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
    cost_source TEXT NOT NULL CHECK (cost_source IN ('catalog', 'custom_pricing', 'client', 'unpriced')),
    price_effective_from DATE,
    ts BIGINT NOT NULL,
    latency_ms BIGINT,
    tags_json TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    price_revision BIGINT,
    UNIQUE (workspace_id, event_id)
);
INSERT INTO new_events (id, workspace_id, event_id, provider, model, resolved_model,
    input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
    batch, cost_nanos, cost_source, price_effective_from, ts, latency_ms, tags_json,
    created_at)
SELECT id, workspace_id, event_id, provider, model, resolved_model, input_tokens,
    output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, batch,
    cost_nanos, cost_source, price_effective_from, ts, latency_ms, tags_json, created_at
FROM events;
DROP TABLE events;
ALTER TABLE new_events RENAME TO events;
CREATE INDEX events_user_ts ON events (workspace_id, ts, id);
CREATE INDEX events_user_model_ts ON events (workspace_id, provider, resolved_model, ts);
CREATE INDEX events_unpriced ON events (workspace_id, provider, model)
    WHERE cost_source = 'unpriced';

ALTER TABLE event_rollups ADD COLUMN unpriced_calls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN unpriced_calls BIGINT NOT NULL DEFAULT 0;

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
    effective_from DATE,
    deleted_at TIMESTAMP
);
INSERT INTO new_custom_prices (id, workspace_id, provider, model, input_micros,
    output_micros, cached_input_micros, cache_write_micros, batch_discount_pct, created_at,
    updated_at)
SELECT id, workspace_id, provider, model, input_micros, output_micros, cached_input_micros,
    cache_write_micros, batch_discount_pct, created_at, updated_at
FROM custom_prices;
DROP TABLE custom_prices;
ALTER TABLE new_custom_prices RENAME TO custom_prices;
CREATE INDEX custom_prices_model ON custom_prices (workspace_id, provider, model, id);

CREATE TABLE reprice_runs (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL,
    actor_label TEXT NOT NULL,
    params_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    events_matched BIGINT NOT NULL,
    events_changed BIGINT NOT NULL,
    old_cost_nanos BIGINT NOT NULL,
    new_cost_nanos BIGINT NOT NULL,
    by_model_json TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX reprice_runs_workspace ON reprice_runs (workspace_id, id);

-- The price history of each catalog model as this database last saw it, so a start
-- with a changed catalog can say what changed.
CREATE TABLE catalog_fingerprints (
    model TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);

COMMIT;
PRAGMA foreign_keys = ON;
