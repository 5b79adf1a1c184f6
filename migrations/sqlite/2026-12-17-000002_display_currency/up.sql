-- See the PostgreSQL twin.
ALTER TABLE workspaces ADD COLUMN display_currency TEXT NOT NULL DEFAULT 'USD';
