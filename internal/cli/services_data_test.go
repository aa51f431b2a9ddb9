package cli

import (
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

func TestHumanSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 1024*1024 - 1: "1024.0 KiB",
		5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 1 << 40: "1.0 TiB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestServicesData(t *testing.T) {
	t.Parallel()
	ref := `"kind":"postgres","name":"db"`
	sched := func(keep int) map[string]reply {
		return map[string]reply{"services.backup-schedule": {Resp: api.BackupScheduleInfo{Schedule: "0 3 * * *", Dir: "/backups", Keep: keep}}}
	}
	files := api.BackupList{Dir: "/backups", Files: []api.BackupFile{
		{Name: "db-2026-01-01-030000.dump", Size: 2048, Time: time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)},
		{Name: "db-x.dump", Size: 10, Time: time.Date(2026, 1, 2, 4, 0, 0, 0, time.FixedZone("X", 3600))},
	}}
	runCases(t, []cliCase{
		{args: []string{"postgres:export", "db"}, replies: map[string]reply{"services.export": {Stdout: "PGDMP\x00binary"}}, ops: []string{"services.export"},
			reqs: map[string]string{"services.export": "{" + ref + "}"}, stdout: "PGDMP\x00binary"},
		{args: []string{"postgres:export"}, code: 1, errLine: "Please specify a name for the service"},
		{args: []string{"postgres:export", "db", "file"}, code: 1, errLine: "Unexpected argument(s): file"},
		{args: []string{"redis:export", "gone"}, replies: map[string]reply{"services.export": {Err: api.Errorf(api.CodeNotFound, "Redis service gone does not exist")}},
			code: 1, ops: []string{"services.export"}, errLine: "Redis service gone does not exist"},

		{args: []string{"postgres:import", "db"}, stdin: "DUMP", replies: map[string]reply{"services.import": {}}, ops: []string{"services.import"},
			reqs:   map[string]string{"services.import": "{" + ref + "}"},
			stdout: "-----> Importing data into postgres service db\n-----> Import into postgres service db complete\n"},
		{name: "failed import", args: []string{"postgres:import", "db"}, stdin: "junk", replies: map[string]reply{"services.import": {Err: api.Errorf(api.CodeInvalid, "pg_restore failed; nothing was changed")}},
			code: 1, ops: []string{"services.import"}, stdout: "-----> Importing data into postgres service db\n", errLine: "pg_restore failed; nothing was changed"},

		{args: []string{"postgres:clone", "db", "db2", "-I", "17", "-m", "1g"}, replies: map[string]reply{"services.clone": {Resp: api.ServiceInfo{Name: "db2", Image: "postgres:17", DSN: "postgres://db2"}}},
			ops: []string{"services.clone"}, reqs: map[string]string{"services.clone": "{" + ref + `,"new":{"kind":"postgres","name":"db2","image_version":"17","memory":"1g"}}`},
			stdout: "-----> Cloning postgres service db to db2\n-----> Cloned db to db2 (postgres:17)\n       DSN: postgres://db2\n"},
		{args: []string{"postgres:clone", "db"}, code: 1, errLine: "Usage: berth postgres:clone <name> <new-name> [create flags]"},
		{args: []string{"postgres:clone", "db", "db2", "db3"}, code: 1, errLine: "Unexpected argument(s): db3"},

		{args: []string{"postgres:backup", "db", "/backups"}, replies: map[string]reply{"services.backup": {Resp: api.BackupFile{Path: "/backups/db-x.dump", Size: 1536}}},
			ops: []string{"services.backup"}, reqs: map[string]string{"services.backup": "{" + ref + `,"dir":"/backups"}`},
			stdout: "-----> Backing up postgres service db to /backups\n       Wrote /backups/db-x.dump (1.5 KiB)\n"},
		{args: []string{"postgres:backup", "db"}, code: 1, errLine: "Usage: berth postgres:backup <name> <dir>"},

		{args: []string{"postgres:backup-schedule", "db", "0 3 * * *", "/backups", "--keep", "3"}, replies: sched(3), ops: []string{"services.backup-schedule"},
			reqs:   map[string]string{"services.backup-schedule": "{" + ref + `,"schedule":"0 3 * * *","dir":"/backups","keep":3}`},
			stdout: "-----> Scheduled backups of postgres service db\n       Schedule:   0 3 * * *\n       Directory:  /backups\n       Keep:       newest 3\n"},
		{name: "schedule in words", args: []string{"postgres:backup-schedule", "db", "0", "3", "*", "*", "*", "/backups"}, replies: sched(7), ops: []string{"services.backup-schedule"},
			reqs: map[string]string{"services.backup-schedule": "{" + ref + `,"schedule":"0 3 * * *","dir":"/backups"}`}, has: []string{"Keep:       newest 7\n"}},
		{name: "keep all", args: []string{"postgres:backup-schedule", "db", "@daily", "/backups", "--keep", "0"}, replies: sched(0), ops: []string{"services.backup-schedule"},
			reqs: map[string]string{"services.backup-schedule": "{" + ref + `,"schedule":"@daily","dir":"/backups","keep":0}`}, has: []string{"Keep:       all\n"}},
		{args: []string{"postgres:backup-schedule", "db", "@daily", "/backups", "--keep", "-1"}, code: 1, errLine: "--keep must be a number: 0 (keep all) or more"},
		{args: []string{"postgres:backup-schedule", "db", "@daily"}, code: 1, errLine: "Usage: berth postgres:backup-schedule <name> <schedule> <dir> [--keep N]"},
		{name: "bad schedule", args: []string{"postgres:backup-schedule", "db", "@sometimes", "/backups"}, replies: map[string]reply{"services.backup-schedule": {Err: api.Errorf(api.CodeInvalid, "Invalid schedule @sometimes")}},
			code: 1, ops: []string{"services.backup-schedule"}, errLine: "Invalid schedule @sometimes"},

		{args: []string{"postgres:backup-unschedule", "db"}, replies: map[string]reply{"services.backup-unschedule": {Resp: api.BackupUnscheduleResult{Removed: true}}},
			ops: []string{"services.backup-unschedule"}, reqs: map[string]string{"services.backup-unschedule": "{" + ref + "}"}, stdout: "-----> Unscheduled backups of postgres service db\n"},
		{name: "unschedule nothing", args: []string{"postgres:backup-unschedule", "db"}, replies: map[string]reply{"services.backup-unschedule": {Resp: api.BackupUnscheduleResult{}}},
			ops: []string{"services.backup-unschedule"}, stdout: "-----> postgres service db had no backup schedule\n"},
		{args: []string{"postgres:backup-schedule-cat", "db"}, replies: map[string]reply{"services.backup-schedule-cat": {Resp: api.BackupScheduleInfo{Schedule: "0 3 * * *", Dir: "/backups", Keep: 7}}},
			ops: []string{"services.backup-schedule-cat"}, stdout: `"0 3 * * *" /backups --keep 7` + "\n"},

		{args: []string{"postgres:backup-list", "db"}, replies: map[string]reply{"services.backup-list": {Resp: files}}, ops: []string{"services.backup-list"},
			reqs: map[string]string{"services.backup-list": "{" + ref + "}"},
			stdout: "=====> postgres db backups in /backups\n" +
				"NAME" + sp(23) + sp(6) + "SIZE  TIME (UTC)\n" +
				"db-2026-01-01-030000.dump" + sp(2) + sp(3) + "2.0 KiB  2026-01-01 03:00:00\n" +
				"db-x.dump" + sp(18) + sp(6) + "10 B  2026-01-02 03:00:00\n"},
		{args: []string{"postgres:backup-list", "db", "/old"}, replies: map[string]reply{"services.backup-list": {Resp: api.BackupList{Dir: "/old"}}}, ops: []string{"services.backup-list"},
			reqs: map[string]string{"services.backup-list": "{" + ref + `,"dir":"/old"}`}, stdout: "=====> postgres db backups in /old\n       (none)\n"},
		{args: []string{"postgres:backup-list", "db", "--format", "json"}, replies: map[string]reply{"services.backup-list": {Resp: files}}, ops: []string{"services.backup-list"},
			has: []string{`{"dir":"/backups","files":[{"name":"db-2026-01-01-030000.dump",`, `"size":2048`}},
		{args: []string{"postgres:backup-list", "db", "/a", "/b"}, code: 1, errLine: "Unexpected argument(s): /b"},

		{args: []string{"postgres:backup-restore", "db", "db-x.dump"}, replies: map[string]reply{"services.backup-restore": {Stdout: "-----> Restoring\n"}}, ops: []string{"services.backup-restore"},
			reqs: map[string]string{"services.backup-restore": "{" + ref + `,"file":"db-x.dump"}`}, stdout: "-----> Restoring\n-----> Restored postgres service db from db-x.dump\n"},
		{args: []string{"postgres:backup-restore", "db"}, code: 1, errLine: "Usage: berth postgres:backup-restore <name> <file>"},
	})
}

// TestServiceDataStreams: export and import refuse a terminal (the dump is
// binary) before calling the daemon; import sends stdin through.
func TestServiceDataStreams(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ cmd, want string }{
		{"postgres:export", "The dump is binary: redirect it to a file (berth postgres:export db > FILE)"},
		{"redis:import", "Give the dump on stdin (berth redis:import db < FILE)"},
	} {
		fake := newFake(nil)
		r := runEnv(fake, Env{Terminal: &fakeTerminal{}}, tt.cmd, "db")
		if r.code != 1 || len(fake.ops()) != 0 || r.stdout != "" {
			t.Errorf("%s: exit %d, ops %q, stdout %q", tt.cmd, r.code, fake.ops(), r.stdout)
		}
		checkErrLine(t, r.stderr, tt.want)
	}
	fake := newFake(map[string]reply{"services.import": {}})
	runCLI(fake, "RDB\x00data", "redis:import", "cache")
	if c, _ := fake.last("services.import"); c.Stdin != "RDB\x00data" {
		t.Errorf("daemon read %q", c.Stdin)
	}
}
