-- LLMLab initial schema (PostgreSQL).
-- Ids are BIGSERIAL.
-- Event and alert instants are BIGINT microseconds since the Unix epoch (UTC);
-- bookkeeping timestamps are TIMESTAMP (naive UTC, microsecond precision).
-- Money is BIGINT nano-dollars; prices are BIGINT micro-dollars per million tokens.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_keys_user ON api_keys (user_id, id);

CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    resolved_model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL CHECK (input_tokens >= 0),
    output_tokens BIGINT NOT NULL CHECK (output_tokens >= 0),
    cached_input_tokens BIGINT NOT NULL CHECK (cached_input_tokens >= 0),
    cache_write_tokens BIGINT NOT NULL CHECK (cache_write_tokens >= 0),
    reasoning_tokens BIGINT NOT NULL CHECK (reasoning_tokens >= 0),
    batch BOOLEAN NOT NULL,
    cost_nanos BIGINT NOT NULL,
    cost_source TEXT NOT NULL CHECK (cost_source IN ('catalog', 'custom_pricing', 'client')),
    price_effective_from DATE,
    ts BIGINT NOT NULL,
    latency_ms BIGINT,
    tags_json TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, event_id)
);
CREATE INDEX events_user_ts ON events (user_id, ts, id);
CREATE INDEX events_user_model_ts ON events (user_id, provider, resolved_model, ts);

CREATE TABLE event_tags (
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    ts BIGINT NOT NULL,
    PRIMARY KEY (event_id, key)
);
CREATE INDEX event_tags_user_key_value_ts ON event_tags (user_id, key, value, ts);

CREATE TABLE budgets (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    amount_nanos BIGINT NOT NULL,
    period TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    scope_provider TEXT,
    scope_model TEXT,
    scope_tag_key TEXT,
    scope_tag_value TEXT,
    alert_threshold_pct INTEGER NOT NULL,
    webhook_url TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE budget_alerts (
    id BIGSERIAL PRIMARY KEY,
    budget_id BIGINT NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    period_start BIGINT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('warning', 'exceeded')),
    spent_nanos BIGINT NOT NULL,
    amount_nanos BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    delivery_status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TIMESTAMP,
    last_error TEXT,
    UNIQUE (budget_id, period_start, level)
);
CREATE INDEX budget_alerts_delivery ON budget_alerts (delivery_status, id);

CREATE TABLE custom_prices (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_micros BIGINT NOT NULL,
    output_micros BIGINT NOT NULL,
    cached_input_micros BIGINT,
    cache_write_micros BIGINT,
    batch_discount_pct INTEGER,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, provider, model)
);
