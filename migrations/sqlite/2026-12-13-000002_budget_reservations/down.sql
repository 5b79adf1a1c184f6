DROP TABLE budget_reservations;
