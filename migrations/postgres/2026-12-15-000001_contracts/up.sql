-- Contracts: a negotiated discount off catalog prices, for a provider and optionally the
-- models whose name starts with `model_prefix`, from `effective_from` to `effective_to`
-- (days in UTC, inclusive) and before `ended_at` once ended. Rows are never changed but
-- to end them, so the events they priced can name them.
--
-- One command per EXECUTE: on a sharded PostgreSQL (Citus) the tables are already
-- distributed, and Citus sends each schema change to the workers as the text it was
-- given, which must then hold that one command.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE contracts (
        workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        id BIGSERIAL NOT NULL,
        name TEXT NOT NULL,
        provider TEXT NOT NULL,
        model_prefix TEXT,
        discount_bp INTEGER NOT NULL CHECK (discount_bp BETWEEN 0 AND 10000),
        effective_from DATE NOT NULL,
        effective_to DATE,
        ended_at TIMESTAMP,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (workspace_id, id),
        UNIQUE (workspace_id, name)
    )';
END
$$;
