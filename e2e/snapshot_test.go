package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// snapshotDockerfile is the test app on the Postgres image, so that its
// predeploy can run psql against $DATABASE_URL (ENTRYPOINT [] makes the
// scripts run by /bin/sh, which expands the variable).
func snapshotDockerfile(version string) string {
	return "FROM berth/postgres:15\nCOPY testapp /usr/bin/testapp\nENV APP_VERSION=" + version + "\nENTRYPOINT []\nCMD [\"testapp\", \"web\"]\n"
}

func snapshotFiles(version, predeploy string) map[string]string {
	return map[string]string{
		"Dockerfile": snapshotDockerfile(version),
		"Procfile":   "web: testapp web\n",
		"app.json":   `{"scripts": {"dokku": {"predeploy": "` + predeploy + `"}}}`,
	}
}

// TestSnapshotBeforeMigrations: an app linked to Postgres with a predeploy
// gets its database snapshotted before each predeploy; a predeploy that
// drops a table is undone by releases:rollback --with-data (code and data
// together, after a confirmation naming what is lost), and a predeploy that
// drops the table and then fails has the snapshot restored at once, the
// running release still serving its rows.
func TestSnapshotBeforeMigrations(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "plugin:install", "https://github.com/dokku/dokku-postgres.git", "postgres")
	d.mustBerth(t, "apps:create", "snap")
	d.mustBerth(t, "postgres:create", "snap-db")
	d.mustBerth(t, "postgres:link", "snap-db", "snap")
	web := func() int { return containers(t, eng, d, "snap")["web.1"].HostPort }
	items := func() string {
		if d.dataSQL(t, "snap-db", "select coalesce(to_regclass('items')::text, 'no table');") == "no table" {
			return "no table"
		}
		return "items:" + d.dataSQL(t, "snap-db", "select string_agg(v, ',' order by id) from items;")
	}

	// Release 1 creates the table; the snapshot before it is of an empty
	// database.
	out, code := d.deployTar(t, "snap", appTar(t, snapshotFiles("v1", "testapp migrate")))
	if code != 0 || !strings.Contains(out, "migrated v1") {
		t.Fatalf("deploy v1: %d\n%s", code, out)
	}
	snapLine := regexp.MustCompile(`-----> Snapshot of postgres snap-db before the predeploy: [0-9.]+ (B|kB|MB) in [0-9.]+s`)
	if !snapLine.MatchString(out) {
		t.Errorf("deploy v1: no snapshot line:\n%s", out)
	}
	if i, j := strings.Index(out, "Snapshot of postgres"), strings.Index(out, "Executing predeploy task"); i < 0 || j < 0 || i > j {
		t.Errorf("the snapshot was not taken before the predeploy:\n%s", out)
	}
	for _, v := range []string{"apple", "pear"} {
		httpDo(t, "POST", web(), "/db?v="+v)
	}
	if got := httpDo(t, "GET", web(), "/db"); got != "apple,pear" {
		t.Fatalf("GET /db = %q", got)
	}

	// BERTH_SNAPSHOT_MB=100 measures the snapshot and the restores of a
	// database of about that size through the real path (the numbers in
	// docs/data-safety.md): a filler table, logged lines.
	if mb, _ := strconv.Atoi(os.Getenv("BERTH_SNAPSHOT_MB")); mb > 0 {
		d.dataSQL(t, "snap-db", "create table filler as select g as id, 'item ' || g as name, md5(g::text) || md5((g*7)::text) || md5((g*13)::text) as body, g % 1000 as n from generate_series(1, "+strconv.Itoa(mb*5000)+") g; create index on filler (n); vacuum analyze filler;")
		t.Logf("database size: %s", d.dataSQL(t, "snap-db", "select pg_size_pretty(pg_database_size('snap_db'));"))
	}
	logLines := func(out string) {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "Snapshot of postgres") || strings.Contains(l, "Restored postgres") {
				t.Logf("%s", strings.TrimSpace(l))
			}
		}
	}

	// Release 2's predeploy drops the table.
	drop := `psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -c 'DROP TABLE items'`
	out, code = d.deployTar(t, "snap", appTar(t, snapshotFiles("v2", drop)))
	if code != 0 || !snapLine.MatchString(out) {
		t.Fatalf("deploy v2: %d\n%s", code, out)
	}
	logLines(out)
	if got := items(); got != "no table" {
		t.Fatalf("after v2's predeploy: %q", got)
	}
	rels := d.mustBerth(t, "releases", "snap")
	if !regexp.MustCompile(`(?m)^v2 .*\[snapshot [0-9.]+ (B|kB|MB)\]$`).MatchString(rels) || !regexp.MustCompile(`(?m)^v1 .*\[snapshot`).MatchString(rels) {
		t.Errorf("releases does not show the snapshots:\n%s", rels)
	}
	if info := d.mustBerth(t, "releases:info", "snap", "2"); !regexp.MustCompile(`Snapshot: +postgres snap-db, [0-9.]+ (B|kB|MB), 20`).MatchString(info) {
		t.Errorf("releases:info 2:\n%s", info)
	}

	// The confirmation names what is lost; a wrong answer changes nothing.
	out, code = d.berthIn(strings.NewReader("no\n"), "releases:rollback", "snap", "1", "--with-data")
	if code == 0 || !strings.Contains(out, "restores its databases from the snapshot taken before release 2") ||
		!strings.Contains(out, "postgres snap-db as of 20") || !strings.Contains(out, "every change to it since then is lost") || !strings.Contains(out, "Aborted") {
		t.Errorf("rollback --with-data, not confirmed: %d\n%s", code, out)
	}
	if got := items(); got != "no table" {
		t.Errorf("after an unconfirmed rollback: %q", got)
	}

	// Code and data together: release 1 again, with the table and its rows.
	t0 := time.Now()
	out, code = d.berthIn(nil, "releases:rollback", "snap", "1", "--with-data", "--force")
	if code != 0 || !strings.Contains(out, "Restoring the databases as they were before release 2") || !strings.Contains(out, "Restored postgres snap-db (database snap_db)") {
		t.Fatalf("rollback --with-data: %d\n%s", code, out)
	}
	t.Logf("rollback --with-data took %s", time.Since(t0).Round(time.Millisecond))
	logLines(out)
	if got := items(); got != "items:apple,pear" {
		t.Errorf("after rollback --with-data: %q, want the table with its rows", got)
	}
	if got := httpGet(t, web(), "/"); !strings.Contains(got, "v1") {
		t.Errorf("after rollback --with-data, / = %q, want v1", got)
	}
	if got := httpDo(t, "GET", web(), "/db"); got != "apple,pear" {
		t.Errorf("after rollback --with-data, GET /db = %q", got)
	}

	// No snapshot after the target: one line, non-zero, nothing changed.
	out, code = d.berthIn(nil, "releases:rollback", "snap", "2", "--with-data", "--force")
	if code == 0 || !strings.Contains(out, "No snapshot to restore: no release after 2 took one") || len(dataErrorLines([]byte(out))) != 1 {
		t.Errorf("rollback --with-data without a snapshot: %d\n%s", code, out)
	}
	if rels := d.mustBerth(t, "releases", "snap"); !regexp.MustCompile(`(?m)^v3 +live`).MatchString(rels) || strings.Contains(rels, "v4") {
		t.Errorf("releases after a refused rollback:\n%s", rels)
	}

	// A predeploy that drops the table and then fails: the snapshot is
	// restored before the deploy ends, release 3 keeps serving its rows.
	// (With snapshots-keep 1, its snapshot is the only one kept.)
	d.mustBerth(t, "releases:set", "snap", "snapshots-keep", "1")
	out, code = d.deployTar(t, "snap", appTar(t, snapshotFiles("v4", drop+" && exit 3")))
	if code == 0 || !strings.Contains(out, "The predeploy failed: restoring the linked databases from the snapshot taken before it") ||
		!strings.Contains(out, "Databases restored to the snapshot; the running release keeps serving") {
		t.Fatalf("deploy v4 (failing predeploy): %d\n%s", code, out)
	}
	logLines(out)
	if got := items(); got != "items:apple,pear" {
		t.Errorf("after a failed predeploy: %q, want the table restored", got)
	}
	if got := httpGet(t, web(), "/"); !strings.Contains(got, "v1") {
		t.Errorf("after a failed predeploy, / = %q, want release 3 (v1) serving", got)
	}
	if got := httpDo(t, "GET", web(), "/db"); got != "apple,pear" {
		t.Errorf("after a failed predeploy, GET /db = %q", got)
	}
	if rels := d.mustBerth(t, "releases", "snap"); !regexp.MustCompile(`(?m)^v4 +failed .*databases restored from the snapshot`).MatchString(rels) {
		t.Errorf("releases after the failed predeploy:\n%s", rels)
	}

	if rels := d.mustBerth(t, "releases", "snap"); strings.Count(rels, "[snapshot") != 1 {
		t.Errorf("releases with snapshots-keep 1:\n%s", rels)
	}
	dir := filepath.Join(d.dataDir, "services", "postgres", "snap-db", "snapshots")
	if files, err := os.ReadDir(dir); len(files) != 1 {
		t.Errorf("snapshot files kept with snapshots-keep 1: %v, %v", files, err)
	}
	// apps:destroy removes the app's snapshots.
	d.mustBerth(t, "apps:destroy", "snap", "--force")
	if files, err := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("snapshot files after apps:destroy: %v, %v", files, err)
	}
}
