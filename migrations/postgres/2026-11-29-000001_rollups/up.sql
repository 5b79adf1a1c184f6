-- Every ingestion updates a few rollup rows in place, so on PostgreSQL each row gathers
-- dead versions quickly: free space in every page (fillfactor) lets updates stay on the
-- page (HOT, no index churn), and autovacuum is asked to clean after 1 % of updates
-- rather than the default 20 %.
--
-- Sums of the events per 15-minute UTC slot, maintained in the same transaction as the
-- events themselves (so always exact), for reports over months of events. 15 minutes
-- divides every time zone's offset, so local days, weeks and months are whole slots.
CREATE TABLE event_rollups (
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
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_analyze_scale_factor = 0.02);

-- The same per tag key and value.
CREATE TABLE tag_rollups (
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
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_analyze_scale_factor = 0.02);

-- Events stored before this migration.
INSERT INTO event_rollups (user_id, slot, provider, resolved_model, batch, calls, cost_nanos,
    input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
    max_input_tokens)
SELECT user_id, ts - (((ts % 900000000) + 900000000) % 900000000), provider, resolved_model,
    batch, COUNT(*), CAST(SUM(cost_nanos) AS BIGINT), CAST(SUM(input_tokens) AS BIGINT),
    CAST(SUM(output_tokens) AS BIGINT), CAST(SUM(cached_input_tokens) AS BIGINT),
    CAST(SUM(cache_write_tokens) AS BIGINT), CAST(SUM(reasoning_tokens) AS BIGINT),
    MAX(input_tokens)
FROM events
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO tag_rollups (user_id, key, slot, value, calls, cost_nanos, input_tokens,
    output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens)
SELECT g.user_id, g.key, g.ts - (((g.ts % 900000000) + 900000000) % 900000000), g.value,
    COUNT(*), CAST(SUM(e.cost_nanos) AS BIGINT), CAST(SUM(e.input_tokens) AS BIGINT),
    CAST(SUM(e.output_tokens) AS BIGINT), CAST(SUM(e.cached_input_tokens) AS BIGINT),
    CAST(SUM(e.cache_write_tokens) AS BIGINT), CAST(SUM(e.reasoning_tokens) AS BIGINT)
FROM event_tags g
JOIN events e ON e.id = g.event_id
GROUP BY 1, 2, 3, 4;
