DO $$
BEGIN
    EXECUTE 'DROP TABLE budget_reservations';
END
$$;
