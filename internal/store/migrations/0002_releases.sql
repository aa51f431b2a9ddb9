-- Releases: one immutable deploy each. Formation: how many containers of
-- each process type an app runs.
ALTER TABLE apps ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0; -- ps:stop

CREATE TABLE releases (
    id          INTEGER PRIMARY KEY,
    app_id      INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    status      TEXT    NOT NULL,              -- pending, live, failed, superseded
    source      TEXT    NOT NULL,              -- archive, image, rebuild, git
    source_ref  TEXT    NOT NULL DEFAULT '',   -- image name, archive URL, git ref
    git_rev     TEXT    NOT NULL DEFAULT '',
    image       TEXT    NOT NULL DEFAULT '',   -- the release's tag, berth/APP:N
    image_id    TEXT    NOT NULL DEFAULT '',
    processes   TEXT    NOT NULL DEFAULT '{}', -- JSON: type -> command ("" = image CMD)
    web_port    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    UNIQUE (app_id, number)
);

CREATE TABLE formation (
    app_id   INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    type     TEXT    NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (app_id, type)
) WITHOUT ROWID;
