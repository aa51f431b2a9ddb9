package services

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// failRenameTo makes the manager's renames onto dir fail.
func failRenameTo(tm *testManager, dir string) {
	tm.rename = func(from, to string) error {
		if to == dir {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EIO}
		}
		return os.Rename(from, to)
	}
}

func upgrade(tm *testManager, svc store.Service, version string) error {
	_, err := tm.serviceUpgrade(context.Background(), api.ServiceUpgrade{ServiceRef: api.ServiceRef{Kind: svc.Kind, Name: svc.Name}, ImageVersion: version}, tm.out)
	return err
}

// asides lists the data directories an upgrade kept aside.
func asides(t *testing.T, tm *testManager, svc store.Service) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(tm.serviceRoot(svc.Kind, svc.Name), "data.*"))
	return m
}

// TestRedisUpgradeRollback: a failed verify puts the old data back and
// starts the old image on it.
func TestRedisUpgradeRollback(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "redis", "cache", "redis:7")
	data := tm.serviceDataDir(svc)
	os.WriteFile(filepath.Join(data, "dump.rdb"), []byte("old data"), 0o600)
	tm.eng.keys["redis:7"], tm.eng.keys["redis:8"] = "5", "4"
	err := upgrade(tm, svc, "8")
	if err == nil || !strings.Contains(err.Error(), "upgrade failed, redis:7 is running again with its data: key count differs after the upgrade: 5 before, 4 after") {
		t.Fatalf("upgrade error = %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "dump.rdb")); err != nil || string(b) != "old data" {
		t.Errorf("data after the rollback = %q, %v", b, err)
	}
	if a := asides(t, tm, svc); len(a) != 0 {
		t.Errorf("left aside: %v", a)
	}
	if d, err := tm.eng.InspectContainer(context.Background(), tm.serviceContainer(svc)); err != nil || d.Image != "redis:7" || !d.Running {
		t.Errorf("container after the rollback = %+v, %v", d, err)
	}
	if _, now, _ := tm.loadService(context.Background(), api.ServiceRef{Kind: "redis", Name: "cache"}); now.Image != "redis:7" {
		t.Errorf("recorded image = %s", now.Image)
	}
}

// TestRedisUpgradeRollbackPutBackFails: when the old data cannot be put
// back, the upgrade says so, with both paths, logs it, and does not start
// the old server on the wrong data.
func TestRedisUpgradeRollbackPutBackFails(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "redis", "cache", "redis:7")
	data := tm.serviceDataDir(svc)
	os.WriteFile(filepath.Join(data, "dump.rdb"), []byte("old data"), 0o600)
	tm.eng.keys["redis:7"], tm.eng.keys["redis:8"] = "5", "4"
	failRenameTo(tm, data)
	err := upgrade(tm, svc, "8")
	a := asides(t, tm, svc)
	if len(a) != 2 { // the old data, and what the new version left
		t.Fatalf("aside dirs = %v", a)
	}
	aside := a[0]
	if err == nil {
		t.Fatal("upgrade succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"key count differs", "could not be moved back from " + aside + " to " + data, "input/output error", "redis:start cache"} {
		if !strings.Contains(msg, want) {
			t.Errorf("upgrade error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "running again") {
		t.Errorf("upgrade error claims the old server is back: %q", msg)
	}
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeUnavailable {
		t.Errorf("error code = %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(aside, "dump.rdb")); err != nil || string(b) != "old data" {
		t.Errorf("old data in %s = %q, %v", aside, b, err)
	}
	if !strings.Contains(tm.logs.String(), "old data not put back") || !strings.Contains(tm.logs.String(), aside) {
		t.Errorf("log = %s", tm.logs.String())
	}
	// No old server started on an empty or foreign data directory.
	creates := tm.eng.callsOf("create berth.redis.cache")
	if last := creates[len(creates)-1]; last != "create berth.redis.cache redis:8" {
		t.Errorf("creates = %v", creates)
	}
	if _, err := tm.eng.InspectContainer(context.Background(), tm.serviceContainer(svc)); err == nil {
		t.Error("a service container runs after the failed put-back")
	}
}

// TestPostgresUpgrade: across majors, dump, new data dir, restore, verify.
func TestPostgresUpgrade(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "postgres", "db", "postgres:15")
	tm.eng.rows["postgres:15"], tm.eng.rows["postgres:17"] = "public.t=3\n", "public.t=3\n"
	if err := upgrade(tm, svc, "17"); err != nil {
		t.Fatal(err)
	}
	if got := string(tm.eng.restored); got != "PGDMP dump of berth.postgres.db" {
		t.Errorf("restored %q", got)
	}
	if a := asides(t, tm, svc); len(a) != 1 || !strings.Contains(a[0], "data.15.") {
		t.Errorf("aside = %v", a)
	}
	if _, now, _ := tm.loadService(context.Background(), api.ServiceRef{Kind: "postgres", Name: "db"}); now.Image != "postgres:17" {
		t.Errorf("recorded image = %s", now.Image)
	}
	for _, want := range []string{"Upgrading db from postgres:15 (15) to postgres:17 (17)", "Verified: every table has the same number of rows", "upgraded to postgres:17"} {
		if !strings.Contains(tm.output.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, tm.output)
		}
	}
}

// TestPostgresUpgradeRollbackPutBackFails: the same for postgres, whose
// old data was moved (not copied) aside.
func TestPostgresUpgradeRollbackPutBackFails(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "postgres", "db", "postgres:15")
	data := tm.serviceDataDir(svc)
	os.WriteFile(filepath.Join(data, "PG_VERSION"), []byte("15"), 0o600)
	tm.eng.rows["postgres:15"], tm.eng.rows["postgres:17"] = "public.t=3\n", "public.t=2\n"
	failRenameTo(tm, data)
	err := upgrade(tm, svc, "17")
	if err == nil || !strings.Contains(err.Error(), "row counts differ") || !strings.Contains(err.Error(), "could not be moved back from ") || !strings.Contains(err.Error(), " to "+data) {
		t.Fatalf("upgrade error = %v", err)
	}
	if !strings.Contains(tm.logs.String(), "old data not put back") {
		t.Errorf("log = %s", tm.logs.String())
	}
	if _, now, _ := tm.loadService(context.Background(), api.ServiceRef{Kind: "postgres", Name: "db"}); now.Image != "postgres:15" {
		t.Errorf("recorded image = %s", now.Image)
	}
}

