-- Old containers a deploy's switch replaced, waiting to be drained and
-- removed: written with the switch, removed once each is gone, so a
-- daemon that stops in between resumes them at its next start.
CREATE TABLE retire_queue (
    id           INTEGER PRIMARY KEY,
    app_id       INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    container_id TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',  -- for logs: the name it had when queued
    addr         TEXT    NOT NULL DEFAULT '',  -- proxy target to drain ('' when it took no traffic)
    retire_at    INTEGER NOT NULL,             -- unix seconds: stop and remove from then on
    UNIQUE (app_id, container_id)
);
