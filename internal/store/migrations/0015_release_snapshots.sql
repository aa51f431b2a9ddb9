-- Snapshots of the databases linked to an app, taken before a release's
-- predeploy or release command (docs/data-safety.md). The file is on the
-- host, under the service's directory; one row per database.
CREATE TABLE release_snapshots (
    id           INTEGER PRIMARY KEY,
    app_id       INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    release      INTEGER NOT NULL,            -- the release's number
    service_kind TEXT    NOT NULL,
    service_name TEXT    NOT NULL,
    file         TEXT    NOT NULL,
    bytes        INTEGER NOT NULL,
    took_ms      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL             -- unix milliseconds
);
CREATE INDEX release_snapshots_app ON release_snapshots (app_id, release);
