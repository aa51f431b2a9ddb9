-- Placeholder on the previews branch only: number 14 is another branch's
-- migration. The previews branch took 0015 (preview apps), and migrations
-- must be numbered without gaps; the lead drops this file on merge.
SELECT 1;
