DO $$
BEGIN
    EXECUTE 'DROP TABLE commitments';
END
$$;
