DO $$
BEGIN
    EXECUTE 'DROP TABLE contracts';
END
$$;
