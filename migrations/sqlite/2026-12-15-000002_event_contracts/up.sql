-- See the PostgreSQL twin.
ALTER TABLE events ADD COLUMN contract_id BIGINT;
ALTER TABLE events ADD COLUMN contract_discount_bp INTEGER;
