-- The scheduler visits a workspace only when something is due for it. Ingestion and
-- changes to channels or budgets make a workspace due now and `changed` (its forecasts,
-- anomalies and unpriced models are looked at again); a visit sets when something next
-- falls due on its own (a weekly or monthly report, or the daily look, which is a
-- `changed` one). While a visit runs, `due_at` holds its lease: an instance that dies
-- only delays the workspace to the lease's end. Only workspaces with channels have a
-- row; each instance's scheduler puts them there when it starts (`schedule::enrol_all`).
--
-- `notified`: whether the workspace's channels have been told of an alert. The scheduler
-- finds the few that were not (an instance died between recording the alert and telling
-- them) with one indexed query instead of re-recording every alert of the day. Earlier
-- alerts were told by the ticks that ran until now.
--
-- One command per EXECUTE: on a sharded PostgreSQL (Citus) the tables are already
-- distributed, and Citus sends each schema change to the workers as the text it was
-- given, which must then hold that one command.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE notify_schedule (
        workspace_id BIGINT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
        due_at BIGINT NOT NULL,
        changed BOOLEAN NOT NULL
    )';
    EXECUTE 'CREATE INDEX notify_schedule_due ON notify_schedule (due_at)';
    EXECUTE 'ALTER TABLE budget_alerts ADD COLUMN notified BOOLEAN NOT NULL DEFAULT TRUE';
    EXECUTE 'CREATE INDEX budget_alerts_unnotified ON budget_alerts (created_at)
        WHERE NOT notified';
END
$$;
