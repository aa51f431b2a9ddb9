-- Scheduled backups of services, and the outcome of every backup run.
CREATE TABLE service_backup_schedules (
    service_id INTEGER PRIMARY KEY REFERENCES services(id) ON DELETE CASCADE,
    schedule   TEXT    NOT NULL,             -- 5-field cron spec or @descriptor (@daily, @every 1h)
    dir        TEXT    NOT NULL,             -- absolute directory on the host
    keep       INTEGER NOT NULL DEFAULT 7,   -- newest backups kept after a scheduled run; 0 = all
    created_at INTEGER NOT NULL
);

CREATE TABLE service_backup_runs (
    id          INTEGER PRIMARY KEY,
    service_id  INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    started_at  INTEGER NOT NULL,            -- unix nanoseconds
    finished_at INTEGER NOT NULL,            -- unix nanoseconds
    scheduled   INTEGER NOT NULL DEFAULT 0,  -- 1: run by the schedule, 0: by hand
    ok          INTEGER NOT NULL,
    file        TEXT    NOT NULL DEFAULT '', -- the file written ('' when it failed)
    size        INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX service_backup_runs_by_service ON service_backup_runs (service_id, id);
