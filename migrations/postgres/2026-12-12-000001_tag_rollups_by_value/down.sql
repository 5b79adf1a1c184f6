-- One command per EXECUTE, as in up.sql.
DO $$
BEGIN
    EXECUTE 'DROP INDEX tag_rollups_by_value';
END
$$;
