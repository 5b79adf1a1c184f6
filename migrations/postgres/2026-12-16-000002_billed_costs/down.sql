DO $$
BEGIN
    EXECUTE 'DROP TABLE billed_costs';
END
$$;
