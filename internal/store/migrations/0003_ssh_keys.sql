-- ssh keys and what each may touch: every app (admin) or the named ones.
CREATE TABLE ssh_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    fingerprint TEXT    NOT NULL UNIQUE,  -- SHA256:...
    public_key  TEXT    NOT NULL,         -- "type base64" as in authorized_keys
    admin       INTEGER NOT NULL,
    apps        TEXT    NOT NULL DEFAULT '', -- comma-separated, when not admin
    created_at  INTEGER NOT NULL
);
