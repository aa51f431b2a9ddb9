-- Restore drills (KIND:backup-verify): the row counts recorded with each
-- backup, whether a schedule runs a drill after each backup, and the
-- outcome of every drill.
ALTER TABLE service_backup_runs ADD COLUMN counts TEXT NOT NULL DEFAULT '';    -- JSON {"schema.table": rows}; '' none recorded
ALTER TABLE service_backup_schedules ADD COLUMN verify INTEGER NOT NULL DEFAULT 0; -- 1: a drill after each scheduled backup

CREATE TABLE service_backup_drills (
    id         INTEGER PRIMARY KEY,
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,             -- unix nanoseconds (when it finished)
    file       TEXT    NOT NULL,             -- the backup restored
    scheduled  INTEGER NOT NULL DEFAULT 0,   -- 1: run by the schedule (--verify)
    ok         INTEGER NOT NULL,
    tables     INTEGER NOT NULL DEFAULT 0,   -- tables compared
    rows       INTEGER NOT NULL DEFAULT 0,   -- rows restored
    compared   INTEGER NOT NULL DEFAULT 0,   -- 1: counts were recorded with the backup
    error      TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX service_backup_drills_by_service ON service_backup_drills (service_id, id);
