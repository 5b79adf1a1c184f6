ALTER TABLE users DROP COLUMN prices_version;
