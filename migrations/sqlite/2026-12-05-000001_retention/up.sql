-- Background jobs that one instance at a time may run (retention), with a lease, and
-- what they have done (`value`: for retention, the instant before which raw events may
-- be gone, microseconds).
CREATE TABLE maintenance (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL,
    value BIGINT NOT NULL DEFAULT 0
);
