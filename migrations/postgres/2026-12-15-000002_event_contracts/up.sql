-- The contract that discounted a catalog-priced event, and its discount in basis points
-- (kept on the event, as the catalog version and custom revision are, so its price can
-- be read back without the contract). NULL: priced at list.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE events ADD COLUMN contract_id BIGINT';
    EXECUTE 'ALTER TABLE events ADD COLUMN contract_discount_bp INTEGER';
END
$$;
