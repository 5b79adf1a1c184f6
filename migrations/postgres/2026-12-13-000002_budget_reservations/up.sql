-- A reservation holds its call's worst-case cost against each hard budget that covers
-- the call, one row per budget, until the call's event settles it (deletes its rows in
-- the transaction that stores the event), it is released, or `expires_at` (microseconds
-- since the epoch) passes. No foreign key to `budgets`: deleting a budget deletes its
-- rows in the same transaction, and an old row of a deleted budget is never read (reads
-- name the budgets they want).
--
-- One command per EXECUTE: on a sharded PostgreSQL (Citus) the tables are already
-- distributed, and Citus sends each schema change to the workers as the text it was
-- given, which must then hold that one command.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE budget_reservations (
        workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        reservation_id TEXT NOT NULL,
        budget_id BIGINT NOT NULL,
        amount_nanos BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, reservation_id, budget_id)
    )';
    EXECUTE 'CREATE INDEX budget_reservations_live
        ON budget_reservations (workspace_id, budget_id, expires_at)';
END
$$;
