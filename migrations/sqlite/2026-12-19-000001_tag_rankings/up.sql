-- Rankings of tag values over a window of whole days: see the PostgreSQL twin.
CREATE TABLE tag_rankings (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key, value)
);
CREATE INDEX tag_rankings_order ON tag_rankings (workspace_id, key, cost_nanos DESC, calls DESC, value);
CREATE TABLE tag_ranking_marks (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    from_slot BIGINT NOT NULL,
    to_slot BIGINT NOT NULL,
    built_at_late_writes BIGINT NOT NULL,
    values_count BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
CREATE TABLE tag_late_writes (
    workspace_id BIGINT NOT NULL PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    writes BIGINT NOT NULL
);
