-- Contracts: see the PostgreSQL twin.
CREATE TABLE contracts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    model_prefix TEXT,
    discount_bp INTEGER NOT NULL CHECK (discount_bp BETWEEN 0 AND 10000),
    effective_from DATE NOT NULL,
    effective_to DATE,
    ended_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, name)
);
