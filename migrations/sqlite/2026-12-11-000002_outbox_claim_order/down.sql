DROP INDEX notifications_queue;
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
