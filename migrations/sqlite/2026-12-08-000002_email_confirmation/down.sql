DROP TABLE send_quota;
ALTER TABLE notifications DROP COLUMN held;
DROP TABLE channel_recipients;
