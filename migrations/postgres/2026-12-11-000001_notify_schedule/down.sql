DROP INDEX budget_alerts_unnotified;
ALTER TABLE budget_alerts DROP COLUMN notified;
DROP TABLE notify_schedule;
