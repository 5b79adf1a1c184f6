-- What the provider billed per UTC day, provider and model: see the PostgreSQL twin.
CREATE TABLE billed_costs (
    workspace_id BIGINT NOT NULL,
    import_id BIGINT NOT NULL REFERENCES billing_imports (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    billed_nanos BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, day, provider, model)
);
