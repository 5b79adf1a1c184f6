-- Hard budgets' `enforce`: see the PostgreSQL twin.
ALTER TABLE budgets ADD COLUMN enforce TEXT NOT NULL DEFAULT 'alert';
