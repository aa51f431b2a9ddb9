-- How long each step of a release's last deploy took (its first deploy, or
-- the last redeploy of it: config:set, ps:restart, ps:scale), as JSON:
-- [{"step":"build","ms":412}, ...] in the order the steps ran.
ALTER TABLE releases ADD COLUMN steps TEXT NOT NULL DEFAULT '[]';
