-- A workspace's exchange rates: units of `currency` per US dollar in effect from `day`
-- (until a later day's), in billionths, exact. Amounts stay USD; reports convert.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE fx_rates (
        workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        currency TEXT NOT NULL,
        day DATE NOT NULL,
        units_per_usd_nanos BIGINT NOT NULL CHECK (units_per_usd_nanos > 0),
        PRIMARY KEY (workspace_id, currency, day)
    )';
END
$$;
