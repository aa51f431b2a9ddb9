package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceUpgrade: an in-place upgrade within a major, a refused
// downgrade, a major upgrade that fails after the old server went down
// (a failpoint) and comes back with its data, then one that succeeds and
// keeps the data; redis across majors keeps its keys.
func TestServiceUpgrade(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	for _, img := range []string{"berth/postgres:17", "berth/redis:8"} {
		requireImage(t, eng, img)
	}
	failpoints := filepath.Join(t.TempDir(), "failpoints")
	d := serviceDaemon(t, eng, "BERTH_FAILPOINTS=@"+failpoints)
	sql := func(q string) string {
		t.Helper()
		out, code := d.berthIn(strings.NewReader(q), "postgres:connect", "pg")
		if code != 0 {
			t.Fatalf("sql %q: %d %s", q, code, out)
		}
		return out
	}
	d.mustBerth(t, "postgres:create", "pg", "--image-version", "latest")
	sql("create table fruit (name text); insert into fruit values ('apple'), ('pear'), ('plum');")
	rows := func(when string) {
		t.Helper()
		if out := sql("select string_agg(name, ',' order by name) from fruit;"); !strings.Contains(out, "apple,pear,plum") {
			t.Errorf("%s: rows %q", when, out)
		}
	}
	// latest is 15: the same major, so the container is recreated in place.
	if out := d.mustBerth(t, "postgres:upgrade", "pg", "--image-version", "15"); !strings.Contains(out, "Same major version") {
		t.Errorf("in-place upgrade: %q", out)
	}
	rows("in-place upgrade")
	if out, code := d.berth("postgres:upgrade", "pg", "--image-version", "15"); code == 0 || !strings.Contains(out, "already runs berth/postgres:15") {
		t.Errorf("upgrade to the same image: %d %q", code, out)
	}
	// A failure after the old server stopped puts the old data back.
	os.WriteFile(failpoints, []byte("upgrade-postgres-verify"), 0o644)
	out, code := d.berth("postgres:upgrade", "pg", "--image-version", "17")
	if code == 0 || !strings.Contains(out, "upgrade failed, berth/postgres:15 is running again with its data") {
		t.Errorf("failed upgrade: %d %q", code, out)
	}
	if v := strings.TrimSpace(d.mustBerth(t, "postgres:info", "pg", "--version")); v != "berth/postgres:15" {
		t.Errorf("version after a failed upgrade: %q", v)
	}
	rows("failed upgrade")
	if out := d.mustBerth(t, "postgres:enter", "pg", "postgres", "--version"); !strings.Contains(out, "PostgreSQL) 15.") {
		t.Errorf("server after a failed upgrade: %q", out)
	}
	// Across the major: dump, restore, verify; the old data is kept.
	os.Remove(failpoints)
	out = d.mustBerth(t, "postgres:upgrade", "pg", "--image-version", "17")
	if !strings.Contains(out, "Verified: every table has the same number of rows") || !strings.Contains(out, "upgraded to berth/postgres:17") {
		t.Errorf("major upgrade: %q", out)
	}
	rows("major upgrade")
	if out := d.mustBerth(t, "postgres:enter", "pg", "postgres", "--version"); !strings.Contains(out, "PostgreSQL) 17.") {
		t.Errorf("server after the upgrade: %q", out)
	}
	if old, _ := filepath.Glob(filepath.Join(d.dataDir, "services/postgres/pg/data.15.*")); len(old) != 1 {
		t.Errorf("old data kept: %v", old)
	}
	// Downgrades across majors are refused before anything changes.
	if out, code := d.berth("postgres:upgrade", "pg", "--image-version", "15"); code == 0 || !strings.Contains(out, "Refusing to downgrade") {
		t.Errorf("downgrade: %d %q", code, out)
	}
	rows("refused downgrade")

	// Redis 7 -> 8 opens the data; the key count is checked.
	d.mustBerth(t, "redis:create", "cache")
	if out, code := d.berthIn(strings.NewReader("set a 1\nset b 2\n"), "redis:connect", "cache"); code != 0 {
		t.Fatalf("redis set: %d %s", code, out)
	}
	if out := d.mustBerth(t, "redis:upgrade", "cache", "--image-version", "8"); !strings.Contains(out, "Verified: 2 keys") {
		t.Errorf("redis upgrade: %q", out)
	}
	if out, _ := d.berthIn(strings.NewReader("get b\ninfo server\n"), "redis:connect", "cache"); !strings.Contains(out, "2") || !strings.Contains(out, "redis_version:8.") {
		t.Errorf("redis after upgrade: %q", out)
	}
}
