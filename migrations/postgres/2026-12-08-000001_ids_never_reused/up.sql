-- Identities are never handed out twice. On PostgreSQL they already are not: ids come
-- from sequences, which never give a value back. The SQLite twin of this migration adds
-- AUTOINCREMENT; here there is nothing to change (one statement: an empty migration is
-- refused).
SELECT 1;
