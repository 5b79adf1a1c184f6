PRAGMA foreign_keys = OFF;
BEGIN;

DROP INDEX notifications_occasion;
DROP INDEX budget_alerts_occasion;

CREATE TABLE old_notification_deliveries (
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    target TEXT NOT NULL,
    status_code INTEGER,
    ok BOOLEAN NOT NULL,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (notification_id, attempt)
);
INSERT INTO old_notification_deliveries (notification_id, channel_id, attempt, attempted_at,
                                         target, status_code, ok, error, duration_ms)
    SELECT notification_id, channel_id, attempt, attempted_at, target, status_code, ok, error,
           duration_ms
    FROM notification_deliveries;
DROP TABLE notification_deliveries;
ALTER TABLE old_notification_deliveries RENAME TO notification_deliveries;
CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel_id, notification_id);

CREATE TABLE old_budget_channels (
    budget_id BIGINT NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (budget_id, channel_id)
);
INSERT INTO old_budget_channels (budget_id, channel_id)
    SELECT budget_id, channel_id FROM budget_channels;
DROP TABLE budget_channels;
ALTER TABLE old_budget_channels RENAME TO budget_channels;
CREATE INDEX budget_channels_channel ON budget_channels (channel_id);

COMMIT;
PRAGMA foreign_keys = ON;
