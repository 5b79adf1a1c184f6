-- One command per EXECUTE, as in up.sql.
DO $$
BEGIN
    EXECUTE 'DROP INDEX notifications_queue';
    EXECUTE 'CREATE INDEX notifications_due ON notifications (status, next_attempt_at)';
END
$$;
