package services

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

// TestBackupCommands: a backup, the list, a restore from it, schedules,
// and retention, on the fake engine's pg_dump.
func TestBackupCommands(t *testing.T) {
	tm := newTestManager(t)
	tm.create(t, "postgres", "db", "postgres:17")
	ctx := context.Background()
	ref := api.ServiceRef{Kind: "postgres", Name: "db"}
	dir := filepath.Join(t.TempDir(), "backups")

	f, err := tm.serviceBackup(ctx, api.ServiceBackup{ServiceRef: ref, Dir: dir}, tm.out)
	if err != nil || f.Name != "postgres-db-20250102-030405.dump" || f.Size != int64(len("PGDMP dump of berth.postgres.db")) {
		t.Fatalf("backup = %+v, %v", f, err)
	}
	if b, _ := os.ReadFile(f.Path); string(b) != "PGDMP dump of berth.postgres.db" {
		t.Errorf("backup file holds %q", b)
	}
	// Same second: a sequence number.
	if f2, err := tm.serviceBackup(ctx, api.ServiceBackup{ServiceRef: ref, Dir: dir}, tm.out); err != nil || f2.Name != "postgres-db-20250102-030405-1.dump" {
		t.Errorf("second backup = %+v, %v", f2, err)
	}
	if _, err := tm.serviceBackup(ctx, api.ServiceBackup{ServiceRef: ref, Dir: "relative"}, tm.out); err == nil || !strings.Contains(err.Error(), "no backup credentials: run postgres:backup-auth to back up to bucket relative, or give an absolute path") {
		t.Errorf("backup to a relative dir: %v", err)
	}

	// Without a schedule, list and restore by name need the directory.
	if _, err := tm.serviceBackupList(ctx, api.ServiceBackupList{ServiceRef: ref}, api.Output{}); err == nil || !strings.Contains(err.Error(), "has no backup schedule") {
		t.Errorf("list without a schedule: %v", err)
	}
	keep := 1
	sched, err := tm.serviceBackupSchedule(ctx, api.ServiceBackupSchedule{ServiceRef: ref, Schedule: " 0  3 * * * ", Dir: dir, Keep: &keep}, api.Output{})
	if err != nil || sched.Schedule != "0 3 * * *" || sched.Keep != 1 {
		t.Fatalf("schedule = %+v, %v", sched, err)
	}
	if cat, err := tm.serviceBackupScheduleCat(ctx, ref, api.Output{}); err != nil || cat != sched {
		t.Errorf("schedule-cat = %+v, %v", cat, err)
	}
	if _, err := tm.serviceBackupSchedule(ctx, api.ServiceBackupSchedule{ServiceRef: ref, Schedule: "@sometimes", Dir: dir}, api.Output{}); err == nil || !strings.Contains(err.Error(), `Invalid backup schedule "@sometimes"`) {
		t.Errorf("bad schedule: %v", err)
	}
	list, err := tm.serviceBackupList(ctx, api.ServiceBackupList{ServiceRef: ref}, api.Output{})
	if err != nil || list.Dir != dir || len(list.Files) != 2 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	info, _ := tm.serviceInfo(ctx, ref, api.Output{})
	if info.Backup.Schedule != "0 3 * * * to "+dir+" (keep 1)" || info.Backup.LastOK.IsZero() {
		t.Errorf("info's backup = %+v", info.Backup)
	}

	// Restore by name from the scheduled directory.
	if _, err := tm.serviceBackupRestore(ctx, api.ServiceBackupRestore{ServiceRef: ref, File: list.Files[0].Name}, tm.out); err != nil {
		t.Fatal(err)
	}
	if string(tm.eng.restored) != "PGDMP dump of berth.postgres.db" {
		t.Errorf("restored %q", tm.eng.restored)
	}
	if _, err := tm.serviceBackupRestore(ctx, api.ServiceBackupRestore{ServiceRef: ref, File: "a/b"}, tm.out); err == nil || !strings.Contains(err.Error(), "give a name from postgres:backup-list, an absolute path or s3://BUCKET/NAME") {
		t.Errorf("restore of a relative path: %v", err)
	}
	// The restore is recorded (the refused one restored nothing).
	info, _ = tm.serviceInfo(ctx, ref, api.Output{})
	if r := info.Restores; len(r) != 1 || r[0].Via != "backup-restore" || r[0].Source != filepath.Join(dir, list.Files[0].Name) || !r[0].OK || !r[0].At.Equal(tm.now()) {
		t.Errorf("restores = %+v", r)
	}

	// A scheduled run keeps the newest one.
	_, svc, _ := tm.loadService(ctx, ref)
	tm.scheduledBackup("postgres", "db", svc.ID)
	list, _ = tm.serviceBackupList(ctx, api.ServiceBackupList{ServiceRef: ref}, api.Output{})
	if len(list.Files) != 1 || list.Files[0].Name != "postgres-db-20250102-030405-2.dump" {
		t.Errorf("after a scheduled run: %+v", list.Files)
	}
	if len(tm.sched.entries) != 1 {
		t.Errorf("scheduler entries = %v", tm.sched.entries)
	}
	if res, err := tm.serviceBackupUnschedule(ctx, ref, api.Output{}); err != nil || !res.Removed || len(tm.sched.entries) != 0 {
		t.Errorf("unschedule = %+v, %v; entries %v", res, err, tm.sched.entries)
	}
	if _, err := tm.serviceBackupScheduleCat(ctx, ref, api.Output{}); err == nil || err.Error() != "Postgres service db has no backup schedule" {
		t.Errorf("schedule-cat after unschedule: %v", err)
	}
	// An unscheduled service's run does nothing.
	tm.scheduledBackup("postgres", "db", svc.ID)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files after an unscheduled run: %v", entries)
	}
}

