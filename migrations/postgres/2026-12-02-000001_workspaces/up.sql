-- Workspaces: the tenant. Every resource that belonged to a user now belongs to a
-- workspace; each existing user gets a personal workspace holding all of their data.
-- The personal workspaces take their owners' ids, so no row of the (large) event tables
-- is rewritten: only the column's name and its foreign key change.
CREATE TABLE workspaces (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    -- The user whose personal workspace this is (it cannot be deleted); NULL for others.
    personal_of BIGINT UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    -- Bumped with every change to the workspace's custom prices (was users.prices_version).
    prices_version BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id, workspace_id);

-- Append-only: written in the transaction of the change it records.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key')),
    actor_id BIGINT NOT NULL,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    details_json TEXT NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id);

INSERT INTO workspaces (id, name, personal_of, prices_version, created_at)
SELECT id, 'Personal', id, prices_version, created_at FROM users;
SELECT setval(pg_get_serial_sequence('workspaces', 'id'), COALESCE(MAX(id), 0) + 1, false)
FROM workspaces;
INSERT INTO workspace_members (workspace_id, user_id, role, added_at)
SELECT id, id, 'owner', created_at FROM users;
ALTER TABLE users DROP COLUMN prices_version;

ALTER TABLE api_keys RENAME COLUMN user_id TO workspace_id;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_user_id_fkey;
ALTER TABLE api_keys ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
-- Who created the key (NULL once that user is gone) and the tags stamped on its events.
ALTER TABLE api_keys ADD COLUMN created_by BIGINT REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE api_keys ADD COLUMN tags_json TEXT NOT NULL DEFAULT '{}';
UPDATE api_keys SET created_by = workspace_id;

ALTER TABLE events RENAME COLUMN user_id TO workspace_id;
ALTER TABLE events DROP CONSTRAINT events_user_id_fkey;
ALTER TABLE events ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;

ALTER TABLE event_tags RENAME COLUMN user_id TO workspace_id;

ALTER TABLE budgets RENAME COLUMN user_id TO workspace_id;
ALTER TABLE budgets DROP CONSTRAINT budgets_user_id_fkey;
ALTER TABLE budgets ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;

ALTER TABLE budget_alerts RENAME COLUMN user_id TO workspace_id;
ALTER TABLE webhook_deliveries RENAME COLUMN user_id TO workspace_id;

ALTER TABLE custom_prices RENAME COLUMN user_id TO workspace_id;
ALTER TABLE custom_prices DROP CONSTRAINT custom_prices_user_id_fkey;
ALTER TABLE custom_prices ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;

ALTER TABLE event_rollups RENAME COLUMN user_id TO workspace_id;
ALTER TABLE event_rollups DROP CONSTRAINT event_rollups_user_id_fkey;
ALTER TABLE event_rollups ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;

ALTER TABLE tag_rollups RENAME COLUMN user_id TO workspace_id;
ALTER TABLE tag_rollups DROP CONSTRAINT tag_rollups_user_id_fkey;
ALTER TABLE tag_rollups ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;

ALTER TABLE ledger_totals RENAME COLUMN user_id TO workspace_id;
ALTER TABLE ledger_totals DROP CONSTRAINT ledger_totals_user_id_fkey;
ALTER TABLE ledger_totals ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
