package services

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
)

func TestCompareCounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		recorded, restored map[string]int64
		differ             int
		rows               int64
		example            string
		tables             []api.TableCount
	}{
		{name: "equal", recorded: map[string]int64{"public.a": 3, "public.b": 0}, restored: map[string]int64{"public.b": 0, "public.a": 3},
			rows: 3, tables: []api.TableCount{{Table: "public.a", Recorded: 3, Restored: 3}, {Table: "public.b", Recorded: 0, Restored: 0}}},
		{name: "empty", recorded: map[string]int64{}, restored: map[string]int64{}},
		{name: "fewer rows", recorded: map[string]int64{"public.a": 3, "public.b": 5}, restored: map[string]int64{"public.a": 3, "public.b": 4},
			differ: 1, rows: 7, example: "public.b: 5 rows recorded, 4 restored",
			tables: []api.TableCount{{Table: "public.a", Recorded: 3, Restored: 3}, {Table: "public.b", Recorded: 5, Restored: 4}}},
		{name: "more rows differ too", recorded: map[string]int64{"public.a": 3}, restored: map[string]int64{"public.a": 4},
			differ: 1, rows: 4, example: "public.a: 3 rows recorded, 4 restored", tables: []api.TableCount{{Table: "public.a", Recorded: 3, Restored: 4}}},
		{name: "table missing after the restore", recorded: map[string]int64{"public.a": 3, `public."Gone"`: 0}, restored: map[string]int64{"public.a": 3},
			differ: 1, rows: 3, example: `public."Gone" is missing after the restore (0 rows recorded)`,
			tables: []api.TableCount{{Table: `public."Gone"`, Recorded: 0, Restored: -1}, {Table: "public.a", Recorded: 3, Restored: 3}}},
		{name: "table not recorded", recorded: map[string]int64{}, restored: map[string]int64{"s.new": 2},
			differ: 1, rows: 2, example: "s.new was not in the backup's record (2 rows restored)", tables: []api.TableCount{{Table: "s.new", Recorded: -1, Restored: 2}}},
		{name: "several", recorded: map[string]int64{"a.x": 1, "b.y": 2}, restored: map[string]int64{"a.x": 0},
			differ: 2, rows: 0, example: "a.x: 1 rows recorded, 0 restored",
			tables: []api.TableCount{{Table: "a.x", Recorded: 1, Restored: 0}, {Table: "b.y", Recorded: 2, Restored: -1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := compareCounts(tc.recorded, tc.restored)
			if d.Differ != tc.differ || d.Rows != tc.rows || d.Example != tc.example || !reflect.DeepEqual(d.Tables, tc.tables) {
				t.Errorf("compareCounts = %+v\nwant differ %d rows %d example %q tables %+v", d, tc.differ, tc.rows, tc.example, tc.tables)
			}
		})
	}
}

func TestParseCounts(t *testing.T) {
	t.Parallel()
	got, err := parseCounts("public.a=3\npublic.\"x=y\"=0\r\n\nother.b=12\n")
	want := map[string]int64{"public.a": 3, `public."x=y"`: 0, "other.b": 12}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseCounts = %v, %v", got, err)
	}
	for _, bad := range []string{"no equals\n", "public.a=-1\n", "public.a=x\n", "=3\n"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q): no error", bad)
		}
	}
}

// The counted dump's stderr: counts and the exit line are taken out in
// whatever pieces they arrive; the rest is kept for the error.
func TestCountedStderr(t *testing.T) {
	t.Parallel()
	in := "berth-count public.a=3\nberth-count public.\"We ird\"=1\npg_dump: warning: x\nberth-dump-exit 0\n"
	for _, size := range []int{1, 3, 7, len(in)} {
		c := &countedStderr{counts: map[string]int64{}}
		for i := 0; i < len(in); i += size {
			c.Write([]byte(in[i:min(i+size, len(in))]))
		}
		if want := map[string]int64{"public.a": 3, `public."We ird"`: 1}; !reflect.DeepEqual(c.counts, want) || c.exit != "0" || c.other.String() != "pg_dump: warning: x\n" {
			t.Errorf("pieces of %d: counts %v exit %q other %q", size, c.counts, c.exit, c.other.String())
		}
	}
}

