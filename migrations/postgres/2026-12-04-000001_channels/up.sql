-- Notification channels: where a workspace's alerts and reports go (a signed webhook, a
-- Slack incoming webhook, email addresses), what each subscribes to, and an outbox of
-- notifications with every delivery attempt.

-- Reports (Monday 09:00, the 1st 09:00) follow the workspace's calendar.
ALTER TABLE workspaces ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';

CREATE TABLE channels (
    id BIGSERIAL PRIMARY KEY,
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

-- Channels a budget's alerts go to besides those subscribed to `budget`.
CREATE TABLE budget_channels (
    budget_id BIGINT NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (budget_id, channel_id)
);
CREATE INDEX budget_channels_channel ON budget_channels (channel_id);

-- One row per thing to tell a channel. `dedup_key` names the occasion (a budget alert,
-- a budget's period, a day, a report's period): the unique constraint sends each once
-- per channel whatever the number of instances.
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
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
    UNIQUE (channel_id, dedup_key)
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);

CREATE TABLE notification_deliveries (
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
CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel_id, notification_id);
