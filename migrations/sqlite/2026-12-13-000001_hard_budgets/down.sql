DROP TABLE budget_reservations;
ALTER TABLE budgets DROP COLUMN enforce;
