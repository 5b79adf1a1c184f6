DROP TABLE custom_prices;
DROP TABLE budget_alerts;
DROP TABLE budgets;
DROP TABLE event_tags;
DROP TABLE events;
DROP TABLE api_keys;
DROP TABLE revoked_tokens;
DROP TABLE users;
