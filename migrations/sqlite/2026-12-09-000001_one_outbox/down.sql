-- Back to two outboxes: each budget's webhook URL on the budget again, each alert's
-- delivery state on the alert and its attempts in webhook_deliveries, from the
-- notifications of the budget's own channel; then those channels go, and channels and
-- notifications are rebuilt in their earlier shape (rowid ids again).
PRAGMA foreign_keys = OFF;
BEGIN;

ALTER TABLE budgets ADD COLUMN webhook_url TEXT;
UPDATE budgets SET webhook_url =
    (SELECT NULLIF(c.target, '') FROM channels c WHERE c.budget_id = budgets.id);

CREATE TABLE new_budget_alerts (
    id INTEGER PRIMARY KEY,
    budget_id BIGINT NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL,
    period_start BIGINT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('warning', 'exceeded')),
    spent_nanos BIGINT NOT NULL,
    amount_nanos BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    delivery_status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TIMESTAMP,
    last_error TEXT,
    next_attempt_at TIMESTAMP,
    UNIQUE (budget_id, period_start, level)
);
INSERT INTO new_budget_alerts (id, budget_id, workspace_id, period_start, level, spent_nanos,
                               amount_nanos, created_at, delivery_status, attempts,
                               last_attempt_at, last_error, next_attempt_at)
    SELECT a.id, a.budget_id, a.workspace_id, a.period_start, a.level, a.spent_nanos,
           a.amount_nanos, a.created_at, COALESCE(n.status, 'none'), COALESCE(n.attempts, 0),
           (SELECT MAX(d.attempted_at) FROM notification_deliveries d
            WHERE d.notification_id = n.id),
           n.last_error, n.next_attempt_at
    FROM budget_alerts a LEFT JOIN notifications n ON n.alert_id = a.id;
DROP TABLE budget_alerts;
ALTER TABLE new_budget_alerts RENAME TO budget_alerts;
CREATE INDEX budget_alerts_delivery ON budget_alerts (delivery_status, id);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES budget_alerts (id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    url TEXT NOT NULL,
    status_code INTEGER,
    ok BOOLEAN NOT NULL,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    -- One record per attempt, even if two instances raced for the same alert.
    UNIQUE (alert_id, attempt)
);
CREATE INDEX webhook_deliveries_user ON webhook_deliveries (workspace_id, alert_id);
INSERT INTO webhook_deliveries (alert_id, workspace_id, attempt, attempted_at, url, status_code,
                                ok, error, duration_ms)
    SELECT n.alert_id, n.workspace_id, d.attempt, d.attempted_at, d.target, d.status_code, d.ok,
           d.error, d.duration_ms
    FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
    WHERE n.alert_id IS NOT NULL
    ORDER BY n.alert_id, d.attempt;

-- Foreign keys are off: what the budgets' channels cascade to goes by hand.
DELETE FROM notification_deliveries WHERE notification_id IN
    (SELECT n.id FROM notifications n JOIN channels c ON c.id = n.channel_id
     WHERE c.budget_id IS NOT NULL);
DELETE FROM notifications WHERE channel_id IN
    (SELECT id FROM channels WHERE budget_id IS NOT NULL);
DELETE FROM channels WHERE budget_id IS NOT NULL;

CREATE TABLE new_channels (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    -- The URL (webhook, slack) or the comma-separated addresses (email).
    target TEXT NOT NULL,
    -- Comma-separated subscriptions: budget, forecast, anomaly, unpriced,
    -- report_weekly, report_monthly.
    events TEXT NOT NULL,
    created_by BIGINT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, name)
);
INSERT INTO new_channels (id, workspace_id, name, kind, target, events, created_by, created_at)
    SELECT id, workspace_id, name, kind, target, events, created_by, created_at FROM channels;
DROP TABLE channels;
ALTER TABLE new_channels RENAME TO channels;

CREATE TABLE new_notifications (
    id INTEGER PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    held TEXT,
    UNIQUE (channel_id, dedup_key)
);
INSERT INTO new_notifications (id, workspace_id, channel_id, event, dedup_key, payload_json,
                               status, attempts, next_attempt_at, last_error, created_at, held)
    SELECT id, workspace_id, channel_id, event, dedup_key, payload_json,
           status, attempts, next_attempt_at, last_error, created_at, held FROM notifications;
DROP TABLE notifications;
ALTER TABLE new_notifications RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);

DELETE FROM sqlite_sequence WHERE name IN ('channels', 'notifications');

COMMIT;
PRAGMA foreign_keys = ON;
