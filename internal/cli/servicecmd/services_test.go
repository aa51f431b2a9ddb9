package servicecmd

import (
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

// TestServices runs the same cases for each kind: the kind goes into every
// request and message.
func TestServices(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"postgres", "redis"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			servicesCases(t, kind)
		})
	}
}

func servicesCases(t *testing.T, kind string) {
	title := strings.ToUpper(kind[:1]) + kind[1:]
	ref := `"kind":"` + kind + `","name":"db"`
	db := api.ServiceInfo{Kind: kind, Name: "db", Image: kind + ":17", Version: "17", Status: "running", DSN: kind + "://db:5432/db", DataDir: "/var/lib/berth/services/" + kind + "/db/data"}
	linked := db
	linked.Links = []string{"shop", "blog"}
	info := func(i api.ServiceInfo) map[string]reply { return map[string]reply{"services.info": {Resp: i}} }
	withDestroy := map[string]reply{"services.info": {Resp: db}, "services.destroy": {}}
	prompt := " !     WARNING: Potentially Destructive Action\n" +
		" !     This command will destroy " + kind + " service db and its data (" + db.DataDir + ").\n" +
		" !     To proceed, type \"db\"\n\n> "
	c := func(args ...string) []string { return append([]string{kind + ":" + args[0]}, args[1:]...) }
	runCases(t, []cliCase{
		{Args: c("create", "db"), Replies: map[string]reply{"services.create": {Resp: db, Stdout: "-----> Pulling\n"}}, Ops: []string{"services.create"},
			Reqs: map[string]string{"services.create": "{" + ref + "}"},
			Has:  []string{"-----> Pulling\n=====> " + title + " container created: db\n=====> db " + kind + " service information\n", sp(7) + "Dsn:" + sp(16) + db.DSN + "\n"}},
		{Args: c("create", "db", "-i", "img", "-I", "16", "-p", "pw", "-C", "A=b;C=d", "-m", "512", "-s", "1g"), Replies: map[string]reply{"services.create": {Resp: db}}, Ops: []string{"services.create"},
			Reqs: map[string]string{"services.create": "{" + ref + `,"image":"img","image_version":"16","password":"pw","custom_env":"A=b;C=d","memory":"512","shm_size":"1g"}`},
			Has:  []string{"=====> " + title + " container created: db\n"}},
		{Args: c("create", "db", "--root-password", "x"), Code: 1, ErrLine: "--root-password is not supported by Berth's " + kind + " services"},
		{Args: c("create"), Code: 1, ErrLine: "Please specify a valid name for the service"},
		{Args: c("create", "db", "other"), Code: 1, ErrLine: "Unexpected argument(s): other"},
		{Args: c("create", "db", "-i"), Code: 1, ErrLine: "--image needs a value"},
		{Name: "create taken", Args: c("create", "db"), Replies: map[string]reply{"services.create": {Err: api.Errorf(api.CodeConflict, "%s service db already exists", kind)}},
			Code: 1, Ops: []string{"services.create"}, ErrLine: "service db already exists"},

		{Args: c("destroy", "db", "--force"), Replies: withDestroy, Ops: []string{"services.info", "services.destroy"},
			Reqs: map[string]string{"services.info": "{" + ref + "}", "services.destroy": "{" + ref + "}"}, Stdout: "=====> Deleting db\n=====> " + title + " container deleted: db\n"},
		{Args: c("destroy", "-f", "db"), Replies: withDestroy, Ops: []string{"services.info", "services.destroy"}, Stdout: "=====> Deleting db\n=====> " + title + " container deleted: db\n"},
		{Name: "destroy confirmed", Args: c("destroy", "db"), Stdin: "db\n", Replies: withDestroy, Ops: []string{"services.info", "services.destroy"},
			Stdout: "=====> Deleting db\n=====> " + title + " container deleted: db\n", Stderr: prompt},
		{Name: "destroy mismatch", Args: c("destroy", "db"), Stdin: "dv\n", Replies: withDestroy, Code: 1, Ops: []string{"services.info"},
			Stderr: prompt + " !     Confirmation did not match db. Aborted.\n"},
		{Name: "destroy linked", Args: c("destroy", "db", "--force"), Replies: info(linked), Code: 1, Ops: []string{"services.info"},
			ErrLine: "Cannot delete linked service: db is linked to shop, blog; unlink it first"},
		{Name: "destroy missing", Args: c("destroy", "db", "--force"), Replies: map[string]reply{"services.info": {Err: api.Errorf(api.CodeNotFound, "%s service db does not exist", title)}},
			Code: 1, Ops: []string{"services.info"}, ErrLine: "service db does not exist"},

		{Args: c("list"), Replies: map[string]reply{"services.list": {Resp: api.ServiceList{Services: []api.ServiceInfo{{Name: "a"}, {Name: "b"}}}}}, Ops: []string{"services.list"},
			Reqs: map[string]string{"services.list": `{"kind":"` + kind + `","name":""}`}, Stdout: "=====> " + kind + " services\na\nb\n"},
		{Args: c("list", "--format", "json"), Replies: map[string]reply{"services.list": {Resp: api.ServiceList{Services: []api.ServiceInfo{{Name: "a"}}}}}, Ops: []string{"services.list"},
			Has: []string{`[{"kind":"","name":"a",`}},
		{Name: "list none", Args: c("list"), Replies: map[string]reply{"services.list": {Resp: api.ServiceList{}}}, Ops: []string{"services.list"},
			Stdout: "-----> There are no " + title + " services\n"},
		{Args: c("list", "x"), Code: 1, ErrLine: "Unexpected argument(s): x"},

		{Args: c("exists", "db"), Replies: info(db), Ops: []string{"services.info"}, Stdout: "-----> Service db exists\n"},
		{Args: c("exists"), Code: 1, ErrLine: "Please specify a valid name for the service"},

		{Args: c("links", "db"), Replies: info(linked), Ops: []string{"services.info"}, Stdout: "shop\nblog\n"},
		{Args: c("linked", "db", "blog"), Replies: info(linked), Ops: []string{"services.info"}, Stdout: "-----> Service db is linked to blog\n"},
		{Name: "not linked", Args: c("linked", "db", "shop"), Replies: info(db), Code: 1, Ops: []string{"services.info"}, ErrLine: "Service db is not linked to shop"},
		{Args: c("linked", "db"), Code: 1, ErrLine: "Please specify an app to run the command on"},
		{Args: c("linked"), Code: 1, ErrLine: "Please specify a valid name for the service"},
		{Args: c("app-links", "shop"), Replies: map[string]reply{"services.app-links": {Resp: api.AppServiceLinks{Links: []api.AppServiceLink{{Kind: kind, Name: "db"}, {Kind: kind, Name: "db2"}}}}},
			Ops: []string{"services.app-links"}, Reqs: map[string]string{"services.app-links": `{"app":"shop","kind":"` + kind + `"}`}, Stdout: "db\ndb2\n"},

		{Args: c("link", "db", "shop", "--alias", "BLUE", "-q", "sslmode=disable", "--no-restart"), Replies: map[string]reply{"services.link": {Stdout: "-----> Setting config vars\n"}},
			Ops: []string{"services.link"}, Reqs: map[string]string{"services.link": "{" + ref + `,"app":"shop","alias":"BLUE","query_string":"sslmode=disable","no_restart":true}`},
			Stdout: "-----> Setting config vars\n"},
		{Args: c("unlink", "db", "shop"), Replies: map[string]reply{"services.unlink": {}}, Ops: []string{"services.unlink"}, Reqs: map[string]string{"services.unlink": "{" + ref + `,"app":"shop"}`}},
		{Args: c("promote", "db", "shop"), Replies: map[string]reply{"services.promote": {}}, Ops: []string{"services.promote"}, Reqs: map[string]string{"services.promote": "{" + ref + `,"app":"shop"}`}},
		{Args: c("link", "db"), Code: 1, ErrLine: "Please specify an app to run the command on"},
		{Args: c("link"), Code: 1, ErrLine: "Please specify a valid name for the service"},
		{Args: c("unlink"), Code: 1, ErrLine: "Please specify a valid name for the service"},
		{Args: c("link", "db", "shop", "blog"), Code: 1, ErrLine: "Unexpected argument(s): blog"},
		{Name: "link to a missing app", Args: c("link", "db", "gone"), Replies: map[string]reply{"services.link": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"services.link"}, ErrLine: "App gone does not exist"},

		{Args: c("connect", "db"), Stdin: "select 1;\n", Replies: map[string]reply{"services.connect": {Stdout: "1\n"}}, Ops: []string{"services.connect"},
			Reqs: map[string]string{"services.connect": "{" + ref + "}"}, Stdout: "1\n"},
		{Name: "connect exit code", Args: c("connect", "db"), Replies: map[string]reply{"services.connect": {ExitCode: 2}}, Code: 2, Ops: []string{"services.connect"}},
		{Args: c("connect", "db", "x"), Code: 1, ErrLine: "Unexpected argument(s): x"},
		{Args: c("enter", "db", "ls", "-la"), Replies: map[string]reply{"services.enter": {}}, Ops: []string{"services.enter"},
			Reqs: map[string]string{"services.enter": "{" + ref + `,"cmd":["ls","-la"]}`}},
		{Args: c("enter", "db"), Replies: map[string]reply{"services.enter": {}}, Ops: []string{"services.enter"}, Reqs: map[string]string{"services.enter": "{" + ref + "}"}},

		{Args: c("logs", "db", "-t", "-n", "10"), Replies: map[string]reply{"services.logs": {Stdout: "log line\n"}}, Ops: []string{"services.logs"},
			Reqs: map[string]string{"services.logs": "{" + ref + `,"tail":true,"num":10}`}, Stdout: "log line\n"},
		{Args: c("logs", "db", "--num", "ten"), Code: 1, ErrLine: `Invalid number of lines "ten"`},

		{Args: c("start", "db"), Replies: map[string]reply{"services.start": {}}, Ops: []string{"services.start"}, Reqs: map[string]string{"services.start": "{" + ref + "}"}},
		{Args: c("stop", "db"), Replies: map[string]reply{"services.stop": {}}, Ops: []string{"services.stop"}, Reqs: map[string]string{"services.stop": "{" + ref + "}"}},
		{Args: c("restart", "db"), Replies: map[string]reply{"services.restart": {}}, Ops: []string{"services.restart"}},
		{Args: c("pause", "db"), Replies: map[string]reply{"services.pause": {Err: api.Errorf(api.CodeUnavailable, "the engine cannot pause containers")}},
			Code: 1, Ops: []string{"services.pause"}, ErrLine: "the engine cannot pause containers"},
		{Args: c("stop", "db", "now"), Code: 1, ErrLine: "Unexpected argument(s): now"},

		{Args: c("expose", "db", "0.0.0.0:5433"), Replies: map[string]reply{"services.expose": {Resp: api.ServiceInfo{ExposedPorts: "5432->5433"}}}, Ops: []string{"services.expose"},
			Reqs: map[string]string{"services.expose": "{" + ref + `,"addr":"0.0.0.0:5433"}`}, Stdout: "-----> Service db exposed on port(s) [container->host]: 5432->5433\n"},
		{Args: c("expose", "db"), Replies: map[string]reply{"services.expose": {Resp: api.ServiceInfo{ExposedPorts: "5432->40000"}}}, Ops: []string{"services.expose"},
			Reqs: map[string]string{"services.expose": "{" + ref + "}"}, Stdout: "-----> Service db exposed on port(s) [container->host]: 5432->40000\n"},
		{Args: c("expose", "db", "1", "2"), Code: 1, ErrLine: "Unexpected argument(s): 2"},
		{Args: c("unexpose", "db"), Replies: map[string]reply{"services.unexpose": {}}, Ops: []string{"services.unexpose"}, Stdout: "-----> Service db unexposed\n"},
		{Args: c("unexpose", "db", "5433"), Code: 1, ErrLine: "Unexpected argument(s): 5433"},

		{Args: c("upgrade", "db", "-I", "18", "-R", "true"), Replies: map[string]reply{"services.upgrade": {Stdout: "-----> Dumping\n"}}, Ops: []string{"services.upgrade"},
			Reqs: map[string]string{"services.upgrade": "{" + ref + `,"image_version":"18","restart_apps":true}`}, Stdout: "-----> Dumping\n"},
		{Args: c("upgrade", "db", "--image", "mirror/x", "--restart-apps", "false"), Replies: map[string]reply{"services.upgrade": {}}, Ops: []string{"services.upgrade"},
			Reqs: map[string]string{"services.upgrade": "{" + ref + `,"image":"mirror/x"}`}},
		{Args: c("upgrade", "db", "-R", "yes"), Code: 1, ErrLine: `--restart-apps takes true or false, not "yes"`},
	})
}

