ALTER TABLE budgets DROP COLUMN enforce;
