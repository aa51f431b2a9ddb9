-- Preview apps (previews:*): which apps make a preview app of each pushed
-- branch, how long one lives, and the previews that exist.
CREATE TABLE preview_settings (
    app_id         INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
    enabled        INTEGER NOT NULL DEFAULT 0,
    expire_seconds INTEGER NOT NULL DEFAULT 0  -- 0: never
);

CREATE TABLE previews (
    id              INTEGER PRIMARY KEY,
    parent_id       INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    app_id          INTEGER NOT NULL UNIQUE REFERENCES apps(id) ON DELETE CASCADE, -- the preview app
    branch          TEXT    NOT NULL,
    url             TEXT    NOT NULL DEFAULT '',
    services        TEXT    NOT NULL DEFAULT '',  -- KIND/NAME,... the preview's own services
    created_at      INTEGER NOT NULL,             -- unix seconds
    pushed_at       INTEGER NOT NULL,             -- unix seconds of the last push
    postdeploy_done INTEGER NOT NULL DEFAULT 0,
    predestroy      TEXT    NOT NULL DEFAULT '',  -- app.json environments.review.scripts.pr-predestroy of the last push
    UNIQUE (parent_id, branch)
);
