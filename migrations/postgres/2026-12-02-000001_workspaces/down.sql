-- Back to one tenant per user: each personal workspace's data returns to its owner; the
-- data of shared workspaces has no user to return to and is deleted with them.
DELETE FROM workspaces WHERE personal_of IS NULL;
ALTER TABLE users ADD COLUMN prices_version BIGINT NOT NULL DEFAULT 0;
UPDATE users SET prices_version = w.prices_version FROM workspaces w WHERE w.personal_of = users.id;

-- Personal workspaces made after the upgrade have ids of their own: map them back.
CREATE TEMPORARY TABLE workspace_owner AS
SELECT id AS workspace_id, personal_of AS user_id FROM workspaces;

ALTER TABLE api_keys DROP CONSTRAINT api_keys_workspace_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_workspace_id_fkey;
ALTER TABLE budgets DROP CONSTRAINT budgets_workspace_id_fkey;
ALTER TABLE custom_prices DROP CONSTRAINT custom_prices_workspace_id_fkey;
ALTER TABLE event_rollups DROP CONSTRAINT event_rollups_workspace_id_fkey;
ALTER TABLE tag_rollups DROP CONSTRAINT tag_rollups_workspace_id_fkey;
ALTER TABLE ledger_totals DROP CONSTRAINT ledger_totals_workspace_id_fkey;

UPDATE api_keys t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
UPDATE events t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
UPDATE event_tags t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
UPDATE budgets t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
UPDATE budget_alerts t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
UPDATE webhook_deliveries t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
UPDATE custom_prices t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
UPDATE event_rollups t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
UPDATE tag_rollups t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
UPDATE ledger_totals t SET workspace_id = o.user_id FROM workspace_owner o
WHERE t.workspace_id = o.workspace_id AND o.workspace_id <> o.user_id;
DROP TABLE workspace_owner;

ALTER TABLE api_keys DROP COLUMN created_by;
ALTER TABLE api_keys DROP COLUMN tags_json;
ALTER TABLE api_keys RENAME COLUMN workspace_id TO user_id;
ALTER TABLE api_keys ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE events RENAME COLUMN workspace_id TO user_id;
ALTER TABLE events ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE event_tags RENAME COLUMN workspace_id TO user_id;
ALTER TABLE budgets RENAME COLUMN workspace_id TO user_id;
ALTER TABLE budgets ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE budget_alerts RENAME COLUMN workspace_id TO user_id;
ALTER TABLE webhook_deliveries RENAME COLUMN workspace_id TO user_id;
ALTER TABLE custom_prices RENAME COLUMN workspace_id TO user_id;
ALTER TABLE custom_prices ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE event_rollups RENAME COLUMN workspace_id TO user_id;
ALTER TABLE event_rollups ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE tag_rollups RENAME COLUMN workspace_id TO user_id;
ALTER TABLE tag_rollups ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE ledger_totals RENAME COLUMN workspace_id TO user_id;
ALTER TABLE ledger_totals ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;

DROP TABLE audit_log;
DROP TABLE workspace_members;
DROP TABLE workspaces;
