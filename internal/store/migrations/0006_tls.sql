-- TLS: each app's certificate (custom or from Let's Encrypt) and domain
-- redirects.
CREATE TABLE certs (
    app_id      INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
    source      TEXT    NOT NULL,            -- custom, self-signed, letsencrypt
    cert_pem    TEXT    NOT NULL,            -- full chain
    key_pem     TEXT    NOT NULL,            -- the database file is 0600
    domains     TEXT    NOT NULL DEFAULT '', -- space-separated SANs
    not_before  INTEGER NOT NULL DEFAULT 0,
    not_after   INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT    NOT NULL DEFAULT '', -- of the last renewal attempt
    last_try_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE redirects (
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    src    TEXT    NOT NULL UNIQUE,
    dest   TEXT    NOT NULL,
    code   INTEGER NOT NULL
);
