-- Backing services (postgres, redis) and their links to apps.
CREATE TABLE services (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,             -- postgres, redis
    name       TEXT    NOT NULL,
    image      TEXT    NOT NULL,
    password   TEXT    NOT NULL,             -- the database file is 0600
    created_at INTEGER NOT NULL,
    UNIQUE (kind, name)
);

CREATE TABLE service_links (
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    var        TEXT    NOT NULL,             -- DATABASE_URL, DOKKU_POSTGRES_AQUA_URL, ALIAS_URL
    PRIMARY KEY (service_id, app_id)
) WITHOUT ROWID;
