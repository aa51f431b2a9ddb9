-- Apps and their settings. app_id 0 in config and properties means global.
CREATE TABLE apps (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,           -- unix seconds
    locked     INTEGER NOT NULL DEFAULT 0  -- apps:lock
);

CREATE TABLE config (
    app_id INTEGER NOT NULL,
    key    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    PRIMARY KEY (app_id, key)
) WITHOUT ROWID;

CREATE TABLE properties (
    app_id    INTEGER NOT NULL,
    namespace TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (app_id, namespace, key)
) WITHOUT ROWID;
