-- Email channels mail an address only after its owner confirmed it. Each address of an
-- email channel is a row with its consent, per channel (consent is given to what the
-- confirmation showed: that channel of that workspace). Ids are never reused, so a
-- confirmation link, signed over the id, can never confirm a later row.
CREATE TABLE channel_recipients (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    -- Whether the confirmation message has been recorded in the outbox.
    asked BOOLEAN NOT NULL DEFAULT FALSE,
    confirmed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, channel_id, address)
);
CREATE INDEX channel_recipients_channel ON channel_recipients (channel_id, id);
CREATE INDEX channel_recipients_unasked ON channel_recipients (id) WHERE NOT asked;

-- Addresses of channels made before confirmation existed: unconfirmed, not yet asked
-- (the scheduler sends their confirmation), in the order the channel lists them.
INSERT INTO channel_recipients (workspace_id, channel_id, address, asked, created_at)
SELECT c.workspace_id, c.id, a.address, FALSE, c.created_at
FROM channels c
CROSS JOIN LATERAL unnest(string_to_array(c.target, ',')) WITH ORDINALITY AS a (address, n)
WHERE c.kind = 'email' AND a.address <> ''
ORDER BY c.id, a.n;

-- Why a pending notification waits without an attempt: 'confirmation' (no address of
-- its email channel has confirmed) or 'hourly_limit' (the workspace's mail for this
-- hour is used up); NULL otherwise.
ALTER TABLE notifications ADD COLUMN held TEXT;

-- Per-workspace allowances, shared by every server instance: what a workspace has used
-- of each (`kind`: 'channel_test', 'email') in its current window, which began at
-- `window_start` (microseconds since the Unix epoch).
CREATE TABLE send_quota (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, kind)
);
