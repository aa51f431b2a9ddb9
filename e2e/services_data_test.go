package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// berthSplit runs berth with stdin and returns stdout and stderr apart.
func (d *daemon) berthSplit(stdin []byte, args ...string) (stdout, stderr []byte, code int) {
	cmd := exec.Command(filepath.Join(binDir, "berth"), args...)
	cmd.Env = d.env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		return nil, []byte(err.Error()), -1
	}
	return o.Bytes(), e.Bytes(), code
}

// mustExport exports a service and checks that stdout holds only the dump.
func (d *daemon) mustExport(t *testing.T, kind, name, magic string) []byte {
	t.Helper()
	out, errOut, code := d.berthSplit(nil, kind+":export", name)
	if code != 0 || !bytes.HasPrefix(out, []byte(magic)) {
		t.Fatalf("%s:export %s: exit %d, %d bytes starting %q\n%s", kind, name, code, len(out), out[:min(len(out), 16)], errOut)
	}
	if len(errOut) != 0 {
		t.Errorf("%s:export %s wrote to stderr: %q", kind, name, errOut)
	}
	return out
}

// sql runs SQL in a postgres service and returns psql's unaligned output.
func (d *daemon) dataSQL(t *testing.T, name, query string) string {
	t.Helper()
	out, errOut, code := d.berthSplit([]byte(`\pset tuples_only on`+"\n"+`\pset format unaligned`+"\n"+query+"\n"), "postgres:connect", name)
	if code != 0 {
		t.Fatalf("psql on %s: exit %d\n%s%s", name, code, out, errOut)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "Tuples only") && !strings.HasPrefix(l, "Output format") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// redisCmd runs redis-cli commands in a redis service.
func (d *daemon) dataRedis(t *testing.T, name, cmds string) string {
	t.Helper()
	out, code := d.berthIn(strings.NewReader(cmds), "redis:connect", name)
	if code != 0 {
		t.Fatalf("redis-cli on %s: exit %d\n%s", name, code, out)
	}
	return strings.TrimSpace(out)
}

// errorLines returns berth's error lines (" !     ...").
func dataErrorLines(out []byte) []string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, " !") {
			lines = append(lines, l)
		}
	}
	return lines
}

func (d *daemon) dataInfo(t *testing.T, kind, name string) api.ServiceInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := api.ServicesInfo.Call(ctx, api.NewClient(d.socket()), api.ServiceRef{Kind: kind, Name: name})
	if err != nil {
		t.Fatalf("info %s %s: %v", kind, name, err)
	}
	return info
}

func (d *daemon) dataStop(t *testing.T, kind, name string) {
	t.Helper()
	d.mustBerth(t, kind+":stop", name)
	if st := d.dataInfo(t, kind, name).Status; st != "exited" {
		t.Fatalf("%s %s after %s:stop: %s", kind, name, kind, st)
	}
}

func (d *daemon) dataBackups(t *testing.T, kind, name string, dir ...string) []api.BackupFile {
	t.Helper()
	var res api.BackupList
	decodeJSON(t, d.mustBerth(t, append(append([]string{kind + ":backup-list", name}, dir...), "--format", "json")...), &res)
	return res.Files
}

const dataRowsQuery = "select string_agg(id || ':' || v, ',' order by id) from items;"

