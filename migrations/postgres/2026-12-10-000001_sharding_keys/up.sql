-- Sharding keys: every key of a tenant table leads with `workspace_id`, so that on a
-- sharded PostgreSQL (Citus) each table can be distributed by it, co-located with
-- `events`, and every primary key, unique constraint and foreign key between tenant
-- tables is enforced inside one shard. On one PostgreSQL the same keys cost nothing:
-- ids stay unique by their sequences, and the wider keys are what the queries filter by.
-- The two tables that did not carry the workspace take it from their parent.

ALTER TABLE budget_channels ADD COLUMN workspace_id BIGINT;
UPDATE budget_channels bc SET workspace_id = b.workspace_id FROM budgets b WHERE b.id = bc.budget_id;
ALTER TABLE budget_channels ALTER COLUMN workspace_id SET NOT NULL;

ALTER TABLE notification_deliveries ADD COLUMN workspace_id BIGINT;
UPDATE notification_deliveries d SET workspace_id = n.workspace_id
    FROM notifications n WHERE n.id = d.notification_id;
ALTER TABLE notification_deliveries ALTER COLUMN workspace_id SET NOT NULL;

-- Foreign keys between tenant tables go first: they hang on the keys replaced below.
ALTER TABLE event_tags DROP CONSTRAINT event_tags_event_id_fkey;
ALTER TABLE budget_alerts DROP CONSTRAINT budget_alerts_budget_id_fkey;
ALTER TABLE channels DROP CONSTRAINT channels_budget_id_fkey;
ALTER TABLE budget_channels DROP CONSTRAINT budget_channels_budget_id_fkey;
ALTER TABLE budget_channels DROP CONSTRAINT budget_channels_channel_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_alert_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_channel_id_fkey;
ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_notification_id_fkey;
ALTER TABLE channel_recipients DROP CONSTRAINT channel_recipients_channel_id_fkey;

ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (workspace_id, id);
ALTER TABLE event_tags DROP CONSTRAINT event_tags_pkey,
    ADD PRIMARY KEY (workspace_id, event_id, key);
ALTER TABLE budgets DROP CONSTRAINT budgets_pkey, ADD PRIMARY KEY (workspace_id, id);
ALTER TABLE budget_alerts DROP CONSTRAINT budget_alerts_pkey, ADD PRIMARY KEY (workspace_id, id);
ALTER TABLE budget_alerts DROP CONSTRAINT budget_alerts_budget_id_period_start_level_key,
    ADD UNIQUE (workspace_id, budget_id, period_start, level);
ALTER TABLE custom_prices DROP CONSTRAINT custom_prices_pkey, ADD PRIMARY KEY (workspace_id, id);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey, ADD PRIMARY KEY (workspace_id, id);
ALTER TABLE reprice_runs DROP CONSTRAINT reprice_runs_pkey, ADD PRIMARY KEY (workspace_id, id);
ALTER TABLE channels DROP CONSTRAINT channels_pkey, ADD PRIMARY KEY (workspace_id, id);
ALTER TABLE budget_channels DROP CONSTRAINT budget_channels_pkey,
    ADD PRIMARY KEY (workspace_id, budget_id, channel_id);
ALTER TABLE notifications DROP CONSTRAINT notifications_pkey, ADD PRIMARY KEY (workspace_id, id);
ALTER TABLE notifications DROP CONSTRAINT notifications_channel_id_dedup_key_key,
    ADD UNIQUE (workspace_id, channel_id, dedup_key);
ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_pkey,
    ADD PRIMARY KEY (workspace_id, notification_id, attempt);
ALTER TABLE channel_recipients DROP CONSTRAINT channel_recipients_pkey,
    ADD PRIMARY KEY (workspace_id, id);

ALTER TABLE event_tags ADD FOREIGN KEY (workspace_id, event_id)
    REFERENCES events (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE budget_alerts ADD FOREIGN KEY (workspace_id, budget_id)
    REFERENCES budgets (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE channels ADD FOREIGN KEY (workspace_id, budget_id)
    REFERENCES budgets (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE budget_channels ADD FOREIGN KEY (workspace_id, budget_id)
    REFERENCES budgets (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE budget_channels ADD FOREIGN KEY (workspace_id, channel_id)
    REFERENCES channels (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE notifications ADD FOREIGN KEY (workspace_id, alert_id)
    REFERENCES budget_alerts (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE notifications ADD FOREIGN KEY (workspace_id, channel_id)
    REFERENCES channels (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE notification_deliveries ADD FOREIGN KEY (workspace_id, notification_id)
    REFERENCES notifications (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE channel_recipients ADD FOREIGN KEY (workspace_id, channel_id)
    REFERENCES channels (workspace_id, id) ON DELETE CASCADE;
-- A tenant table's rows go with their workspace, as every other tenant table's do.
ALTER TABLE budget_channels ADD FOREIGN KEY (workspace_id)
    REFERENCES workspaces (id) ON DELETE CASCADE;
ALTER TABLE notification_deliveries ADD FOREIGN KEY (workspace_id)
    REFERENCES workspaces (id) ON DELETE CASCADE;
