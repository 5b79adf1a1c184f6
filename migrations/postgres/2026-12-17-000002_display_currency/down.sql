DO $$
BEGIN
    EXECUTE 'ALTER TABLE workspaces DROP COLUMN display_currency';
END
$$;
