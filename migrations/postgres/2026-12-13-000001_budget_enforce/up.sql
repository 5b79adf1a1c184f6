-- Hard budgets: a budget's `enforce` is `alert` (it alerts; what it always did) or `hard`
-- (calls are reserved against it before they are made, and refused when it has too
-- little left; the reservations are the next migration's table). On its own migration:
-- on a sharded PostgreSQL (Citus) a change to a distributed table and, in the same
-- transaction, a new table referencing a reference table cannot be made together.
--
-- One command per EXECUTE: on a sharded PostgreSQL (Citus) the tables are already
-- distributed, and Citus sends each schema change to the workers as the text it was
-- given, which must then hold that one command.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE budgets ADD COLUMN enforce TEXT NOT NULL DEFAULT ''alert''';
END
$$;
