DROP TABLE webhook_deliveries;
ALTER TABLE budget_alerts DROP COLUMN next_attempt_at;
