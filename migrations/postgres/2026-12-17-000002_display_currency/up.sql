-- The currency a workspace's dashboard shows amounts in besides USD (converted at its
-- own exchange rates); 'USD' shows dollars only.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE workspaces ADD COLUMN display_currency TEXT NOT NULL DEFAULT ''USD''';
END
$$;
