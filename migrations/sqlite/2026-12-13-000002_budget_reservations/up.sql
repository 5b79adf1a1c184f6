-- Reservations on hard budgets: see the PostgreSQL twin.
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
