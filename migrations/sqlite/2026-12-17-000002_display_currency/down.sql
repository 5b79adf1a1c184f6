ALTER TABLE workspaces DROP COLUMN display_currency;
