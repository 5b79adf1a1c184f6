DO $$
BEGIN
    EXECUTE 'DROP TABLE billing_imports';
END
$$;
