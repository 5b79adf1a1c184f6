-- The rows of one tag key in the order of its values: a report by tag (`by_tag`) adds
-- each value up as the index hands its rows over, instead of hashing every row of the
-- range (which spilled to disk at 100,000 values). The sums ride along in the index so
-- the heap is not read.
--
-- One command per EXECUTE: on a sharded PostgreSQL (Citus) the table is already
-- distributed, and Citus sends each schema change to the workers as the text it was
-- given, which must then hold that one command.
DO $$
BEGIN
    EXECUTE 'CREATE INDEX tag_rollups_by_value ON tag_rollups (workspace_id, key, value, slot)
        INCLUDE (cost_nanos, calls)';
END
$$;
