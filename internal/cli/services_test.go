package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
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
		{args: c("create", "db"), replies: map[string]reply{"services.create": {Resp: db, Stdout: "-----> Pulling\n"}}, ops: []string{"services.create"},
			reqs: map[string]string{"services.create": "{" + ref + "}"},
			has:  []string{"-----> Pulling\n=====> " + title + " container created: db\n=====> db " + kind + " service information\n", sp(7) + "Dsn:" + sp(16) + db.DSN + "\n"}},
		{args: c("create", "db", "-i", "img", "-I", "16", "-p", "pw", "-C", "A=b;C=d", "-m", "512", "-s", "1g"), replies: map[string]reply{"services.create": {Resp: db}}, ops: []string{"services.create"},
			reqs: map[string]string{"services.create": "{" + ref + `,"image":"img","image_version":"16","password":"pw","custom_env":"A=b;C=d","memory":"512","shm_size":"1g"}`},
			has:  []string{"=====> " + title + " container created: db\n"}},
		{args: c("create", "db", "--root-password", "x"), code: 1, errLine: "--root-password is not supported by Berth's " + kind + " services"},
		{args: c("create"), code: 1, errLine: "Please specify a valid name for the service"},
		{args: c("create", "db", "other"), code: 1, errLine: "Unexpected argument(s): other"},
		{args: c("create", "db", "-i"), code: 1, errLine: "--image needs a value"},
		{name: "create taken", args: c("create", "db"), replies: map[string]reply{"services.create": {Err: api.Errorf(api.CodeConflict, "%s service db already exists", kind)}},
			code: 1, ops: []string{"services.create"}, errLine: "service db already exists"},

		{args: c("destroy", "db", "--force"), replies: withDestroy, ops: []string{"services.info", "services.destroy"},
			reqs: map[string]string{"services.info": "{" + ref + "}", "services.destroy": "{" + ref + "}"}, stdout: "=====> Deleting db\n=====> " + title + " container deleted: db\n"},
		{args: c("destroy", "-f", "db"), replies: withDestroy, ops: []string{"services.info", "services.destroy"}, stdout: "=====> Deleting db\n=====> " + title + " container deleted: db\n"},
		{name: "destroy confirmed", args: c("destroy", "db"), stdin: "db\n", replies: withDestroy, ops: []string{"services.info", "services.destroy"},
			stdout: "=====> Deleting db\n=====> " + title + " container deleted: db\n", stderr: prompt},
		{name: "destroy mismatch", args: c("destroy", "db"), stdin: "dv\n", replies: withDestroy, code: 1, ops: []string{"services.info"},
			stderr: prompt + " !     Confirmation did not match db. Aborted.\n"},
		{name: "destroy linked", args: c("destroy", "db", "--force"), replies: info(linked), code: 1, ops: []string{"services.info"},
			errLine: "Cannot delete linked service: db is linked to shop, blog; unlink it first"},
		{name: "destroy missing", args: c("destroy", "db", "--force"), replies: map[string]reply{"services.info": {Err: api.Errorf(api.CodeNotFound, "%s service db does not exist", title)}},
			code: 1, ops: []string{"services.info"}, errLine: "service db does not exist"},

		{args: c("list"), replies: map[string]reply{"services.list": {Resp: api.ServiceList{Services: []api.ServiceInfo{{Name: "a"}, {Name: "b"}}}}}, ops: []string{"services.list"},
			reqs: map[string]string{"services.list": `{"kind":"` + kind + `","name":""}`}, stdout: "=====> " + kind + " services\na\nb\n"},
		{args: c("list", "--format", "json"), replies: map[string]reply{"services.list": {Resp: api.ServiceList{Services: []api.ServiceInfo{{Name: "a"}}}}}, ops: []string{"services.list"},
			has: []string{`[{"kind":"","name":"a",`}},
		{name: "list none", args: c("list"), replies: map[string]reply{"services.list": {Resp: api.ServiceList{}}}, ops: []string{"services.list"},
			stdout: "-----> There are no " + title + " services\n"},
		{args: c("list", "x"), code: 1, errLine: "Unexpected argument(s): x"},

		{args: c("exists", "db"), replies: info(db), ops: []string{"services.info"}, stdout: "-----> Service db exists\n"},
		{args: c("exists"), code: 1, errLine: "Please specify a valid name for the service"},

		{args: c("links", "db"), replies: info(linked), ops: []string{"services.info"}, stdout: "shop\nblog\n"},
		{args: c("linked", "db", "blog"), replies: info(linked), ops: []string{"services.info"}, stdout: "-----> Service db is linked to blog\n"},
		{name: "not linked", args: c("linked", "db", "shop"), replies: info(db), code: 1, ops: []string{"services.info"}, errLine: "Service db is not linked to shop"},
		{args: c("linked", "db"), code: 1, errLine: "Please specify a service name and an app"},
		{args: c("app-links", "shop"), replies: map[string]reply{"services.app-links": {Resp: api.AppServiceLinks{Links: []api.AppServiceLink{{Kind: kind, Name: "db"}, {Kind: kind, Name: "db2"}}}}},
			ops: []string{"services.app-links"}, reqs: map[string]string{"services.app-links": `{"app":"shop","kind":"` + kind + `"}`}, stdout: "db\ndb2\n"},

		{args: c("link", "db", "shop", "--alias", "BLUE", "-q", "sslmode=disable", "--no-restart"), replies: map[string]reply{"services.link": {Stdout: "-----> Setting config vars\n"}},
			ops: []string{"services.link"}, reqs: map[string]string{"services.link": "{" + ref + `,"app":"shop","alias":"BLUE","query_string":"sslmode=disable","no_restart":true}`},
			stdout: "-----> Setting config vars\n"},
		{args: c("unlink", "db", "shop"), replies: map[string]reply{"services.unlink": {}}, ops: []string{"services.unlink"}, reqs: map[string]string{"services.unlink": "{" + ref + `,"app":"shop"}`}},
		{args: c("promote", "db", "shop"), replies: map[string]reply{"services.promote": {}}, ops: []string{"services.promote"}, reqs: map[string]string{"services.promote": "{" + ref + `,"app":"shop"}`}},
		{args: c("link", "db"), code: 1, errLine: "Please specify a service name and an app"},
		{args: c("link", "db", "shop", "blog"), code: 1, errLine: "Unexpected argument(s): blog"},
		{name: "link to a missing app", args: c("link", "db", "gone"), replies: map[string]reply{"services.link": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"services.link"}, errLine: "App gone does not exist"},

		{args: c("connect", "db"), stdin: "select 1;\n", replies: map[string]reply{"services.connect": {Stdout: "1\n"}}, ops: []string{"services.connect"},
			reqs: map[string]string{"services.connect": "{" + ref + "}"}, stdout: "1\n"},
		{name: "connect exit code", args: c("connect", "db"), replies: map[string]reply{"services.connect": {ExitCode: 2}}, code: 2, ops: []string{"services.connect"}},
		{args: c("connect", "db", "x"), code: 1, errLine: "Unexpected argument(s): x"},
		{args: c("enter", "db", "ls", "-la"), replies: map[string]reply{"services.enter": {}}, ops: []string{"services.enter"},
			reqs: map[string]string{"services.enter": "{" + ref + `,"cmd":["ls","-la"]}`}},
		{args: c("enter", "db"), replies: map[string]reply{"services.enter": {}}, ops: []string{"services.enter"}, reqs: map[string]string{"services.enter": "{" + ref + "}"}},

		{args: c("logs", "db", "-t", "-n", "10"), replies: map[string]reply{"services.logs": {Stdout: "log line\n"}}, ops: []string{"services.logs"},
			reqs: map[string]string{"services.logs": "{" + ref + `,"tail":true,"num":10}`}, stdout: "log line\n"},
		{args: c("logs", "db", "--num", "ten"), code: 1, errLine: `Invalid number of lines "ten"`},

		{args: c("start", "db"), replies: map[string]reply{"services.start": {}}, ops: []string{"services.start"}, reqs: map[string]string{"services.start": "{" + ref + "}"}},
		{args: c("stop", "db"), replies: map[string]reply{"services.stop": {}}, ops: []string{"services.stop"}, reqs: map[string]string{"services.stop": "{" + ref + "}"}},
		{args: c("restart", "db"), replies: map[string]reply{"services.restart": {}}, ops: []string{"services.restart"}},
		{args: c("pause", "db"), replies: map[string]reply{"services.pause": {Err: api.Errorf(api.CodeUnavailable, "the engine cannot pause containers")}},
			code: 1, ops: []string{"services.pause"}, errLine: "the engine cannot pause containers"},
		{args: c("stop", "db", "now"), code: 1, errLine: "Unexpected argument(s): now"},

		{args: c("expose", "db", "0.0.0.0:5433"), replies: map[string]reply{"services.expose": {Resp: api.ServiceInfo{ExposedPorts: "5432->5433"}}}, ops: []string{"services.expose"},
			reqs: map[string]string{"services.expose": "{" + ref + `,"addr":"0.0.0.0:5433"}`}, stdout: "-----> Service db exposed on port(s) [container->host]: 5432->5433\n"},
		{args: c("expose", "db"), replies: map[string]reply{"services.expose": {Resp: api.ServiceInfo{ExposedPorts: "5432->40000"}}}, ops: []string{"services.expose"},
			reqs: map[string]string{"services.expose": "{" + ref + "}"}, stdout: "-----> Service db exposed on port(s) [container->host]: 5432->40000\n"},
		{args: c("expose", "db", "1", "2"), code: 1, errLine: "Unexpected argument(s): 2"},
		{args: c("unexpose", "db"), replies: map[string]reply{"services.unexpose": {}}, ops: []string{"services.unexpose"}, stdout: "-----> Service db unexposed\n"},
		{args: c("unexpose", "db", "5433"), code: 1, errLine: "Unexpected argument(s): 5433"},

		{args: c("upgrade", "db", "-I", "18", "-R", "true"), replies: map[string]reply{"services.upgrade": {Stdout: "-----> Dumping\n"}}, ops: []string{"services.upgrade"},
			reqs: map[string]string{"services.upgrade": "{" + ref + `,"image_version":"18","restart_apps":true}`}, stdout: "-----> Dumping\n"},
		{args: c("upgrade", "db", "--image", "mirror/x", "--restart-apps", "false"), replies: map[string]reply{"services.upgrade": {}}, ops: []string{"services.upgrade"},
			reqs: map[string]string{"services.upgrade": "{" + ref + `,"image":"mirror/x"}`}},
		{args: c("upgrade", "db", "-R", "yes"), code: 1, errLine: `--restart-apps takes true or false, not "yes"`},
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
	one := map[string]reply{"services.info": {Resp: db}}
	row := func(label, value string) string { return sp(7) + label + ":" + sp(19-len(label)) + value + "\n" }
	runCases(t, []cliCase{
		{args: []string{"postgres:info", "db"}, replies: one, ops: []string{"services.info"}, reqs: map[string]string{"services.info": `{"kind":"postgres","name":"db"}`},
			stdout: "=====> db postgres service information\n" +
				row("Config dir", db.ConfigDir) + row("Config options", "") + row("Custom env", "A=b") + row("Data dir", db.DataDir) +
				row("Dsn", db.DSN) + row("Exposed ports", "-") + row("Id", "abc123") + row("Internal ip", "172.18.0.5") + row("Links", "shop blog") +
				row("Service root", db.ServiceRoot) + row("Status", "running") + row("Version", "17.2") +
				row("Backup schedule", "0 3 * * *") + row("Last backup", "ok 2026-01-02 03:00:00 UTC")},
		{args: []string{"postgres:info", "db", "--dsn"}, replies: one, ops: []string{"services.info"}, stdout: db.DSN + "\n"},
		{args: []string{"postgres:info", "db", "--links"}, replies: one, ops: []string{"services.info"}, stdout: "shop blog\n"},
		{name: "failed backup", args: []string{"postgres:info", "db", "--backup-last"}, replies: map[string]reply{"services.info": {Resp: failed}}, ops: []string{"services.info"},
			stdout: "FAILED 2026-01-02 03:00:00 UTC: disk full\n"},
		{name: "no schedule", args: []string{"postgres:info", "db", "--backup-schedule"}, replies: map[string]reply{"services.info": {Resp: failed}}, ops: []string{"services.info"}, stdout: "-\n"},
		{name: "never backed up", args: []string{"redis:info", "db", "--backup-last"}, replies: map[string]reply{"services.info": {Resp: api.ServiceInfo{Name: "db"}}}, ops: []string{"services.info"}, stdout: "-\n"},
		{args: []string{"postgres:info", "db", "--password"}, replies: one, code: 1, ops: []string{"services.info"},
			errLine: "Invalid flag passed, valid flags: --config-dir, --config-options, --custom-env, --data-dir, --dsn, --exposed-ports, --id, --internal-ip, --links, --service-root, --status, --version, --backup-schedule, --backup-last"},
		{args: []string{"postgres:info", "db", "--format", "json"}, replies: one, ops: []string{"services.info"},
			has: []string{`"name":"db"`, `"dsn":"postgres://postgres:pw@berth-postgres-db:5432/db"`, `"links":["shop","blog"]`, `"schedule":"0 3 * * *"`}},
		{args: []string{"postgres:info", "db", "--format", "json", "--dsn"}, replies: one, code: 1, ops: []string{"services.info"},
			errLine: "--format flag cannot be specified when specifying an info flag"},
		{args: []string{"postgres:info", "db", "--format", "toml"}, replies: one, code: 1, ops: []string{"services.info"}, errLine: "Invalid format: toml"},
		{args: []string{"postgres:info"}, code: 1, errLine: "Please specify a valid name for the service"},
	})
}

// TestServiceTerminal: connect asks for a TTY when there is a terminal.
func TestServiceTerminal(t *testing.T) {
	t.Parallel()
	term := &fakeTerminal{}
	fake := newFake(map[string]reply{"services.connect": {}})
	r := runEnv(fake, Env{Terminal: term}, "redis:connect", "cache")
	c, _ := fake.last("services.connect")
	if r.code != 0 || term.raw != 1 || term.restored != 1 {
		t.Errorf("exit %d, raw %d, restored %d", r.code, term.raw, term.restored)
	}
	jsonEqual(t, "request", string(c.Req), `{"kind":"redis","name":"cache","tty":true}`)
}
