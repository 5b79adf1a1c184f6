-- Identities are never handed out twice. SQLite gives a new row the largest rowid + 1,
-- so deleting the newest workspace (or user, or key) made its id the next one's: a
-- credential or a cached reference to the dead one then named a stranger's. AUTOINCREMENT
-- keeps the largest id ever used in sqlite_sequence instead. It is part of a table's
-- definition, so the three tables are rebuilt as SQLite's documentation prescribes
-- (foreign keys off, one transaction, new table, copy, drop, rename): hence
-- `run_in_transaction = false`. The copy seeds sqlite_sequence with today's largest ids;
-- an id freed before this migration ran cannot be known and may be used once more.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE new_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO new_users (id, email, password_hash, created_at)
    SELECT id, email, password_hash, created_at FROM users;
DROP TABLE users;
ALTER TABLE new_users RENAME TO users;

CREATE TABLE new_workspaces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    personal_of BIGINT UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    prices_version BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC'
);
INSERT INTO new_workspaces (id, name, personal_of, prices_version, created_at, timezone)
    SELECT id, name, personal_of, prices_version, created_at, timezone FROM workspaces;
DROP TABLE workspaces;
ALTER TABLE new_workspaces RENAME TO workspaces;

CREATE TABLE new_api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    scopes TEXT NOT NULL DEFAULT 'ingest',
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    tags_json TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO new_api_keys (id, workspace_id, name, prefix, key_hash, created_at,
                          last_used_at, revoked_at, scopes, created_by, tags_json)
    SELECT id, workspace_id, name, prefix, key_hash, created_at,
           last_used_at, revoked_at, scopes, created_by, tags_json FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE new_api_keys RENAME TO api_keys;
CREATE INDEX api_keys_user ON api_keys (workspace_id, id);

COMMIT;
PRAGMA foreign_keys = ON;