// TestExportImport: export writes the dump; import refuses what is not a
// dump of the kind.
func TestExportImport(t *testing.T) {
	tm := newTestManager(t)
	tm.create(t, "postgres", "db", "postgres:17")
	tm.create(t, "redis", "cache", "redis:7")
	ctx := context.Background()
	var out bytes.Buffer
	if _, err := tm.serviceExport(ctx, api.ServiceRef{Kind: "postgres", Name: "db"}, &api.Session{Stdout: &out}); err != nil || out.String() != "PGDMP dump of berth.postgres.db" {
		t.Errorf("export = %q, %v", out.String(), err)
	}
	for kind, want := range map[string]string{
		"postgres": "Import into postgres service db failed: the input is not a pg_dump custom-format archive",
		"redis":    "Import into redis service cache failed: the input (8 bytes) is not an RDB file",
	} {
		name := map[string]string{"postgres": "db", "redis": "cache"}[kind]
		_, err := tm.serviceImport(ctx, api.ServiceRef{Kind: kind, Name: name}, &api.Session{Stdin: strings.NewReader("not data"), Stdout: &out, Stderr: &out})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("import into %s: %v", kind, err)
		}
		// A failed import is recorded too, with its error.
		info, _ := tm.serviceInfo(ctx, api.ServiceRef{Kind: kind, Name: name}, api.Output{})
		if r := info.Restores; len(r) != 1 || r[0].Via != "import" || r[0].Source != "stdin" || r[0].OK || !strings.Contains(want, strings.SplitN(r[0].Error, " (", 2)[0]) {
			t.Errorf("restores of %s = %+v", kind, r)
		}
	}
	// Clone: a new service with the source's image and its data.
	tm.eng.restored = nil
	info, err := tm.serviceClone(ctx, api.ServiceClone{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, New: api.ServiceCreate{ServiceRef: api.ServiceRef{Name: "db2"}}}, tm.out)
	if err != nil || info.Image != "postgres:17" || string(tm.eng.restored) != "PGDMP dump of berth.postgres.db" {
		t.Errorf("clone = %+v, %v; restored %q", info, err, tm.eng.restored)
	}
}

func TestServiceImage(t *testing.T) {
	tm := newTestManager(t)
	tm.images["postgres"] = Image{Repo: "berth/postgres"}
	for _, c := range []struct{ kind, image, version, want string }{
		{"postgres", "", "", "berth/postgres:17"},
		{"postgres", "", "15", "berth/postgres:15"},
		{"postgres", "other", "", "other:17"},
		{"redis", "", "", "redis:7"},
		{"redis", "", "8", "redis:8"},
	} {
		if got := tm.serviceImage(serviceKinds[c.kind], c.image, c.version); got != c.want {
			t.Errorf("serviceImage(%s, %q, %q) = %s, want %s", c.kind, c.image, c.version, got, c.want)
		}
	}
	if dbName("shop-db.v2") != "shop_db_v2" || titleKind("redis") != "Redis" || titleKind("x") != "x" || serviceHost("redis", "c") != "dokku-redis-c" {
		t.Error("names")
	}
}
