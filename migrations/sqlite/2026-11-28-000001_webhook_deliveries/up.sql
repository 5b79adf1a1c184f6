-- Webhook delivery: when an alert is next due (a retry's backoff, or the lease of the
-- instance delivering it), and one row per attempt with its outcome.
ALTER TABLE budget_alerts ADD COLUMN next_attempt_at TIMESTAMP;

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES budget_alerts (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
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
CREATE INDEX webhook_deliveries_user ON webhook_deliveries (user_id, alert_id);
