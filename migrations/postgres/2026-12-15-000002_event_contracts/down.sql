DO $$
BEGIN
    EXECUTE 'ALTER TABLE events DROP COLUMN contract_discount_bp';
    EXECUTE 'ALTER TABLE events DROP COLUMN contract_id';
END
$$;
