-- Sharding keys (the PostgreSQL twin makes every key of a tenant table lead with
-- `workspace_id` for a sharded PostgreSQL). SQLite keeps its keys; it gains what the
-- shared schema and the store's statements need: the workspace on the two tables that
-- did not carry it (taken from their parent), and unique indexes on the conflict
-- targets the statements now name. Adding a NOT NULL column without a default means
-- rebuilding the table (foreign keys off, one transaction), as SQLite prescribes.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE new_budget_channels (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    budget_id BIGINT NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, budget_id, channel_id)
);
INSERT INTO new_budget_channels (workspace_id, budget_id, channel_id)
    SELECT b.workspace_id, bc.budget_id, bc.channel_id
    FROM budget_channels bc JOIN budgets b ON b.id = bc.budget_id;
DROP TABLE budget_channels;
ALTER TABLE new_budget_channels RENAME TO budget_channels;
CREATE INDEX budget_channels_channel ON budget_channels (channel_id);

CREATE TABLE new_notification_deliveries (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    target TEXT NOT NULL,
    status_code INTEGER,
    ok BOOLEAN NOT NULL,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, notification_id, attempt)
);
INSERT INTO new_notification_deliveries (workspace_id, notification_id, channel_id, attempt,
                                         attempted_at, target, status_code, ok, error,
                                         duration_ms)
    SELECT n.workspace_id, d.notification_id, d.channel_id, d.attempt, d.attempted_at,
           d.target, d.status_code, d.ok, d.error, d.duration_ms
    FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id;
DROP TABLE notification_deliveries;
ALTER TABLE new_notification_deliveries RENAME TO notification_deliveries;
CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel_id, notification_id);

CREATE UNIQUE INDEX budget_alerts_occasion
    ON budget_alerts (workspace_id, budget_id, period_start, level);
CREATE UNIQUE INDEX notifications_occasion ON notifications (workspace_id, channel_id, dedup_key);

COMMIT;
PRAGMA foreign_keys = ON;