// TestPostgresUpgradeRollback: a failed verify brings 15 back on its data.
func TestPostgresUpgradeRollback(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "postgres", "db", "postgres:15")
	data := tm.serviceDataDir(svc)
	os.WriteFile(filepath.Join(data, "PG_VERSION"), []byte("15"), 0o600)
	tm.eng.rows["postgres:15"], tm.eng.rows["postgres:17"] = "public.t=3\n", "public.t=2\n"
	err := upgrade(tm, svc, "17")
	if err == nil || !strings.Contains(err.Error(), "upgrade failed, postgres:15 is running again with its data: row counts differ") {
		t.Fatalf("upgrade error = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "PG_VERSION")); string(b) != "15" {
		t.Errorf("PG_VERSION = %q", b)
	}
	if a := asides(t, tm, svc); len(a) != 0 {
		t.Errorf("left aside: %v", a)
	}
}

func TestUpgradeRefusals(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "postgres", "db", "postgres:17")
	for version, want := range map[string]string{
		"15": "Refusing to downgrade postgres service db from 17 to 15",
		"17": "Postgres service db already runs postgres:17",
	} {
		if err := upgrade(tm, svc, version); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("upgrade to %s: %v, want %q", version, err, want)
		}
	}
	if _, err := tm.serviceUpgrade(context.Background(), api.ServiceUpgrade{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}}, tm.out); err == nil || !strings.Contains(err.Error(), "Please specify --image-version") {
		t.Errorf("upgrade without a version: %v", err)
	}
}

// TestUpgradeInPlace: a same-major upgrade whose new container does not
// come up goes back to the old image.
func TestUpgradeInPlace(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "redis", "cache", "redis:7")
	tm.eng.images["redis:7.2"] = true
	tm.eng.failStart["redis:7.2"] = errors.New("fake: exec format error")
	err := upgrade(tm, svc, "7.2")
	if err == nil || !strings.Contains(err.Error(), "upgrade failed, redis:7 is running again with its data: fake: exec format error") {
		t.Fatalf("upgrade error = %v", err)
	}
	delete(tm.eng.failStart, "redis:7.2")
	if err := upgrade(tm, svc, "7.2"); err != nil {
		t.Fatal(err)
	}
	if d, _ := tm.eng.InspectContainer(context.Background(), tm.serviceContainer(svc)); d.Image != "redis:7.2" || !d.Running {
		t.Errorf("container = %+v", d)
	}
}

func TestUpgradeFailpoint(t *testing.T) {
	t.Setenv("BERTH_FAILPOINTS", "upgrade-a,upgrade-b")
	if err := upgradeFailpoint("b"); err == nil || err.Error() != "failpoint upgrade-b" {
		t.Errorf("failpoint b = %v", err)
	}
	if err := upgradeFailpoint("c"); err != nil {
		t.Errorf("failpoint c = %v", err)
	}
	file := filepath.Join(t.TempDir(), "fp")
	os.WriteFile(file, []byte("upgrade-c\n"), 0o600)
	t.Setenv("BERTH_FAILPOINTS", "@"+file)
	if err := upgradeFailpoint("c"); err == nil {
		t.Error("failpoint from file not seen")
	}
}
