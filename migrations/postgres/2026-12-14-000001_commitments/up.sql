-- Commitments: an amount prepaid or committed to a provider (or to all of them) over a
-- period of days, `start_date` to `end_date` inclusive, in UTC. What is consumed is the
-- tracked spend in that scope and period, read from the ledger; nothing else is kept.
--
-- One command per EXECUTE: on a sharded PostgreSQL (Citus) the tables are already
-- distributed, and Citus sends each schema change to the workers as the text it was
-- given, which must then hold that one command.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE commitments (
        workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        id BIGSERIAL NOT NULL,
        name TEXT NOT NULL,
        provider TEXT,
        amount_nanos BIGINT NOT NULL,
        start_date DATE NOT NULL,
        end_date DATE NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (workspace_id, id),
        UNIQUE (workspace_id, name)
    )';
END
$$;
