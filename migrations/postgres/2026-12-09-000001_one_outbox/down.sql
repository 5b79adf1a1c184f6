-- Back to two outboxes: each budget's webhook URL on the budget again, each alert's
-- delivery state on the alert and its attempts in webhook_deliveries, from the
-- notifications of the budget's own channel; then those channels go (their
-- notifications and attempts with them).
ALTER TABLE budgets ADD COLUMN webhook_url TEXT;
UPDATE budgets b SET webhook_url = NULLIF(c.target, '')
    FROM channels c WHERE c.budget_id = b.id;

ALTER TABLE budget_alerts
    ADD COLUMN delivery_status TEXT NOT NULL DEFAULT 'none',
    ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN last_attempt_at TIMESTAMP,
    ADD COLUMN last_error TEXT,
    ADD COLUMN next_attempt_at TIMESTAMP;
ALTER TABLE budget_alerts ALTER COLUMN delivery_status DROP DEFAULT;
UPDATE budget_alerts a
    SET delivery_status = n.status, attempts = n.attempts, last_error = n.last_error,
        next_attempt_at = n.next_attempt_at,
        last_attempt_at = (SELECT MAX(d.attempted_at) FROM notification_deliveries d
                           WHERE d.notification_id = n.id)
    FROM notifications n WHERE n.alert_id = a.id;
CREATE INDEX budget_alerts_delivery ON budget_alerts (delivery_status, id);

CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
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

DELETE FROM channels WHERE budget_id IS NOT NULL;

DROP INDEX notifications_alert;
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'delivering', 'delivered', 'failed'));
ALTER TABLE notifications DROP COLUMN alert_id;

DROP INDEX channels_name;
ALTER TABLE channels ADD CONSTRAINT channels_workspace_id_name_key UNIQUE (workspace_id, name);
ALTER TABLE channels DROP CONSTRAINT channels_workspace_id_budget_id_key;
ALTER TABLE channels DROP COLUMN budget_id;