func TestCountedDumpScript(t *testing.T) {
	t.Parallel()
	s := countedDumpScript("shop_db")
	for _, want := range []string{
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n",
		`SELECT pg_export_snapshot() AS berth_snap \gset`,
		`pg_dump -Fc -U postgres --snapshot="$BERTH_SNAP" shop_db; echo "berth-dump-exit $?" >&2`,
		"\\o /dev/stderr\n", "\\o\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	// The counts are taken before pg_dump runs, in the same transaction.
	if strings.Index(s, countTablesSQL) > strings.Index(s, "pg_dump") || !strings.HasSuffix(s, "COMMIT;\n") {
		t.Errorf("script order:\n%s", s)
	}
}

func TestWriteCountTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	writeCountTable(&b, []api.TableCount{{Table: "public.items", Recorded: 10, Restored: 10}, {Table: "public.x", Recorded: 5, Restored: -1}}, true)
	want := "       TABLE             RECORDED      RESTORED\n" +
		"       public.items            10            10  ok\n" +
		"       public.x                 5             -  DIFFERS\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestCheckPGDump(t *testing.T) {
	t.Parallel()
	var r io.Reader
	if err := checkPGDump(strings.NewReader("PGDMPrest"), &r); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != "PGDMPrest" {
		t.Errorf("after the check: %q", b)
	}
	for _, bad := range []string{"", "PGD", "garbage here"} {
		if err := checkPGDump(strings.NewReader(bad), &r); err == nil {
			t.Errorf("checkPGDump(%q): no error", bad)
		}
	}
}

