-- What the provider billed per UTC day, provider and model ('' when the report does not
-- say), as the latest import of that day and provider states it: an import replaces the
-- rows earlier imports had for the days and providers it covers.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE billed_costs (
        workspace_id BIGINT NOT NULL,
        import_id BIGINT NOT NULL,
        day DATE NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        billed_nanos BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, day, provider, model),
        FOREIGN KEY (workspace_id, import_id) REFERENCES billing_imports (workspace_id, id)
            ON DELETE CASCADE
    )';
END
$$;
