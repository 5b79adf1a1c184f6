-- The outbox's queue in claim order: a delivering instance reads the first due rows by
-- id instead of sorting every pending row, however long the backlog. The states are
-- spelled as the queries spell them, so the planners can match this condition. It
-- replaces the index on (status, next_attempt_at), which only the claim used and which
-- led the planners to sort the whole backlog for every claim.
DROP INDEX notifications_due;
CREATE INDEX notifications_queue ON notifications (id)
    WHERE status IN ('pending', 'delivering');