// TestBackupVerify: a backup records its counts; a drill restores it into
// a throw-away container (removed after), passes while the counts match and
// fails with one line when they do not; info shows the last drill; a
// schedule with --verify runs one after each backup.
func TestBackupVerify(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "postgres", "db", "postgres:17")
	tm.eng.rows["postgres:17"] = "public.a=3\npublic.b=0\n"
	ctx := context.Background()
	ref := api.ServiceRef{Kind: "postgres", Name: "db"}
	dir := filepath.Join(t.TempDir(), "backups")
	live := func() string { return tm.eng.find("berth.postgres.db").ID }
	before := live()

	if _, err := tm.serviceBackupVerify(ctx, api.ServiceBackupVerify{ServiceRef: ref}, tm.out); err == nil || !strings.Contains(err.Error(), "has no backup schedule") {
		t.Errorf("verify without a schedule or file: %v", err)
	}
	f, err := tm.serviceBackup(ctx, api.ServiceBackup{ServiceRef: ref, Dir: dir}, tm.out)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	d, err := tm.serviceBackupVerify(ctx, api.ServiceBackupVerify{ServiceRef: ref, File: f.Path}, api.Output{Stdout: &out})
	if err != nil || !d.OK || !d.Compared || d.Tables != 2 || d.Rows != 3 || d.File != f.Path {
		t.Fatalf("verify = %+v, %v\n%s", d, err, out.String())
	}
	for _, want := range []string{"Starting a throw-away postgres:17 container (berth-drill.postgres.db.", "public.a             3             3  ok\n",
		"=====> Restore drill passed: 2 tables, 3 rows, every count as recorded at backup time\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if string(tm.eng.restored) != "PGDMP dump of berth.postgres.db" {
		t.Errorf("restored %q", tm.eng.restored)
	}
	if left, _ := tm.eng.ListContainers(ctx, map[string]string{"berth.kind": drillKind}, true); len(left) != 0 {
		t.Errorf("throw-away containers left: %+v", left)
	}
	if live() != before {
		t.Error("the live service's container changed")
	}

	// The restore finds a row less: the drill fails, one line.
	tm.eng.rows["postgres:17"] = "public.a=2\npublic.b=0\n"
	out.Reset()
	_, err = tm.serviceBackupVerify(ctx, api.ServiceBackupVerify{ServiceRef: ref, File: f.Path}, api.Output{Stdout: &out})
	want := "Restore drill of postgres service db from " + f.Name + " failed: 1 of 2 tables differs from the counts recorded at backup time (public.a: 3 rows recorded, 2 restored)"
	if err == nil || err.Error() != want {
		t.Errorf("drill with a count off: %v\nwant %s", err, want)
	}
	if !strings.Contains(out.String(), "public.a             3             2  DIFFERS\n") {
		t.Errorf("output:\n%s", out.String())
	}
	info, _ := tm.serviceInfo(ctx, ref, api.Output{})
	if ld := info.Backup.LastDrill; ld == nil || ld.OK || ld.File != f.Path || !strings.Contains(ld.Error, "1 of 2 tables differs") || ld.Counts != nil {
		t.Errorf("info's last drill = %+v", ld)
	}

	// Not a dump: fails before any container.
	bad := filepath.Join(dir, "postgres-db-20250101-000000.dump")
	os.WriteFile(bad, []byte("garbage"), 0o600)
	if _, err := tm.serviceBackupVerify(ctx, api.ServiceBackupVerify{ServiceRef: ref, File: bad}, tm.out); err == nil || !strings.Contains(err.Error(), "not a pg_dump custom-format archive") {
		t.Errorf("drill of garbage: %v", err)
	}
	if left, _ := tm.eng.ListContainers(ctx, map[string]string{"berth.kind": drillKind}, true); len(left) != 0 {
		t.Errorf("throw-away containers left: %+v", left)
	}

	// A schedule with --verify: the newest backup by default, and a drill
	// after each scheduled backup; a failed one is told as a failed backup.
	var told []string
	tm.backupFailed = func(kind, name string, err error) { told = append(told, err.Error()) }
	if _, err := tm.serviceBackupSchedule(ctx, api.ServiceBackupSchedule{ServiceRef: ref, Schedule: "@daily", Dir: dir, Verify: true}, api.Output{}); err != nil {
		t.Fatal(err)
	}
	if cat, _ := tm.serviceBackupScheduleCat(ctx, ref, api.Output{}); !cat.Verify {
		t.Errorf("schedule-cat = %+v", cat)
	}
	tm.eng.rows["postgres:17"] = "public.a=3\npublic.b=0\n"
	tm.scheduledBackup("postgres", "db", svc.ID)
	info, _ = tm.serviceInfo(ctx, ref, api.Output{})
	if ld := info.Backup.LastDrill; ld == nil || !ld.OK || !ld.Scheduled || len(told) != 0 {
		t.Errorf("after a scheduled backup: last drill %+v, told %q", ld, told)
	}
	if !strings.HasSuffix(info.Backup.Schedule, ", a restore drill after each") {
		t.Errorf("info's schedule = %q", info.Backup.Schedule)
	}
	d, err = tm.serviceBackupVerify(ctx, api.ServiceBackupVerify{ServiceRef: ref}, api.Output{})
	if err != nil || d.File != info.Backup.LastDrill.File {
		t.Errorf("verify of the newest = %+v, %v (newest %s)", d, err, info.Backup.LastDrill.File)
	}
	// A drill that cannot run after a scheduled backup (encrypted to a
	// recipient since the schedule was set) is told, and keeps the older
	// backups.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.serviceBackupSetEncryption(ctx, api.ServiceBackupEncryption{ServiceRef: ref, Recipients: []string{id.Recipient().String()}}, api.Output{}); err != nil {
		t.Fatal(err)
	}
	tm.scheduledBackup("postgres", "db", svc.ID)
	if len(told) != 1 || !strings.Contains(told[0], "Restore drill of postgres service db from ") || !strings.Contains(told[0], "is encrypted") {
		t.Errorf("told %q", told)
	}
	if _, err := tm.serviceBackupSchedule(ctx, api.ServiceBackupSchedule{ServiceRef: ref, Schedule: "@daily", Dir: dir, Verify: true}, api.Output{}); err == nil || !strings.Contains(err.Error(), "encrypted to age recipients") {
		t.Errorf("--verify with recipients: %v", err)
	}
	// With the identity, by hand, it passes.
	if d, err := tm.serviceBackupVerify(ctx, api.ServiceBackupVerify{ServiceRef: ref, Identity: id.String()}, api.Output{}); err != nil || !d.OK || !strings.HasSuffix(d.File, ".age") {
		t.Errorf("verify with the identity = %+v, %v", d, err)
	}

	// Redis: no drills yet; --verify refused.
	tm.create(t, "redis", "cache", "redis:7")
	if _, err := tm.serviceBackupVerify(ctx, api.ServiceBackupVerify{ServiceRef: api.ServiceRef{Kind: "redis", Name: "cache"}}, api.Output{}); err == nil || !strings.Contains(err.Error(), "Restore drills are for postgres services") {
		t.Errorf("redis drill: %v", err)
	}
	if _, err := tm.serviceBackupSchedule(ctx, api.ServiceBackupSchedule{ServiceRef: api.ServiceRef{Kind: "redis", Name: "cache"}, Schedule: "@daily", Dir: dir, Verify: true}, api.Output{}); err == nil || !strings.Contains(err.Error(), "--verify: restore drills are for postgres services") {
		t.Errorf("redis --verify: %v", err)
	}
}

