-- Backing services (postgres, redis) and their links to apps.
CREATE TABLE services (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,             -- postgres, redis
    name       TEXT    NOT NULL,
    image      TEXT    NOT NULL,             -- repository:tag the container runs
    password   TEXT    NOT NULL,             -- the database file is 0600
    custom_env TEXT    NOT NULL DEFAULT '',  -- "A=b;C=d", as --custom-env took it
    memory     INTEGER NOT NULL DEFAULT 0,   -- bytes, 0 = no limit
    shm_size   INTEGER NOT NULL DEFAULT 0,   -- bytes, 0 = engine default
    expose     TEXT    NOT NULL DEFAULT '',  -- "ADDR:PORT" published on the host, '' = none
    created_at INTEGER NOT NULL,
    UNIQUE (kind, name)
);

CREATE TABLE service_links (
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    var        TEXT    NOT NULL,             -- DATABASE_URL, DOKKU_POSTGRES_AQUA_URL, ALIAS_URL
    query      TEXT    NOT NULL DEFAULT '',  -- --querystring, appended to the URL after ?
    PRIMARY KEY (service_id, app_id)
) WITHOUT ROWID;
