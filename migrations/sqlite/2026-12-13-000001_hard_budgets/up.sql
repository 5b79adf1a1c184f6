-- Hard budgets and their reservations: see the PostgreSQL twin.
ALTER TABLE budgets ADD COLUMN enforce TEXT NOT NULL DEFAULT 'alert';
CREATE TABLE budget_reservations (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    reservation_id TEXT NOT NULL,
    budget_id BIGINT NOT NULL,
    amount_nanos BIGINT NOT NULL,
    -- Microseconds since the epoch.
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, reservation_id, budget_id)
);
CREATE INDEX budget_reservations_live ON budget_reservations (workspace_id, budget_id, expires_at);
