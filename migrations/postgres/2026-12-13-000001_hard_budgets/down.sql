DO $$
BEGIN
    EXECUTE 'DROP TABLE budget_reservations';
    EXECUTE 'ALTER TABLE budgets DROP COLUMN enforce';
END
$$;
