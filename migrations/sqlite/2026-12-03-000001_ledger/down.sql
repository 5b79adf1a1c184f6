-- Back to before the ledger (see the PostgreSQL migration).
PRAGMA foreign_keys = OFF;
BEGIN;

DROP TABLE catalog_fingerprints;
DROP TABLE reprice_runs;

UPDATE events SET cost_source = 'client' WHERE cost_source = 'unpriced';
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

ALTER TABLE event_rollups DROP COLUMN unpriced_calls;
ALTER TABLE tag_rollups DROP COLUMN unpriced_calls;

DELETE FROM custom_prices WHERE deleted_at IS NOT NULL OR EXISTS (
    SELECT 1 FROM custom_prices d WHERE d.workspace_id = custom_prices.workspace_id
    AND d.provider = custom_prices.provider AND d.model = custom_prices.model
    AND d.deleted_at IS NULL AND d.id > custom_prices.id);
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
INSERT INTO new_custom_prices (id, workspace_id, provider, model, input_micros,
    output_micros, cached_input_micros, cache_write_micros, batch_discount_pct, created_at,
    updated_at)
SELECT id, workspace_id, provider, model, input_micros, output_micros, cached_input_micros,
    cache_write_micros, batch_discount_pct, created_at, updated_at
FROM custom_prices;
DROP TABLE custom_prices;
ALTER TABLE new_custom_prices RENAME TO custom_prices;

COMMIT;
PRAGMA foreign_keys = ON;
