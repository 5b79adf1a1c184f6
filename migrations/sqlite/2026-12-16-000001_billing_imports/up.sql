-- Provider cost reports imported for reconciliation: see the PostgreSQL twin.
CREATE TABLE billing_imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    format TEXT NOT NULL,
    provider TEXT,
    content_sha256 TEXT NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    rows_read INTEGER NOT NULL,
    billed_nanos BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, content_sha256)
);
