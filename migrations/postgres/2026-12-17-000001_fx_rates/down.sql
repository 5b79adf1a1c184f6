DO $$
BEGIN
    EXECUTE 'DROP TABLE fx_rates';
END
$$;