// TestPostgresExportImportClone: export streams a pg_dump archive (and
// only it) to stdout, import restores it into another service, a corrupt
// or foreign dump changes nothing, and clone copies a service whole or not
// at all.
func TestPostgresExportImportClone(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "postgres:create", "src", "--custom-env", "TZ=Europe/Paris", "--memory", "300")
	d.dataSQL(t, "src", "create table items (id int primary key, v text); insert into items select g, 'item' || g from generate_series(1, 300) g;")
	want := d.dataSQL(t, "src", dataRowsQuery)
	if !strings.HasPrefix(want, "1:item1,2:item2,") {
		t.Fatalf("rows in src: %q", want)
	}
	dump := d.mustExport(t, "postgres", "src", "PGDMP")

	d.mustBerth(t, "postgres:create", "dst")
	d.dataSQL(t, "dst", "create table items (id int primary key, v text); insert into items values (1, 'old');")
	if out, code := d.berthIn(bytes.NewReader(dump), "postgres:import", "dst"); code != 0 {
		t.Fatalf("postgres:import: exit %d\n%s", code, out)
	}
	if got := d.dataSQL(t, "dst", dataRowsQuery); got != want {
		t.Errorf("rows after import = %.80q..., want %.80q...", got, want)
	}

	// A dump cut short with garbage after it: one clear line, exit 1, and
	// the rows stay (pg_restore runs in one transaction).
	d.dataSQL(t, "dst", "delete from items where id > 10;")
	kept := d.dataSQL(t, "dst", dataRowsQuery)
	corrupt := append(append([]byte{}, dump[:len(dump)*2/3]...), bytes.Repeat([]byte{0x5a}, 512)...)
	out, errOut, code := d.berthSplit(corrupt, "postgres:import", "dst")
	if lines := dataErrorLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "pg_restore") || !strings.Contains(lines[0], "left as it was") {
		t.Errorf("corrupt import: exit %d, error lines %q\n%s%s", code, lines, out, errOut)
	}
	if got := d.dataSQL(t, "dst", dataRowsQuery); got != kept {
		t.Errorf("rows after a corrupt import = %q, want %q", got, kept)
	}
	// Not a pg_dump archive at all.
	out, errOut, code = d.berthSplit([]byte("select 1;\n"), "postgres:import", "dst")
	if lines := dataErrorLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "not a pg_dump custom-format archive") {
		t.Errorf("plain SQL import: exit %d, %q\n%s", code, lines, out)
	}
	if got := d.dataSQL(t, "dst", dataRowsQuery); got != kept {
		t.Errorf("rows after a foreign import = %q, want %q", got, kept)
	}
	// Export of a service that does not exist.
	if _, errOut, code := d.berthSplit(nil, "postgres:export", "nope"); code != 1 || !strings.Contains(string(errOut), "does not exist") {
		t.Errorf("export of a missing service: exit %d %q", code, errOut)
	}

	// clone copies the data into a new service of the same image.
	if out, code := d.berth("postgres:clone", "src", "copy"); code != 0 || !strings.Contains(out, "berth/postgres:15") {
		t.Fatalf("postgres:clone: exit %d\n%s", code, out)
	}
	if got := d.dataSQL(t, "copy", dataRowsQuery); got != want {
		t.Errorf("rows in the clone = %.80q..., want %.80q...", got, want)
	}
	if info := d.dataInfo(t, "postgres", "copy"); info.Image != "berth/postgres:15" || info.Status != "running" || info.CustomEnv != "TZ=Europe/Paris" {
		t.Errorf("clone info: %+v", info)
	}
	if out := d.mustBerth(t, "postgres:enter", "copy", "sh", "-c", "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"); !strings.Contains(out, "314572800") {
		t.Errorf("clone's memory limit: %q, want the source's 300 MB", out)
	}
	// A clone whose copy fails leaves nothing behind.
	d.dataStop(t, "postgres", "src")
	out2, code := d.berth("postgres:clone", "src", "broken")
	if code != 1 || !strings.Contains(out2, "not running") || !strings.Contains(out2, "broken was destroyed") {
		t.Errorf("clone of a stopped service: exit %d\n%s", code, out2)
	}
	if out, code := d.berth("postgres:info", "broken"); code != 1 || !strings.Contains(out, "does not exist") {
		t.Errorf("after a failed clone: %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(d.dataDir, "services", "postgres", "broken")); !os.IsNotExist(err) {
		t.Errorf("failed clone left its files: %v", err)
	}
	if _, err := eng.InspectContainer(context.Background(), d.dataInfo(t, "postgres", "copy").ID); err != nil {
		t.Errorf("the good clone's container: %v", err)
	}
}

