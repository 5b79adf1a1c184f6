-- The price ledger: every event says which price produced its cost, events of models
-- nobody has priced yet are kept ('unpriced', cost 0), custom prices keep every
-- revision, and re-pricing runs are recorded.

-- 'unpriced': a known provider's model without a price; stored with cost 0.
ALTER TABLE events DROP CONSTRAINT events_cost_source_check;
ALTER TABLE events ADD CONSTRAINT events_cost_source_check
    CHECK (cost_source IN ('catalog', 'custom_pricing', 'client', 'unpriced'));
-- For 'custom_pricing': the custom_prices row (revision) that priced it. NULL for events
-- priced before revisions were kept.
ALTER TABLE events ADD COLUMN price_revision BIGINT;
CREATE INDEX events_unpriced ON events (workspace_id, provider, model)
    WHERE cost_source = 'unpriced';

ALTER TABLE event_rollups ADD COLUMN unpriced_calls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tag_rollups ADD COLUMN unpriced_calls BIGINT NOT NULL DEFAULT 0;

-- Custom prices: one row per revision, never overwritten. `effective_from` NULL means
-- "for every date"; a revision applies from its date until a later-dated one (the
-- highest id wins among equal dates). `deleted_at` ends a price: the catalog prices
-- the model again, while the events it priced keep pointing at it.
ALTER TABLE custom_prices DROP CONSTRAINT custom_prices_user_id_provider_model_key;
ALTER TABLE custom_prices ADD COLUMN effective_from DATE;
ALTER TABLE custom_prices ADD COLUMN deleted_at TIMESTAMP;
CREATE INDEX custom_prices_model ON custom_prices (workspace_id, provider, model, id);

CREATE TABLE reprice_runs (
    id BIGSERIAL PRIMARY KEY,
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
