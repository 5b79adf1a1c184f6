-- Exchange rates: see the PostgreSQL twin.
CREATE TABLE fx_rates (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    currency TEXT NOT NULL,
    day DATE NOT NULL,
    units_per_usd_nanos BIGINT NOT NULL CHECK (units_per_usd_nanos > 0),
    PRIMARY KEY (workspace_id, currency, day)
);
