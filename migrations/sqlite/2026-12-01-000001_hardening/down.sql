DROP TABLE ledger_totals;
ALTER TABLE login_attempts DROP COLUMN window_micros;
ALTER TABLE api_keys DROP COLUMN scopes;
