ALTER TABLE budget_channels DROP CONSTRAINT budget_channels_workspace_id_fkey;
ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_workspace_id_fkey;
ALTER TABLE event_tags DROP CONSTRAINT event_tags_workspace_id_event_id_fkey;
ALTER TABLE budget_alerts DROP CONSTRAINT budget_alerts_workspace_id_budget_id_fkey;
ALTER TABLE channels DROP CONSTRAINT channels_workspace_id_budget_id_fkey;
ALTER TABLE budget_channels DROP CONSTRAINT budget_channels_workspace_id_budget_id_fkey;
ALTER TABLE budget_channels DROP CONSTRAINT budget_channels_workspace_id_channel_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_workspace_id_alert_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_workspace_id_channel_id_fkey;
ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_workspace_id_notification_id_fkey;
ALTER TABLE channel_recipients DROP CONSTRAINT channel_recipients_workspace_id_channel_id_fkey;

ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (id);
ALTER TABLE event_tags DROP CONSTRAINT event_tags_pkey, ADD PRIMARY KEY (event_id, key);
ALTER TABLE budgets DROP CONSTRAINT budgets_pkey, ADD PRIMARY KEY (id);
ALTER TABLE budget_alerts DROP CONSTRAINT budget_alerts_pkey, ADD PRIMARY KEY (id);
ALTER TABLE budget_alerts DROP CONSTRAINT budget_alerts_workspace_id_budget_id_period_start_level_key,
    ADD CONSTRAINT budget_alerts_budget_id_period_start_level_key UNIQUE (budget_id, period_start, level);
ALTER TABLE custom_prices DROP CONSTRAINT custom_prices_pkey, ADD PRIMARY KEY (id);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey, ADD PRIMARY KEY (id);
ALTER TABLE reprice_runs DROP CONSTRAINT reprice_runs_pkey, ADD PRIMARY KEY (id);
ALTER TABLE channels DROP CONSTRAINT channels_pkey, ADD PRIMARY KEY (id);
ALTER TABLE budget_channels DROP CONSTRAINT budget_channels_pkey, ADD PRIMARY KEY (budget_id, channel_id);
ALTER TABLE notifications DROP CONSTRAINT notifications_pkey, ADD PRIMARY KEY (id);
ALTER TABLE notifications DROP CONSTRAINT notifications_workspace_id_channel_id_dedup_key_key,
    ADD CONSTRAINT notifications_channel_id_dedup_key_key UNIQUE (channel_id, dedup_key);
ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_pkey,
    ADD PRIMARY KEY (notification_id, attempt);
ALTER TABLE channel_recipients DROP CONSTRAINT channel_recipients_pkey, ADD PRIMARY KEY (id);

ALTER TABLE event_tags ADD CONSTRAINT event_tags_event_id_fkey FOREIGN KEY (event_id)
    REFERENCES events (id) ON DELETE CASCADE;
ALTER TABLE budget_alerts ADD CONSTRAINT budget_alerts_budget_id_fkey FOREIGN KEY (budget_id)
    REFERENCES budgets (id) ON DELETE CASCADE;
ALTER TABLE channels ADD CONSTRAINT channels_budget_id_fkey FOREIGN KEY (budget_id)
    REFERENCES budgets (id) ON DELETE CASCADE;
ALTER TABLE budget_channels ADD CONSTRAINT budget_channels_budget_id_fkey FOREIGN KEY (budget_id)
    REFERENCES budgets (id) ON DELETE CASCADE;
ALTER TABLE budget_channels ADD CONSTRAINT budget_channels_channel_id_fkey FOREIGN KEY (channel_id)
    REFERENCES channels (id) ON DELETE CASCADE;
ALTER TABLE notifications ADD CONSTRAINT notifications_alert_id_fkey FOREIGN KEY (alert_id)
    REFERENCES budget_alerts (id) ON DELETE CASCADE;
ALTER TABLE notifications ADD CONSTRAINT notifications_channel_id_fkey FOREIGN KEY (channel_id)
    REFERENCES channels (id) ON DELETE CASCADE;
ALTER TABLE notification_deliveries ADD CONSTRAINT notification_deliveries_notification_id_fkey
    FOREIGN KEY (notification_id) REFERENCES notifications (id) ON DELETE CASCADE;
ALTER TABLE channel_recipients ADD CONSTRAINT channel_recipients_channel_id_fkey FOREIGN KEY (channel_id)
    REFERENCES channels (id) ON DELETE CASCADE;

ALTER TABLE budget_channels DROP COLUMN workspace_id;
ALTER TABLE notification_deliveries DROP COLUMN workspace_id;
