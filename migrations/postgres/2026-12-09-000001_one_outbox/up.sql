-- One outbox. A budget's webhook becomes a channel of its own (channels.budget_id), so
-- its alerts are notifications like any other: claimed from `notifications`, every
-- attempt in `notification_deliveries`, by one worker. `webhook_deliveries`,
-- `budgets.webhook_url` and the delivery columns of `budget_alerts` go; an alert's
-- delivery is its notification on the budget's channel (notifications.alert_id).

-- The budget whose webhook a channel is (its alerts only); NULL for the channels the
-- workspace manages, whose names stay unique among themselves. A budget's own channel
-- has target '' while the budget has no webhook.
ALTER TABLE channels ADD COLUMN budget_id BIGINT REFERENCES budgets (id) ON DELETE CASCADE;
ALTER TABLE channels ADD CONSTRAINT channels_workspace_id_budget_id_key
    UNIQUE (workspace_id, budget_id);
ALTER TABLE channels DROP CONSTRAINT channels_workspace_id_name_key;
CREATE UNIQUE INDEX channels_name ON channels (workspace_id, name) WHERE budget_id IS NULL;

-- The alert a budget's own channel delivers (its webhook's body is made from it), and
-- 'cancelled': a budget's webhook removed before delivery.
ALTER TABLE notifications
    ADD COLUMN alert_id BIGINT REFERENCES budget_alerts (id) ON DELETE CASCADE;
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'delivering', 'delivered', 'failed', 'cancelled'));
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
ALTER TABLE budget_alerts
    DROP COLUMN delivery_status,
    DROP COLUMN attempts,
    DROP COLUMN last_attempt_at,
    DROP COLUMN last_error,
    DROP COLUMN next_attempt_at;
ALTER TABLE budgets DROP COLUMN webhook_url;
