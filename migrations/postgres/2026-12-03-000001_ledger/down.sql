DROP TABLE catalog_fingerprints;
DROP TABLE reprice_runs;
DROP INDEX custom_prices_model;
-- Only the latest live revision of each price survives the downgrade.
DELETE FROM custom_prices c WHERE c.deleted_at IS NOT NULL OR EXISTS (
    SELECT 1 FROM custom_prices d WHERE d.workspace_id = c.workspace_id
    AND d.provider = c.provider AND d.model = c.model AND d.deleted_at IS NULL AND d.id > c.id);
ALTER TABLE custom_prices DROP COLUMN deleted_at;
ALTER TABLE custom_prices DROP COLUMN effective_from;
ALTER TABLE custom_prices ADD CONSTRAINT custom_prices_user_id_provider_model_key
    UNIQUE (workspace_id, provider, model);
ALTER TABLE tag_rollups DROP COLUMN unpriced_calls;
ALTER TABLE event_rollups DROP COLUMN unpriced_calls;
DROP INDEX events_unpriced;
ALTER TABLE events DROP COLUMN price_revision;
-- Before the ledger an unpriced event cannot be told apart: it becomes a $0 event with
-- a cost the client gave, so every sum stays what it was.
UPDATE events SET cost_source = 'client' WHERE cost_source = 'unpriced';
ALTER TABLE events DROP CONSTRAINT events_cost_source_check;
ALTER TABLE events ADD CONSTRAINT events_cost_source_check
    CHECK (cost_source IN ('catalog', 'custom_pricing', 'client'));
