-- Notification targets (notifications:add): webhooks that are told of
-- deploys, rollbacks, failed certificate renewals and backups, and crash
-- loops; with the outcome of the last delivery to each.
CREATE TABLE notification_targets (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    url         TEXT    NOT NULL,
    format      TEXT    NOT NULL,             -- json, slack or discord
    events      TEXT    NOT NULL DEFAULT '',  -- comma-separated event names; '' = every event
    app_id      INTEGER REFERENCES apps(id) ON DELETE CASCADE, -- NULL: every app
    created_at  INTEGER NOT NULL,             -- unix seconds
    last_at     INTEGER NOT NULL DEFAULT 0,   -- unix nanoseconds of the last delivery's end; 0 = none yet
    last_event  TEXT    NOT NULL DEFAULT '',
    last_status INTEGER NOT NULL DEFAULT 0,   -- the receiver's HTTP status (0: no answer)
    last_error  TEXT    NOT NULL DEFAULT '',  -- '' when delivered
    last_tries  INTEGER NOT NULL DEFAULT 0    -- attempts the last delivery took
);
