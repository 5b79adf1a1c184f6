-- A ranking of each much-used tag key's values over a window of whole UTC days (the
-- 30 days before a day start): each value's cost and calls there, read in cost order, so
-- the costliest values of a range near the window are found without adding up every
-- value. Built from `tag_rollups` on demand; a report corrects it by the slots its range
-- and the window do not share. `tag_ranking_marks` says what a ranking holds and the
-- workspace's count of late writes it was built at; `tag_late_writes` counts the writes
-- (events stored or re-priced) into slots before the day the writer is in, the only
-- writes that can change a built window: a ranking built at another count is not used.
--
-- One command per EXECUTE: on a sharded PostgreSQL (Citus) the tables are already
-- distributed, and Citus sends each schema change to the workers as the text it was
-- given, which must then hold that one command.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE tag_rankings (
        workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        cost_nanos BIGINT NOT NULL,
        calls BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, key, value)
    ) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02)';
    EXECUTE 'CREATE INDEX tag_rankings_order
        ON tag_rankings (workspace_id, key, cost_nanos DESC, calls DESC, value)';
    EXECUTE 'CREATE TABLE tag_ranking_marks (
        workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        from_slot BIGINT NOT NULL,
        to_slot BIGINT NOT NULL,
        built_at_late_writes BIGINT NOT NULL,
        values_count BIGINT NOT NULL,
        cost_nanos BIGINT NOT NULL,
        calls BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, key)
    )';
    EXECUTE 'CREATE TABLE tag_late_writes (
        workspace_id BIGINT NOT NULL PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
        writes BIGINT NOT NULL
    )';
END
$$;
