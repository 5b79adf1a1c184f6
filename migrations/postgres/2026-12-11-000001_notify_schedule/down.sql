-- One command per EXECUTE, as in up.sql.
DO $$
BEGIN
    EXECUTE 'DROP INDEX budget_alerts_unnotified';
    EXECUTE 'ALTER TABLE budget_alerts DROP COLUMN notified';
    EXECUTE 'DROP TABLE notify_schedule';
END
$$;
