ALTER TABLE events DROP COLUMN contract_discount_bp;
ALTER TABLE events DROP COLUMN contract_id;
