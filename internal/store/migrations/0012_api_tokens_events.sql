-- API tokens (tokens:create): only the SHA-256 of each secret is kept.
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    secret_hash TEXT    NOT NULL UNIQUE,     -- hex SHA-256 of the secret
    admin       INTEGER NOT NULL,
    apps        TEXT    NOT NULL DEFAULT '', -- comma-separated, when not admin
    read_only   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    last_used   INTEGER NOT NULL DEFAULT 0   -- unix seconds; 0: never
);

-- The audit log: every change, who made it and how it ended.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,            -- unix milliseconds
    who         TEXT    NOT NULL,            -- root, key:NAME, token:NAME
    op          TEXT    NOT NULL,
    app         TEXT    NOT NULL DEFAULT '',
    args        TEXT    NOT NULL DEFAULT '', -- JSON, secret values masked
    ok          INTEGER NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_app ON events (app, id);

-- The dashboard's settings (dashboard:set): domain.
CREATE TABLE dashboard_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
