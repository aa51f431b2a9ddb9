-- Domains (virtual hosts) the proxy routes to an app. A name belongs to at
-- most one app. The order of ids is the order they were added: the first is
-- the app's main URL. Global domains, the per-app "disabled" flag and port
-- mappings are properties (namespaces "domains" and "ports").
CREATE TABLE domains (
    id     INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    name   TEXT    NOT NULL UNIQUE
);

CREATE INDEX domains_app_id ON domains (app_id);