// An interrupted drill removes its container and is not recorded.
func TestBackupVerifyCancelled(t *testing.T) {
	tm := newTestManager(t)
	tm.create(t, "postgres", "db", "postgres:17")
	tm.eng.rows["postgres:17"] = "public.a=3\n"
	ref := api.ServiceRef{Kind: "postgres", Name: "db"}
	dir := filepath.Join(t.TempDir(), "backups")
	f, err := tm.serviceBackup(context.Background(), api.ServiceBackup{ServiceRef: ref, Dir: dir}, tm.out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Cancelled once the throw-away container runs: the readiness check
	// fails from then on.
	tm.eng.neverReady["postgres:17"] = true
	go func() {
		for {
			if left, _ := tm.eng.ListContainers(context.Background(), map[string]string{"berth.kind": drillKind}, true); len(left) == 1 {
				cancel()
				return
			}
		}
	}()
	if _, err := tm.serviceBackupVerify(ctx, api.ServiceBackupVerify{ServiceRef: ref, File: f.Path}, api.Output{}); err == nil {
		t.Fatal("an interrupted drill passed")
	}
	if left, _ := tm.eng.ListContainers(context.Background(), map[string]string{"berth.kind": drillKind}, true); len(left) != 0 {
		t.Errorf("throw-away containers left: %+v", left)
	}
	if info, _ := tm.serviceInfo(context.Background(), ref, api.Output{}); info.Backup.LastDrill != nil {
		t.Errorf("an interrupted drill was recorded: %+v", info.Backup.LastDrill)
	}
}

// RemoveLeftoverDrills removes the containers a crash left, not those of
// a drill running now.
func TestRemoveLeftoverDrills(t *testing.T) {
	tm := newTestManager(t)
	ctx := context.Background()
	labels := map[string]string{"berth.instance": "test", "berth.kind": drillKind}
	old, _ := tm.eng.CreateContainer(ctx, docker.ContainerSpec{Name: "berth-drill.postgres.db.aaaaaa", Image: "postgres:17", Labels: labels})
	tm.eng.CreateContainer(ctx, docker.ContainerSpec{Name: "berth-drill.postgres.db.bbbbbb", Image: "postgres:17", Labels: labels})
	tm.eng.CreateContainer(ctx, docker.ContainerSpec{Name: "other", Image: "postgres:17", Labels: map[string]string{"berth.instance": "test", "berth.kind": "service"}})
	tm.drills.Store("berth-drill.postgres.db.bbbbbb", true)
	tm.RemoveLeftoverDrills(ctx)
	if tm.eng.find(old) != nil || tm.eng.find("berth-drill.postgres.db.bbbbbb") == nil || tm.eng.find("other") == nil {
		t.Errorf("after RemoveLeftoverDrills: %v", tm.eng.calls)
	}
}
