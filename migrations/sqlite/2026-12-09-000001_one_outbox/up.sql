-- One outbox. A budget's webhook becomes a channel of its own (channels.budget_id), so
-- its alerts are notifications like any other: claimed from `notifications`, every
-- attempt in `notification_deliveries`, by one worker. `webhook_deliveries`,
-- `budgets.webhook_url` and the delivery columns of `budget_alerts` go; an alert's
-- delivery is its notification on the budget's channel (notifications.alert_id).
--
-- Names stay unique among the channels a workspace manages; a budget's channel is not
-- one of them. Changing a table's constraints on SQLite means rebuilding it (foreign
-- keys off, one transaction, new table, copy, drop, rename, as SQLite's documentation
-- prescribes): hence `run_in_transaction = false`. The rebuilt tables take
-- AUTOINCREMENT, so their ids are never handed out twice.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE new_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    -- The URL (webhook, slack) or the comma-separated addresses (email); for a budget's
    -- own channel, '' while the budget has no webhook.
    target TEXT NOT NULL,
    -- Comma-separated subscriptions: budget, forecast, anomaly, unpriced,
    -- report_weekly, report_monthly.
    events TEXT NOT NULL,
    created_by BIGINT,
    created_at TIMESTAMP NOT NULL,
    -- The budget whose webhook this channel is (its alerts only); NULL for the channels
    -- the workspace manages.
    budget_id BIGINT REFERENCES budgets (id) ON DELETE CASCADE,
    UNIQUE (workspace_id, budget_id)
);
INSERT INTO new_channels (id, workspace_id, name, kind, target, events, created_by, created_at)
    SELECT id, workspace_id, name, kind, target, events, created_by, created_at FROM channels;
DROP TABLE channels;
ALTER TABLE new_channels RENAME TO channels;
CREATE UNIQUE INDEX channels_name ON channels (workspace_id, name) WHERE budget_id IS NULL;

CREATE TABLE new_notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    -- 'cancelled': a budget's webhook removed before delivery.
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'delivering', 'delivered', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    held TEXT,
    -- The alert a budget's own channel delivers (its webhook's body is made from it).
    alert_id BIGINT REFERENCES budget_alerts (id) ON DELETE CASCADE,
    UNIQUE (channel_id, dedup_key)
);
INSERT INTO new_notifications (id, workspace_id, channel_id, event, dedup_key, payload_json,
                               status, attempts, next_attempt_at, last_error, created_at, held)
    SELECT id, workspace_id, channel_id, event, dedup_key, payload_json,
           status, attempts, next_attempt_at, last_error, created_at, held FROM notifications;
DROP TABLE notifications;
ALTER TABLE new_notifications RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_alert ON notifications (alert_id) WHERE alert_id IS NOT NULL;

-- Each budget with a webhook, or with alerts that were meant for one (a webhook since
-- removed), gets its channel.
INSERT INTO channels (workspace_id, name, kind, target, events, created_by, created_at, budget_id)
    SELECT b.workspace_id, 'webhook of budget ' || b.id, 'webhook', COALESCE(b.webhook_url, ''),
           'budget', NULL, b.created_at, b.id
    FROM budgets b
    WHERE b.webhook_url IS NOT NULL
       OR EXISTS (SELECT 1 FROM budget_alerts a
                  WHERE a.budget_id = b.id AND a.delivery_status <> 'none')
    ORDER BY b.id;

-- Every alert that was meant for the webhook, with its delivery state; a pending one
-- goes out from the outbox where the old worker left it.
INSERT INTO notifications (workspace_id, channel_id, event, dedup_key, payload_json, status,
                           attempts, next_attempt_at, last_error, created_at, alert_id)
    SELECT a.workspace_id, c.id, 'budget', 'budget:' || a.id, '{}', a.delivery_status,
           a.attempts, a.next_attempt_at, a.last_error, a.created_at, a.id
    FROM budget_alerts a JOIN channels c ON c.budget_id = a.budget_id
    WHERE a.delivery_status <> 'none'
    ORDER BY a.id;

INSERT INTO notification_deliveries (notification_id, channel_id, attempt, attempted_at, target,
                                     status_code, ok, error, duration_ms)
    SELECT n.id, n.channel_id, d.attempt, d.attempted_at, d.url, d.status_code, d.ok, d.error,
           d.duration_ms
    FROM webhook_deliveries d JOIN notifications n ON n.alert_id = d.alert_id
    ORDER BY d.alert_id, d.attempt;

DROP TABLE webhook_deliveries;
DROP INDEX budget_alerts_delivery;
ALTER TABLE budget_alerts DROP COLUMN delivery_status;
ALTER TABLE budget_alerts DROP COLUMN attempts;
ALTER TABLE budget_alerts DROP COLUMN last_attempt_at;
ALTER TABLE budget_alerts DROP COLUMN last_error;
ALTER TABLE budget_alerts DROP COLUMN next_attempt_at;
ALTER TABLE budgets DROP COLUMN webhook_url;

COMMIT;
PRAGMA foreign_keys = ON;
