-- The notification schedule and alerts' `notified`: see the PostgreSQL twin.
CREATE TABLE notify_schedule (
    workspace_id BIGINT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Microseconds since the epoch.
    due_at BIGINT NOT NULL,
    changed BOOLEAN NOT NULL
);
CREATE INDEX notify_schedule_due ON notify_schedule (due_at);
ALTER TABLE budget_alerts ADD COLUMN notified BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX budget_alerts_unnotified ON budget_alerts (created_at) WHERE NOT notified;
