-- Provider cost reports imported for reconciliation: one row per file, known by the
-- SHA-256 of its content, so importing the same file again changes nothing.
--
-- One command per EXECUTE: on a sharded PostgreSQL (Citus) the tables are already
-- distributed, and Citus sends each schema change to the workers as the text it was
-- given, which must then hold that one command.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE billing_imports (
        workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        id BIGSERIAL NOT NULL,
        format TEXT NOT NULL,
        provider TEXT,
        content_sha256 TEXT NOT NULL,
        start_date DATE NOT NULL,
        end_date DATE NOT NULL,
        rows_read INTEGER NOT NULL,
        billed_nanos BIGINT NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (workspace_id, id),
        UNIQUE (workspace_id, content_sha256)
    )';
END
$$;
