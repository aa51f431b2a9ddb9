-- What a release needs to be rolled back to: the app's config and the
-- formation when it was made, and who made it.
ALTER TABLE releases ADD COLUMN config     TEXT NOT NULL DEFAULT '{}';
ALTER TABLE releases ADD COLUMN formation  TEXT NOT NULL DEFAULT '{}';
ALTER TABLE releases ADD COLUMN started_by TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN rollback_of INTEGER NOT NULL DEFAULT 0;
