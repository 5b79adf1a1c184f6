DROP TABLE notification_deliveries;
DROP TABLE notifications;
DROP TABLE budget_channels;
DROP TABLE channels;
ALTER TABLE workspaces DROP COLUMN timezone;
