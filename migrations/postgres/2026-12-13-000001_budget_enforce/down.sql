DO $$
BEGIN
    EXECUTE 'ALTER TABLE budgets DROP COLUMN enforce';
END
$$;