// TestRedisExportImport: export writes an RDB snapshot, import replaces
// the data (and the data survives a restart: the append-only file was
// rewritten from it), a corrupt RDB leaves the data as it was, and a
// backup restores through the same path. Each import and restore, failed
// ones too, is recorded and shown by info.
func TestRedisExportImport(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "redis:create", "ra")
	d.mustBerth(t, "redis:create", "rb")
	d.dataRedis(t, "ra", "set greeting hello\nrpush list a b c\nhset h f1 v1 f2 v2\n")
	d.dataRedis(t, "rb", "set stale 1\n")
	rdb := d.mustExport(t, "redis", "ra", "REDIS")
	// The EOF mark of a diskless transfer is not part of the file: it
	// ends with the opcode 0xff and an 8-byte checksum.
	if len(rdb) < 9 || rdb[len(rdb)-9] != 0xff {
		t.Errorf("RDB does not end with EOF opcode and checksum: % x", rdb[max(0, len(rdb)-48):])
	}

	if out, code := d.berthIn(bytes.NewReader(rdb), "redis:import", "rb"); code != 0 {
		t.Fatalf("redis:import: exit %d\n%s", code, out)
	}
	check := func(when string) {
		t.Helper()
		if got := d.dataRedis(t, "rb", "get greeting\nlrange list 0 -1\nhget h f2\nexists stale\n"); got != "hello\na\nb\nc\nv2\n0" {
			t.Errorf("%s: keys = %q", when, got)
		}
	}
	check("after import")
	d.mustBerth(t, "redis:restart", "rb")
	check("after a restart")
	ctx := context.Background()

	// A corrupt RDB: redis refuses it, the old data comes back.
	corrupt := append(append([]byte{}, rdb[:len(rdb)/2]...), []byte("garbage")...)
	out, errOut, code := d.berthSplit(corrupt, "redis:import", "rb")
	if lines := dataErrorLines(errOut); code != 1 || len(lines) == 0 || !strings.Contains(lines[0], "could not be loaded") || !strings.Contains(lines[0], "keeps its old data") {
		t.Errorf("corrupt RDB import: exit %d, %q\n%s", code, lines, out)
	}
	check("after a corrupt import")
	out, errOut, code = d.berthSplit([]byte("not an rdb"), "redis:import", "rb")
	if lines := dataErrorLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "not an RDB file") {
		t.Errorf("non-RDB import: exit %d, %q\n%s", code, lines, out)
	}
	check("after a foreign import")
	root := filepath.Join(d.dataDir, "services", "redis", "rb")
	if entries, _ := os.ReadDir(root); len(entries) != 3 {
		t.Errorf("service root after imports: %v (want config, data and the RESTORES record only)", entries)
	}
	if cs, _ := eng.ListContainers(ctx, map[string]string{"berth.kind": "service-import"}, true); len(cs) != 0 {
		t.Errorf("import containers left: %v", cs)
	}

	// clone copies the keys.
	d.mustBerth(t, "redis:clone", "ra", "rc")
	if got := d.dataRedis(t, "rc", "get greeting\nlrange list 0 -1\nhget h f2\n"); got != "hello\na\nb\nc\nv2" {
		t.Errorf("keys in the clone = %q", got)
	}

	// backup + backup-restore by absolute path.
	dir := filepath.Join(t.TempDir(), "redis-backups")
	out2 := d.mustBerth(t, "redis:backup", "rb", dir)
	files := d.dataBackups(t, "redis", "rb", dir)
	if len(files) != 1 || !strings.HasPrefix(files[0].Name, "redis-rb-") || !strings.HasSuffix(files[0].Name, ".rdb") || !strings.Contains(out2, files[0].Name) {
		t.Fatalf("redis backup: %v\n%s", files, out2)
	}
	d.dataRedis(t, "rb", "flushall\nset after-backup 1\n")
	if out, code := d.berth("redis:backup-restore", "rb", files[0].Path); code != 0 {
		t.Fatalf("redis:backup-restore: exit %d\n%s", code, out)
	}
	check("after backup-restore")
	if got := d.dataRedis(t, "rb", "exists after-backup\n"); got != "0" {
		t.Errorf("key written after the backup survived the restore: %q", got)
	}

	// Every restore is recorded, failed ones too, and info shows them.
	var info struct {
		Restores []struct {
			At          time.Time
			Via, Source string
			OK          bool
			Error       string
		}
	}
	decodeJSON(t, d.mustBerth(t, "redis:info", "rb", "--format", "json"), &info)
	var got []string
	for _, r := range info.Restores {
		got = append(got, fmt.Sprintf("%s %s %v", r.Via, r.Source, r.OK))
		if time.Since(r.At) > 10*time.Minute || (r.OK != (r.Error == "")) {
			t.Errorf("restore record %+v", r)
		}
	}
	want := []string{"import stdin true", "import stdin false", "import stdin false", "backup-restore " + files[0].Path + " true"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("restores recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if last := d.mustBerth(t, "redis:info", "rb", "--restore-last"); !regexp.MustCompile(`^ok \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC backup-restore from ` + regexp.QuoteMeta(files[0].Path) + ` \(4 recorded\)\n$`).MatchString(last) {
		t.Errorf("redis:info --restore-last = %q", last)
	}
}