func TestServiceInfo(t *testing.T) {
	t.Parallel()
	db := api.ServiceInfo{Kind: "postgres", Name: "db", Version: "17.2", Status: "running", DSN: "postgres://postgres:pw@berth-postgres-db:5432/db", ID: "abc123",
		InternalIP: "172.18.0.5", ServiceRoot: "/var/lib/berth/services/postgres/db", ConfigDir: "/var/lib/berth/services/postgres/db/config",
		DataDir: "/var/lib/berth/services/postgres/db/data", ExposedPorts: "-", CustomEnv: "A=b", Links: []string{"shop", "blog"},
		Backup: api.BackupSummary{Schedule: "0 3 * * *", LastOK: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}}
	failed := db
	failed.Backup = api.BackupSummary{LastOK: time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC), LastFailed: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), LastError: "disk full"}
	restored := db
	restored.Restores = []api.ServiceRestore{{At: time.Date(2026, 1, 2, 4, 5, 6, 0, time.UTC), Via: "import", Source: "stdin", OK: true},
		{At: time.Date(2026, 1, 3, 4, 5, 6, 0, time.UTC), Via: "backup-restore", Source: "/b/x.dump", Error: "pg_restore: bad file"}}
	restoredOnce := db
	restoredOnce.Restores = restored.Restores[:1]
	drilled, drillFailed, drillUncompared := db, db, db
	drilled.Backup.LastDrill = &api.BackupDrill{At: time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), File: "/b/db.dump", OK: true, Compared: true, Tables: 3, Rows: 1200}
	drillFailed.Backup.LastDrill = &api.BackupDrill{At: time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), File: "/b/db.dump", Error: "1 of 3 tables differs"}
	drillUncompared.Backup.LastDrill = &api.BackupDrill{At: time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), File: "/b/old.dump", OK: true, Tables: 1, Rows: 5}
	drillCase := func(name string, info api.ServiceInfo, want string) cliCase {
		return cliCase{Name: name, Args: []string{"postgres:info", "db", "--backup-drill"}, Replies: map[string]reply{"services.info": {Resp: info}}, Ops: []string{"services.info"}, Stdout: want + "\n"}
	}
	one := map[string]reply{"services.info": {Resp: db}}
	row := func(label, value string) string { return sp(7) + label + ":" + sp(19-len(label)) + value + "\n" }
	runCases(t, []cliCase{
		{Args: []string{"postgres:info", "db"}, Replies: one, Ops: []string{"services.info"}, Reqs: map[string]string{"services.info": `{"kind":"postgres","name":"db"}`},
			Stdout: "=====> db postgres service information\n" +
				row("Config dir", db.ConfigDir) + row("Config options", "") + row("Custom env", "A=b") + row("Data dir", db.DataDir) +
				row("Dsn", db.DSN) + row("Exposed ports", "-") + row("Id", "abc123") + row("Internal ip", "172.18.0.5") + row("Links", "shop blog") +
				row("Service root", db.ServiceRoot) + row("Status", "running") + row("Version", "17.2") +
				row("Backup schedule", "0 3 * * *") + row("Last backup", "ok 2026-01-02 03:00:00 UTC") + row("Backup auth", "-") + row("Backup encryption", "-") + row("Last restore", "-") + row("Last drill", "-")},
		{Args: []string{"postgres:info", "db", "--dsn"}, Replies: one, Ops: []string{"services.info"}, Stdout: db.DSN + "\n"},
		{Args: []string{"postgres:info", "db", "--links"}, Replies: one, Ops: []string{"services.info"}, Stdout: "shop blog\n"},
		{Name: "failed backup", Args: []string{"postgres:info", "db", "--backup-last"}, Replies: map[string]reply{"services.info": {Resp: failed}}, Ops: []string{"services.info"},
			Stdout: "FAILED 2026-01-02 03:00:00 UTC: disk full\n"},
		{Name: "restores", Args: []string{"postgres:info", "db", "--restore-last"}, Replies: map[string]reply{"services.info": {Resp: restored}}, Ops: []string{"services.info"},
			Stdout: "FAILED 2026-01-03 04:05:06 UTC backup-restore from /b/x.dump: pg_restore: bad file (2 recorded)\n"},
		{Name: "restored once", Args: []string{"postgres:info", "db", "--restore-last"}, Replies: map[string]reply{"services.info": {Resp: restoredOnce}}, Ops: []string{"services.info"},
			Stdout: "ok 2026-01-02 04:05:06 UTC import from stdin\n"},
		drillCase("drill passed", drilled, "ok 2026-01-02 04:00:00 UTC /b/db.dump (3 tables, 1200 rows)"),
		drillCase("drill failed", drillFailed, "FAILED 2026-01-02 04:00:00 UTC /b/db.dump: 1 of 3 tables differs"),
		drillCase("drill without counts", drillUncompared, "ok 2026-01-02 04:00:00 UTC /b/old.dump (1 tables, 5 rows, no counts recorded to compare)"),
		drillCase("never drilled", db, "-"),
		{Name: "no schedule", Args: []string{"postgres:info", "db", "--backup-schedule"}, Replies: map[string]reply{"services.info": {Resp: failed}}, Ops: []string{"services.info"}, Stdout: "-\n"},
		{Name: "never backed up", Args: []string{"redis:info", "db", "--backup-last"}, Replies: map[string]reply{"services.info": {Resp: api.ServiceInfo{Name: "db"}}}, Ops: []string{"services.info"}, Stdout: "-\n"},
		{Args: []string{"postgres:info", "db", "--password"}, Replies: one, Code: 1, Ops: []string{"services.info"},
			ErrLine: "Invalid flag passed, valid flags: --config-dir, --config-options, --custom-env, --data-dir, --dsn, --exposed-ports, --id, --internal-ip, --links, --service-root, --status, --version, --backup-schedule, --backup-last, --backup-auth, --backup-encryption, --restore-last"},
		{Args: []string{"postgres:info", "db", "--format", "json"}, Replies: one, Ops: []string{"services.info"},
			Has: []string{`"name":"db"`, `"dsn":"postgres://postgres:pw@berth-postgres-db:5432/db"`, `"links":["shop","blog"]`, `"schedule":"0 3 * * *"`}},
		{Args: []string{"postgres:info", "db", "--format", "json", "--dsn"}, Replies: one, Code: 1, Ops: []string{"services.info"},
			ErrLine: "--format flag cannot be specified when specifying an info flag"},
		{Args: []string{"postgres:info", "db", "--format", "toml"}, Replies: one, Code: 1, ErrLine: "Invalid format: toml"},
		{Args: []string{"postgres:info"}, Code: 1, ErrLine: "Please specify a valid name for the service"},
	})
}

// TestServiceTerminal: connect asks for a TTY when there is a terminal.
func TestServiceTerminal(t *testing.T) {
	t.Parallel()
	term := &clitest.Terminal{}
	fake := newFake(map[string]reply{"services.connect": {}})
	r := runEnv(fake, cli.Env{Terminal: term}, "redis:connect", "cache")
	c, _ := fake.Last("services.connect")
	if r.Code != 0 || term.Raw != 1 || term.Restored != 1 {
		t.Errorf("exit %d, raw %d, restored %d", r.Code, term.Raw, term.Restored)
	}
	jsonEqual(t, "request", string(c.Req), `{"kind":"redis","name":"cache","tty":true}`)
}
