package servicecmd

import (
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
	"github.com/berthpaas/berth/internal/cli/clitest"
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
		{Args: []string{"postgres:export", "db"}, Replies: map[string]reply{"services.export": {Stdout: "PGDMP\x00binary"}}, Ops: []string{"services.export"},
			Reqs: map[string]string{"services.export": "{" + ref + "}"}, Stdout: "PGDMP\x00binary"},
		{Args: []string{"postgres:export"}, Code: 1, ErrLine: "Please specify a valid name for the service"},
		{Args: []string{"postgres:export", "db", "file"}, Code: 1, ErrLine: "Unexpected argument(s): file"},
		{Args: []string{"redis:export", "gone"}, Replies: map[string]reply{"services.export": {Err: api.Errorf(api.CodeNotFound, "Redis service gone does not exist")}},
			Code: 1, Ops: []string{"services.export"}, ErrLine: "Redis service gone does not exist"},

		{Args: []string{"postgres:import", "db"}, Stdin: "DUMP", Replies: map[string]reply{"services.import": {}}, Ops: []string{"services.import"},
			Reqs:   map[string]string{"services.import": "{" + ref + "}"},
			Stdout: "-----> Importing data into postgres service db\n-----> Import into postgres service db complete\n"},
		{Name: "failed import", Args: []string{"postgres:import", "db"}, Stdin: "junk", Replies: map[string]reply{"services.import": {Err: api.Errorf(api.CodeInvalid, "pg_restore failed; nothing was changed")}},
			Code: 1, Ops: []string{"services.import"}, Stdout: "-----> Importing data into postgres service db\n", ErrLine: "pg_restore failed; nothing was changed"},

		{Args: []string{"postgres:clone", "db", "db2", "-I", "17", "-m", "1g"}, Replies: map[string]reply{"services.clone": {Resp: api.ServiceInfo{Name: "db2", Image: "postgres:17", DSN: "postgres://db2"}}},
			Ops: []string{"services.clone"}, Reqs: map[string]string{"services.clone": "{" + ref + `,"new":{"kind":"postgres","name":"db2","image_version":"17","memory":"1g"}}`},
			Stdout: "-----> Cloning postgres service db to db2\n-----> Cloned db to db2 (postgres:17)\n       DSN: postgres://db2\n"},
		{Args: []string{"postgres:clone", "db"}, Code: 1, ErrLine: "Usage: berth postgres:clone <name> <new-name> [create flags]"},
		{Args: []string{"postgres:clone", "db", "db2", "db3"}, Code: 1, ErrLine: "Unexpected argument(s): db3"},

		{Args: []string{"postgres:backup", "db", "/backups"}, Replies: map[string]reply{"services.backup": {Resp: api.BackupFile{Path: "/backups/db-x.dump", Size: 1536}}},
			Ops: []string{"services.backup"}, Reqs: map[string]string{"services.backup": "{" + ref + `,"dir":"/backups"}`},
			Stdout: "-----> Backing up postgres service db to /backups\n       Wrote /backups/db-x.dump (1.5 KiB)\n"},
		{Args: []string{"postgres:backup", "db"}, Code: 1, ErrLine: "Usage: berth postgres:backup <name> <dir|bucket-name> [--use-iam] [--keep N]"},

		{Args: []string{"postgres:backup-schedule", "db", "0 3 * * *", "/backups", "--keep", "3"}, Replies: sched(3), Ops: []string{"services.backup-schedule"},
			Reqs:   map[string]string{"services.backup-schedule": "{" + ref + `,"schedule":"0 3 * * *","dir":"/backups","keep":3}`},
			Stdout: "-----> Scheduled backups of postgres service db\n       Schedule:   0 3 * * *\n       Directory:  /backups\n       Keep:       newest 3\n"},
		{Name: "schedule in words", Args: []string{"postgres:backup-schedule", "db", "0", "3", "*", "*", "*", "/backups"}, Replies: sched(7), Ops: []string{"services.backup-schedule"},
			Reqs: map[string]string{"services.backup-schedule": "{" + ref + `,"schedule":"0 3 * * *","dir":"/backups"}`}, Has: []string{"Keep:       newest 7\n"}},
		{Name: "keep all", Args: []string{"postgres:backup-schedule", "db", "@daily", "/backups", "--keep", "0"}, Replies: sched(0), Ops: []string{"services.backup-schedule"},
			Reqs: map[string]string{"services.backup-schedule": "{" + ref + `,"schedule":"@daily","dir":"/backups","keep":0}`}, Has: []string{"Keep:       all\n"}},
		{Args: []string{"postgres:backup-schedule", "db", "@daily", "/backups", "--keep", "-1"}, Code: 1, ErrLine: "--keep must be a number: 0 (keep all) or more"},
		{Args: []string{"postgres:backup-schedule", "db", "@daily"}, Code: 1, ErrLine: "Usage: berth postgres:backup-schedule <name> <schedule> <dir> [--keep N]"},
		{Name: "schedule with drills", Args: []string{"postgres:backup-schedule", "db", "0 3 * * *", "/backups", "--verify"},
			Replies: map[string]reply{"services.backup-schedule": {Resp: api.BackupScheduleInfo{Schedule: "0 3 * * *", Dir: "/backups", Keep: 7, Verify: true}}}, Ops: []string{"services.backup-schedule"},
			Reqs: map[string]string{"services.backup-schedule": "{" + ref + `,"schedule":"0 3 * * *","dir":"/backups","verify":true}`}, Has: []string{"Verify:     a restore drill after each backup\n"}},
		{Name: "redis has no drills", Args: []string{"redis:backup-schedule", "db", "@daily", "/backups", "--verify"}, Code: 1, ErrLine: "Unknown flag --verify"},
		{Args: []string{"postgres:backup-verify", "db"}, Replies: map[string]reply{"services.backup-verify": {Stdout: "=====> Restore drill passed\n"}}, Ops: []string{"services.backup-verify"},
			Reqs: map[string]string{"services.backup-verify": "{" + ref + "}"}, Stdout: "=====> Restore drill passed\n"},
		{Args: []string{"postgres:backup-verify", "db", "s3://b/db.dump", "--passphrase", "pw"}, Replies: map[string]reply{"services.backup-verify": {}}, Ops: []string{"services.backup-verify"},
			Reqs: map[string]string{"services.backup-verify": "{" + ref + `,"file":"s3://b/db.dump","passphrase":"pw"}`}},
		{Name: "drill fails", Args: []string{"postgres:backup-verify", "db", "x.dump"}, Replies: map[string]reply{"services.backup-verify": {Err: api.Errorf(api.CodeInvalid, "Restore drill of postgres service db from x.dump failed: 1 of 2 tables differs")}},
			Code: 1, Ops: []string{"services.backup-verify"}, ErrLine: "Restore drill of postgres service db from x.dump failed: 1 of 2 tables differs"},
		{Args: []string{"postgres:backup-verify", "db", "a", "b"}, Code: 1, ErrLine: "Unexpected argument(s): b"},
		{Args: []string{"postgres:backup-verify", "db", "--passphrase", "p", "--identity-file", "/x"}, Code: 1, ErrLine: "Give --passphrase or --identity-file, not both"},
		{Name: "bad schedule", Args: []string{"postgres:backup-schedule", "db", "@sometimes", "/backups"}, Replies: map[string]reply{"services.backup-schedule": {Err: api.Errorf(api.CodeInvalid, "Invalid schedule @sometimes")}},
			Code: 1, Ops: []string{"services.backup-schedule"}, ErrLine: "Invalid schedule @sometimes"},

		{Args: []string{"postgres:backup-unschedule", "db"}, Replies: map[string]reply{"services.backup-unschedule": {Resp: api.BackupUnscheduleResult{Removed: true}}},
			Ops: []string{"services.backup-unschedule"}, Reqs: map[string]string{"services.backup-unschedule": "{" + ref + "}"}, Stdout: "-----> Unscheduled backups of postgres service db\n"},
		{Name: "unschedule nothing", Args: []string{"postgres:backup-unschedule", "db"}, Replies: map[string]reply{"services.backup-unschedule": {Resp: api.BackupUnscheduleResult{}}},
			Ops: []string{"services.backup-unschedule"}, Stdout: "-----> postgres service db had no backup schedule\n"},
		{Args: []string{"postgres:backup-schedule-cat", "db"}, Replies: map[string]reply{"services.backup-schedule-cat": {Resp: api.BackupScheduleInfo{Schedule: "0 3 * * *", Dir: "/backups", Keep: 7}}},
			Ops: []string{"services.backup-schedule-cat"}, Stdout: `"0 3 * * *" /backups --keep 7` + "\n"},

		{Args: []string{"postgres:backup-list", "db"}, Replies: map[string]reply{"services.backup-list": {Resp: files}}, Ops: []string{"services.backup-list"},
			Reqs: map[string]string{"services.backup-list": "{" + ref + "}"},
			Stdout: "=====> postgres db backups in /backups\n" +
				"NAME" + sp(23) + sp(6) + "SIZE  TIME (UTC)\n" +
				"db-2026-01-01-030000.dump" + sp(2) + sp(3) + "2.0 KiB  2026-01-01 03:00:00\n" +
				"db-x.dump" + sp(18) + sp(6) + "10 B  2026-01-02 03:00:00\n"},
		{Args: []string{"postgres:backup-list", "db", "/old"}, Replies: map[string]reply{"services.backup-list": {Resp: api.BackupList{Dir: "/old"}}}, Ops: []string{"services.backup-list"},
			Reqs: map[string]string{"services.backup-list": "{" + ref + `,"dir":"/old"}`}, Stdout: "=====> postgres db backups in /old\n       (none)\n"},
		{Args: []string{"postgres:backup-list", "db", "--format", "json"}, Replies: map[string]reply{"services.backup-list": {Resp: files}}, Ops: []string{"services.backup-list"},
			Has: []string{`{"dir":"/backups","files":[{"name":"db-2026-01-01-030000.dump",`, `"size":2048`}},
		{Args: []string{"postgres:backup-list", "db", "/a", "/b"}, Code: 1, ErrLine: "Unexpected argument(s): /b"},

		{Args: []string{"postgres:backup-restore", "db", "db-x.dump"}, Replies: map[string]reply{"services.backup-restore": {Stdout: "-----> Restoring\n"}}, Ops: []string{"services.backup-restore"},
			Reqs: map[string]string{"services.backup-restore": "{" + ref + `,"file":"db-x.dump"}`}, Stdout: "-----> Restoring\n-----> Restored postgres service db from db-x.dump\n"},
		{Args: []string{"postgres:backup-restore", "db"}, Code: 1, ErrLine: "Usage: berth postgres:backup-restore <name> <file>"},
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
		r := runEnv(fake, cli.Env{Terminal: &clitest.Terminal{}}, tt.cmd, "db")
		if r.Code != 1 || len(fake.Ops()) != 0 || r.Stdout != "" {
			t.Errorf("%s: exit %d, ops %q, stdout %q", tt.cmd, r.Code, fake.Ops(), r.Stdout)
		}
		checkErrLine(t, r.Stderr, tt.want)
	}
	fake := newFake(map[string]reply{"services.import": {}})
	runCLI(fake, "RDB\x00data", "redis:import", "cache")
	if c, _ := fake.Last("services.import"); c.Stdin != "RDB\x00data" {
		t.Errorf("daemon read %q", c.Stdin)
	}
}