// TestServiceBackups: a scheduled backup ("@every 2s", keep 2) writes
// files, retention keeps the newest two, backup-list lists them,
// backup-restore brings back deleted rows; a bad schedule is refused; the
// schedule survives a daemon restart; a failed backup (service stopped)
// leaves no file and shows in info.
func TestServiceBackups(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "postgres:create", "db")
	d.dataSQL(t, "db", "create table items (id int primary key, v text); insert into items select g, 'v' || g from generate_series(1, 50) g;")
	want := d.dataSQL(t, "db", dataRowsQuery)
	dir := filepath.Join(t.TempDir(), "backups") // created by the schedule

	// Bad schedules: one line, exit 1, nothing saved.
	for _, bad := range []string{"* * *", "61 * * * *", "@every 100ms", "sometimes"} {
		out, errOut, code := d.berthSplit(nil, "postgres:backup-schedule", "db", bad, dir)
		if lines := dataErrorLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "Invalid backup schedule") {
			t.Errorf("backup-schedule %q: exit %d, %q\n%s", bad, code, lines, out)
		}
	}
	if out, code := d.berth("postgres:backup-schedule", "db", "@daily", "relative/dir"); code != 1 || !strings.Contains(out, "absolute path") {
		t.Errorf("relative dir: exit %d %q", code, out)
	}
	if out, code := d.berth("postgres:backup-schedule-cat", "db"); code != 1 || !strings.Contains(out, "no backup schedule") {
		t.Errorf("schedule-cat without a schedule: exit %d %q", code, out)
	}
	if info := d.dataInfo(t, "postgres", "db"); info.Backup.Schedule != "" {
		t.Errorf("a refused schedule was saved: %+v", info.Backup)
	}

	d.mustBerth(t, "postgres:backup-schedule", "db", "@every 2s", dir, "--keep", "2")
	if got := strings.TrimSpace(d.mustBerth(t, "postgres:backup-schedule-cat", "db")); got != `"@every 2s" `+dir+" --keep 2" {
		t.Errorf("backup-schedule-cat = %q", got)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("backup dir: %v %v", st, err)
	}
	// Wait until at least 3 distinct backups were written.
	seen := map[string]bool{}
	waitFor(t, 90*time.Second, "three scheduled backups", func() bool {
		for _, f := range d.dataBackups(t, "postgres", "db") {
			seen[f.Name] = true
		}
		return len(seen) >= 3
	})
	// The schedule survives a daemon restart.
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.stop(syscall.SIGKILL)
	d = d2
	before := len(seen)
	waitFor(t, 60*time.Second, "a scheduled backup after the daemon restart", func() bool {
		for _, f := range d.dataBackups(t, "postgres", "db") {
			seen[f.Name] = true
		}
		return len(seen) > before
	})
	d.mustBerth(t, "postgres:backup-unschedule", "db")
	files := d.dataBackups(t, "postgres", "db", dir)
	if len(files) != 2 {
		t.Fatalf("retention kept %d files, want 2: %v", len(files), files)
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	if newest := dataMax(names); files[1].Name != newest || files[0].Name >= files[1].Name {
		t.Errorf("kept %s, %s; newest seen %s", files[0].Name, files[1].Name, newest)
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Name, "postgres-db-") || !strings.HasSuffix(f.Name, ".dump") || f.Size == 0 {
			t.Errorf("backup file %+v", f)
		}
	}
	if out := d.mustBerth(t, "postgres:backup-list", "db", dir); !strings.Contains(out, files[0].Name) || !strings.Contains(out, files[1].Name) {
		t.Errorf("backup-list output: %q", out)
	}
	info := d.dataInfo(t, "postgres", "db")
	if info.Backup.LastOK.IsZero() || info.Backup.Schedule != "" {
		t.Errorf("info after scheduled backups: %+v", info.Backup)
	}

	// backup-restore by name brings back what was deleted.
	d.dataSQL(t, "db", "delete from items where id % 2 = 0; insert into items values (1000, 'new');")
	if out, code := d.berth("postgres:backup-restore", "db", files[1].Name); code != 1 || !strings.Contains(out, "no backup schedule") {
		t.Errorf("restore by name without a schedule: exit %d %q", code, out)
	}
	if out, code := d.berth("postgres:backup-restore", "db", files[1].Path); code != 0 {
		t.Fatalf("backup-restore: exit %d\n%s", code, out)
	}
	if got := d.dataSQL(t, "db", dataRowsQuery); got != want {
		t.Errorf("rows after backup-restore = %.60q..., want %.60q...", got, want)
	}
	// By name, with the schedule's directory (a schedule that will not
	// fire during the test).
	d.mustBerth(t, "postgres:backup-schedule", "db", "0 3 1 1 *", dir)
	d.dataSQL(t, "db", "delete from items;")
	d.mustBerth(t, "postgres:backup-restore", "db", files[0].Name)
	if got := d.dataSQL(t, "db", dataRowsQuery); got != want {
		t.Errorf("rows after backup-restore by name = %.60q..., want %.60q...", got, want)
	}
	if out, code := d.berth("postgres:backup-restore", "db", "postgres-db-19990101-000000.dump"); code != 1 || !strings.Contains(out, "cannot be opened") {
		t.Errorf("restore of a missing file: exit %d %q", code, out)
	}

	// A failed backup: no file, not listed, exit 1, shown in info.
	d.dataStop(t, "postgres", "db")
	out, errOut, code := d.berthSplit(nil, "postgres:backup", "db", dir)
	if lines := dataErrorLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "Backup of postgres service db failed") || !strings.Contains(lines[0], "not running") {
		t.Errorf("backup of a stopped service: exit %d, %q\n%s", code, lines, out)
	}
	if got := d.dataBackups(t, "postgres", "db"); len(got) != 2 {
		t.Errorf("after a failed backup: %v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files in the backup dir after a failed backup: %v", entries)
	}
	info = d.dataInfo(t, "postgres", "db")
	if info.Backup.LastFailed.IsZero() || !info.Backup.LastFailed.After(info.Backup.LastOK) || !strings.Contains(info.Backup.LastError, "not running") || !strings.Contains(info.Backup.Schedule, "0 3 1 1 *") {
		t.Errorf("info after a failed backup: %+v", info.Backup)
	}
	if out := d.mustBerth(t, "postgres:info", "db"); !strings.Contains(out, "FAILED") || !strings.Contains(out, "not running") || !strings.Contains(out, "0 3 1 1 *") {
		t.Errorf("postgres:info after a failed backup:\n%s", out)
	}
	// An unusable directory fails the same way.
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, []byte("x"), 0o600)
	if out, code := d.berth("postgres:backup", "db", filepath.Join(file, "sub")); code != 1 || !strings.Contains(out, "failed") {
		t.Errorf("backup into a file's subdir: exit %d %q", code, out)
	}
	// A scheduled run that fails is recorded too.
	failedAt := d.dataInfo(t, "postgres", "db").Backup.LastFailed
	d.mustBerth(t, "postgres:backup-schedule", "db", "@every 1s", dir, "--keep", "1")
	waitFor(t, 60*time.Second, "a failed scheduled backup", func() bool {
		return d.dataInfo(t, "postgres", "db").Backup.LastFailed.After(failedAt)
	})
	d.mustBerth(t, "postgres:backup-unschedule", "db")
	if got := d.dataBackups(t, "postgres", "db", dir); len(got) != 2 {
		t.Errorf("failed scheduled runs changed the files (retention must not run): %v", got)
	}
	if out := d.mustBerth(t, "postgres:backup-unschedule", "db"); !strings.Contains(out, "had no backup schedule") {
		t.Errorf("second unschedule: %q", out)
	}
}

func dataMax(s []string) string {
	m := ""
	for _, v := range s {
		m = max(m, v)
	}
	return m
}
