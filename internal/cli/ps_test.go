package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

func sp(n int) string { return strings.Repeat(" ", n) }

func TestPSLifecycle(t *testing.T) {
	t.Parallel()
	var cases []cliCase
	for _, verb := range []string{"rebuild", "start", "stop", "restart", "restore"} {
		op := "ps." + verb
		cases = append(cases,
			cliCase{Args: []string{"ps:" + verb, "shop"}, Replies: map[string]reply{op: {Stdout: "-----> " + verb + "\n", Stderr: "warning\n"}},
				Ops: []string{op}, Reqs: map[string]string{op: `{"app":"shop"}`}, Stdout: "-----> " + verb + "\n", Stderr: "warning\n"},
			cliCase{Args: []string{"ps:" + verb, "--all"}, Replies: map[string]reply{op: {}}, Ops: []string{op}, Reqs: map[string]string{op: `{"all":true}`}},
			cliCase{Args: []string{"ps:" + verb}, Code: 1, ErrLine: "Please specify an app to run the command on, or --all"},
			cliCase{Args: []string{"ps:" + verb, "shop", "web"}, Code: 1, ErrLine: "Unexpected argument(s): web"},
			cliCase{Args: []string{"ps:" + verb, "gone"}, Replies: map[string]reply{op: {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{op}, ErrLine: "App gone does not exist"},
		)
	}
	runCases(t, cases)
}

func TestPSScale(t *testing.T) {
	t.Parallel()
	formation := map[string]reply{"ps.scale": {Resp: api.ScaleResult{Formation: map[string]int{"web": 2, "worker": 0}, Types: []string{"web", "worker"}}}}
	runCases(t, []cliCase{
		{Args: []string{"ps:scale", "shop"}, Replies: formation, Ops: []string{"ps.scale"}, Reqs: map[string]string{"ps.scale": `{"app":"shop"}`},
			Stdout: "-----> Scaling for shop\nproctype: qty\n--------: ---\nweb:  2\nworker: 0\n"},
		{Name: "quiet: the types only, as Dokku", Args: []string{"--quiet", "ps:scale", "shop"}, Replies: formation, Ops: []string{"ps.scale"}, Stdout: "web:  2\nworker: 0\n"},
		{Args: []string{"ps:scale", "shop", "--format", "json"}, Replies: formation, Ops: []string{"ps.scale"},
			Stdout: `[{"process_type":"web","quantity":2},{"process_type":"worker","quantity":0}]` + "\n"},
		{Name: "json of no types", Args: []string{"ps:scale", "shop", "--format", "json"}, Replies: map[string]reply{"ps.scale": {Resp: api.ScaleResult{}}}, Ops: []string{"ps.scale"}, Stdout: "[]\n"},
		{Args: []string{"ps:scale", "shop", "--format", "xml"}, Replies: formation, Code: 1, ErrLine: "Invalid format: xml; use stdout or json"},
		{Args: []string{"ps:scale", "shop", "web=2", "worker=1"}, Replies: map[string]reply{"ps.scale": {Stdout: "-----> Starting worker.1\n"}}, Ops: []string{"ps.scale"},
			Reqs:   map[string]string{"ps.scale": `{"app":"shop","changes":{"web":2,"worker":1}}`},
			Stdout: "-----> Scaling shop processes: web=2 worker=1\n-----> Starting worker.1\n"},
		{Args: []string{"ps:scale", "--skip-deploy", "shop", "web=0"}, Replies: map[string]reply{"ps.scale": {}}, Ops: []string{"ps.scale"},
			Reqs: map[string]string{"ps.scale": `{"app":"shop","changes":{"web":0},"skip_deploy":true}`}, Stdout: "-----> Scaling shop processes: web=0\n"},
		{Args: []string{"ps:scale", "--quiet", "shop", "web=1"}, Replies: map[string]reply{"ps.scale": {}}, Ops: []string{"ps.scale"}},
		{Args: []string{"ps:scale", "shop", "web"}, Code: 1, ErrLine: "Missing count for process type web"},
		{Args: []string{"ps:scale", "shop", "web="}, Code: 1, ErrLine: "Missing count for process type web"},
		{Args: []string{"ps:scale", "shop", "web=1", "worker=-1"}, Code: 1, ErrLine: "Invalid count for process type worker"},
		{Args: []string{"ps:scale", "shop", "web=two"}, Code: 1, ErrLine: "Invalid count for process type web"},
		{Name: "daemon refuses a type", Args: []string{"ps:scale", "shop", "nope=1"}, Replies: map[string]reply{"ps.scale": {Err: api.Errorf(api.CodeInvalid, "nope is not a valid process name to scale up")}},
			Code: 1, Ops: []string{"ps.scale"}, ErrLine: "nope is not a valid process name to scale up"},
		{Name: "refused: nothing printed before the refusal", Args: []string{"ps:scale", "blog", "web=2"}, Replies: map[string]reply{"ps.scale": {Err: &api.Error{Code: api.CodeForbidden, Message: "key dev may not use blog"}}},
			Code: 1, Ops: []string{"ps.scale"}, ErrLine: "key dev may not use blog"},
		{Name: "the progress line comes before the daemon's output", Args: []string{"ps:scale", "shop", "web=2"}, Replies: map[string]reply{"ps.scale": {Stdout: "-----> Starting web.2\n"}},
			Ops: []string{"ps.scale"}, Stdout: "-----> Scaling shop processes: web=2\n-----> Starting web.2\n"},
	})
}

func TestPSReport(t *testing.T) {
	t.Parallel()
	shop := api.PSReport{App: "shop", Deployed: true, Release: 3, CanScale: true, RestartPolicy: "on-failure:10", StopTimeout: 30, ProcfilePath: "Procfile",
		Containers: []api.ProcessStatus{
			{Type: "worker", Index: 1, State: "exited", ID: "ffffeeeeddddcccc", LastExit: &api.ProcessExit{Code: 137, OOMKilled: true}},
			{Type: "web", Index: 2, State: "running", ID: "0123456789abcdef0123", HostPort: 32768, Restarts: 2,
				LastExit: &api.ProcessExit{Code: 137, At: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}},
			{Type: "web", Index: 1, State: "running", ID: "abcdef"},
		}}
	props := reply{Resp: api.PropertyValues{Fields: []api.ReportField{
		{Key: "restart-policy", Value: ""}, {Key: "computed-restart-policy", Value: "on-failure:10"}, {Key: "global-restart-policy", Value: ""}}}}
	with := func(r ...api.PSReport) map[string]reply {
		return map[string]reply{"ps.report": {Resp: api.PSReports{Reports: r}}, "properties.report": props}
	}
	one := with(shop)
	state := func(states ...string) map[string]reply {
		r := api.PSReport{App: "shop"}
		for i, s := range states {
			r.Containers = append(r.Containers, api.ProcessStatus{Type: "web", Index: i + 1, State: s})
		}
		return with(r)
	}
	row := func(label, value string) string { return sp(7) + label + sp(31-len(label)) + value + "\n" }
	full := "=====> shop ps information\n" +
		row("Deployed:", "true") +
		row("Processes:", "3") +
		row("Ps can scale:", "true") +
		row("Ps computed restart policy:", "on-failure:10") +
		row("Ps global restart policy:", "") +
		row("Ps last exit web 2:", "137 at 2026-12-06T09:00:00Z") +
		row("Ps last exit worker 1:", "137 (OOM killed)") +
		row("Ps release:", "3") +
		row("Ps restart policy:", "") +
		row("Ps restarts web 1:", "0") +
		row("Ps restarts web 2:", "2") +
		row("Ps restarts worker 1:", "0") +
		row("Restore:", "true") +
		row("Running:", "mixed") +
		row("Status web 1:", "running (CID: abcdef)") +
		row("Status web 2:", "running (CID: 0123456789ab) 127.0.0.1:32768") +
		row("Status worker 1:", "exited (CID: ffffeeeedddd)")
	both := []string{"ps.report", "properties.report"}
	runCases(t, []cliCase{
		{Args: []string{"ps:report", "shop"}, Replies: one, Ops: both, Reqs: map[string]string{"ps.report": `{"app":"shop"}`, "properties.report": `{"app":"shop","namespace":"ps"}`}, Stdout: full},
		{Args: []string{"ps:report", "shop", "--status-web.2"}, Replies: one, Ops: both, Stdout: "running (CID: 0123456789ab) 127.0.0.1:32768\n"},
		{Args: []string{"ps:report", "shop", "--ps-last-exit-worker-1"}, Replies: one, Ops: both, Stdout: "137 (OOM killed)\n"},
		{Args: []string{"ps:report", "shop", "--restore"}, Replies: one, Ops: both, Stdout: "true\n"},
		{Args: []string{"ps:report", "shop", "--ps-computed-restart-policy"}, Replies: one, Ops: both, Stdout: "on-failure:10\n"},
		{Args: []string{"ps:report", "shop", "--ps-restart-policy"}, Replies: one, Ops: both, Stdout: "\n"},
		{Name: "all running", Args: []string{"ps:report", "shop", "--running"}, Replies: state("running", "running"), Ops: both, Stdout: "true\n"},
		{Name: "none running", Args: []string{"ps:report", "shop", "--running"}, Replies: state("exited", "created"), Ops: both, Stdout: "false\n"},
		{Name: "no containers", Args: []string{"ps:report", "shop", "--running"}, Replies: state(), Ops: both, Stdout: "false\n"},
		{Name: "stopped app", Args: []string{"ps:report", "shop", "--restore"}, Replies: with(api.PSReport{App: "shop", Stopped: true}), Ops: both, Stdout: "false\n"},
		{Name: "engine error is a field", Args: []string{"ps:report", "shop", "--ps-engine"},
			Replies: with(api.PSReport{App: "shop", EngineError: "docker is not running"}), Ops: both, Stdout: "docker is not running\n"},
		{Args: []string{"ps:report", "shop", "--ps-nope"}, Replies: one, Code: 1, Ops: both, ErrLine: "Invalid flag passed, valid flags: --deployed, --processes, --ps-can-scale,"},
		{Args: []string{"ps:report", "--ps-release"}, Replies: with(api.PSReport{App: "a", Release: 1}, api.PSReport{App: "b", Release: 7}),
			Ops: []string{"ps.report", "properties.report", "properties.report"}, Reqs: map[string]string{"ps.report": `{"all":true}`}, Stdout: "1\n7\n"},
		{Name: "no apps", Args: []string{"ps:report"}, Replies: with(), Ops: []string{"ps.report"},
			Stderr: " !     You haven't deployed any applications yet\n"},
		{Name: "global: the settings only", Args: []string{"ps:report", "--global", "--ps-computed-restart-policy"}, Replies: one, Ops: []string{"properties.report"},
			Reqs: map[string]string{"properties.report": `{"global":true,"namespace":"ps"}`}, Stdout: "on-failure:10\n"},
		{Name: "global title", Args: []string{"ps:report", "--global"}, Replies: one, Ops: []string{"properties.report"},
			Stdout: "=====> --global ps information\n" + row("Ps computed restart policy:", "on-failure:10") + row("Ps global restart policy:", "") + row("Ps restart policy:", "")},
		{Args: []string{"ps:report", "shop", "--format", "json", "--running"}, Replies: one, Code: 1, Ops: both,
			ErrLine: "--format flag cannot be specified when specifying an info flag"},
		{Args: []string{"ps:report", "gone"}, Replies: map[string]reply{"ps.report": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"ps.report"}, ErrLine: "App gone does not exist"},
	})

	// --format json is Dokku's flat object: keys without and with "ps-".
	fake := newFake(one)
	r := runCLI(fake, "", "ps:report", "shop", "--format", "json")
	var got map[string]string
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil || r.Code != 0 {
		t.Fatalf("exit %d, stdout %q: %v", r.Code, r.Stdout, err)
	}
	for k, v := range map[string]string{"deployed": "true", "running": "mixed", "status-web.1": "running (CID: abcdef)", "release": "3", "ps-release": "3",
		"computed-restart-policy": "on-failure:10", "ps-computed-restart-policy": "on-failure:10", "restart-policy": ""} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("json %s = %q (present %v), want %q", k, g, ok, v)
		}
	}
}

func TestPSInspectAndSettingsReports(t *testing.T) {
	t.Parallel()
	f := func(kv ...string) []api.ReportField {
		var fs []api.ReportField
		for i := 0; i < len(kv); i += 2 {
			fs = append(fs, api.ReportField{Key: kv[i], Value: kv[i+1]})
		}
		return fs
	}
	appJSON := map[string]reply{"properties.report": {Resp: api.PropertyValues{
		Fields: f("appjson-path", "", "computed-appjson-path", "deploy/app.json", "global-appjson-path", "deploy/app.json")}}}
	dockerfile := map[string]reply{"properties.report": {Resp: api.PropertyValues{
		Fields: f("dockerfile-path", "Dockerfile.prod", "computed-dockerfile-path", "Dockerfile.prod", "global-dockerfile-path", "")}}}
	runCases(t, []cliCase{
		{Args: []string{"ps:inspect", "shop"}, Replies: map[string]reply{"ps.inspect": {Resp: api.InspectResult{Containers: []json.RawMessage{json.RawMessage(`{"Id":"abc"}`)}}}},
			Ops: []string{"ps.inspect"}, Reqs: map[string]string{"ps.inspect": `{"app":"shop"}`}, Stdout: "[\n    {\n        \"Id\": \"abc\"\n    }\n]\n"},
		{Args: []string{"app-json:report", "shop"}, Replies: appJSON, Ops: []string{"properties.report"},
			Reqs: map[string]string{"properties.report": `{"app":"shop","namespace":"app-json"}`},
			Stdout: "=====> shop app-json information\n" +
				sp(7) + "App json appjson path:" + sp(10) + "\n" +
				sp(7) + "App json computed appjson path: deploy/app.json\n" +
				sp(7) + "App json global appjson path:" + sp(3) + "deploy/app.json\n"},
		{Args: []string{"app-json:report", "shop", "--app-json-computed-appjson-path"}, Replies: appJSON, Ops: []string{"properties.report"}, Stdout: "deploy/app.json\n"},
		{Args: []string{"app-json:report", "shop", "--format", "json"}, Replies: appJSON, Ops: []string{"properties.report"},
			Stdout: `{"app-json-appjson-path":"","app-json-computed-appjson-path":"deploy/app.json","app-json-global-appjson-path":"deploy/app.json","appjson-path":"","computed-appjson-path":"deploy/app.json","global-appjson-path":"deploy/app.json"}` + "\n"},
		{Name: "global", Args: []string{"app-json:report", "--global", "--app-json-global-appjson-path"}, Replies: appJSON, Ops: []string{"properties.report"},
			Reqs: map[string]string{"properties.report": `{"global":true,"namespace":"app-json"}`}, Stdout: "deploy/app.json\n"},
		{Args: []string{"builder-dockerfile:report", "shop", "--builder-dockerfile-dockerfile-path"}, Replies: dockerfile, Ops: []string{"properties.report"},
			Reqs: map[string]string{"properties.report": `{"app":"shop","namespace":"builder-dockerfile"}`}, Stdout: "Dockerfile.prod\n"},
		{Args: []string{"builder-dockerfile:report", "shop", "--dockerfile-dockerfile-path"}, Replies: dockerfile, Code: 1, Ops: []string{"properties.report"},
			ErrLine: "Invalid flag passed, valid flags: --builder-dockerfile-computed-dockerfile-path, --builder-dockerfile-dockerfile-path, --builder-dockerfile-global-dockerfile-path"},
	})
}

func TestRunAndLogs(t *testing.T) {
	t.Parallel()
	list := map[string]reply{"run.list": {Resp: api.ContainerList{Containers: []api.ContainerSummary{{Name: "shop.run.1", ID: "abc", State: "running", Status: "Up 2 minutes"}}}}}
	runCases(t, []cliCase{
		{Args: []string{"run", "shop", "ls", "-la"}, Stdin: "input", Replies: map[string]reply{"run": {Stdout: "out\n", Stderr: "err\n"}},
			Ops: []string{"run"}, Reqs: map[string]string{"run": `{"app":"shop","cmd":["ls","-la"]}`}, Stdout: "out\n", Stderr: "err\n"},
		{Name: "run exit code is berth's", Args: []string{"run", "shop", "false"}, Replies: map[string]reply{"run": {ExitCode: 3}}, Code: 3, Ops: []string{"run"}},
		{Name: "run env flags", Args: []string{"run", "--env", "A=1", "-e", "B=x=y", "shop", "env", "--", "-x"}, Replies: map[string]reply{"run": {}},
			Ops: []string{"run"}, Reqs: map[string]string{"run": `{"app":"shop","cmd":["env","--","-x"],"env":{"A":"1","B":"x=y"}}`}},
		{Name: "run flags after the command are the command's", Args: []string{"run", "shop", "rake", "--trace"}, Replies: map[string]reply{"run": {}},
			Ops: []string{"run"}, Reqs: map[string]string{"run": `{"app":"shop","cmd":["rake","--trace"]}`}},
		{Name: "--quiet run asks for the command's output only", Args: []string{"--quiet", "run", "shop", "task"}, Replies: map[string]reply{"run": {}},
			Ops: []string{"run"}, Reqs: map[string]string{"run": `{"app":"shop","cmd":["task"],"quiet":true}`}},
		{Args: []string{"run", "shop"}, Code: 1, ErrLine: "Please specify a command to run"},
		{Args: []string{"run", "-e", "A", "shop", "ls"}, Code: 1, ErrLine: "Invalid env pair: A; expected KEY=VALUE"},
		{Name: "run missing app", Args: []string{"run", "gone", "ls"}, Replies: map[string]reply{"run": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"run"}, ErrLine: "App gone does not exist"},

		{Args: []string{"run:detached", "-e", "A=1", "shop", "sleep", "9"}, Replies: map[string]reply{"run.detached": {Resp: api.RunResult{Name: "shop.run.42"}}},
			Ops: []string{"run.detached"}, Reqs: map[string]string{"run.detached": `{"app":"shop","cmd":["sleep","9"],"env":{"A":"1"}}`}, Stdout: "shop.run.42\n"},
		{Args: []string{"run:detached", "shop"}, Code: 1, ErrLine: "Please specify a command to run"},
		{Args: []string{"run:list", "shop"}, Replies: list, Ops: []string{"run.list"}, Reqs: map[string]string{"run.list": `{"app":"shop"}`},
			Stdout: "=====> shop run containers\n" + "NAME" + sp(27) + "STATE" + sp(6) + "STATUS\n" + "shop.run.1" + sp(21) + "running" + sp(4) + "Up 2 minutes\n"},
		{Args: []string{"run:list", "shop", "--format", "json"}, Replies: list, Ops: []string{"run.list"},
			Stdout: `[{"name":"shop.run.1","id":"abc","state":"running","status":"Up 2 minutes","created":"0001-01-01T00:00:00Z"}]` + "\n"},
		{Args: []string{"run:stop", "shop", "shop.run.1"}, Replies: map[string]reply{"run.stop": {}}, Ops: []string{"run.stop"},
			Reqs: map[string]string{"run.stop": `{"app":"shop","name":"shop.run.1"}`}, Stdout: "-----> Stopped shop.run.1\n"},
		{Args: []string{"run:stop", "shop", "--container", "shop.run.2"}, Replies: map[string]reply{"run.stop": {}}, Ops: []string{"run.stop"},
			Reqs: map[string]string{"run.stop": `{"app":"shop","name":"shop.run.2"}`}, Stdout: "-----> Stopped shop.run.2\n"},
		{Args: []string{"run:stop", "shop"}, Code: 1, ErrLine: "Please specify a container (see run:list shop)"},
		{Name: "run:list --quiet drops the headers", Args: []string{"--quiet", "run:list", "shop"}, Replies: list, Ops: []string{"run.list"},
			Stdout: "shop.run.1" + sp(21) + "running" + sp(4) + "Up 2 minutes\n"},
		{Name: "ttl and global labels", Args: []string{"--label=com.example.team=ops", "--label", "x=", "run:detached", "--ttl-seconds=60", "shop", "sleep", "9"},
			Replies: map[string]reply{"run.detached": {Resp: api.RunResult{Name: "shop.run.7"}}}, Ops: []string{"run.detached"},
			Reqs: map[string]string{"run.detached": `{"app":"shop","cmd":["sleep","9"],"ttl_seconds":60,"labels":{"com.example.team":"ops","x":""}}`}, Stdout: "shop.run.7\n"},
		{Args: []string{"run", "--ttl-seconds", "$(id)", "shop", "echo", "hi"}, Code: 1, ErrLine: "--ttl-seconds must be a positive integer"},
		{Args: []string{"run:detached", "--ttl-seconds=0", "shop", "echo"}, Code: 1, ErrLine: "--ttl-seconds must be a positive integer"},
		{Args: []string{"--label==x", "run", "shop", "ls"}, Code: 1, ErrLine: `Invalid label "=x"; expected --label=KEY=VALUE`},
		{Args: []string{"run:retire"}, Replies: map[string]reply{"run.retire": {Stdout: "-----> Retiring all run and cron containers\n"}}, Ops: []string{"run.retire"},
			Reqs: map[string]string{"run.retire": `{}`}, Stdout: "-----> Retiring all run and cron containers\n"},
		{Args: []string{"run:retire", "shop"}, Replies: map[string]reply{"run.retire": {}}, Ops: []string{"run.retire"}, Reqs: map[string]string{"run.retire": `{"app":"shop"}`}},
		{Args: []string{"run:retire", "shop", "more"}, Code: 1, ErrLine: "Unexpected argument(s): more"},
		{Args: []string{"ps:retire"}, Replies: map[string]reply{"run.retire": {Stdout: "-----> Retiring all run and cron containers\n"}}, Ops: []string{"run.retire"}, Reqs: map[string]string{"run.retire": `{}`}, Stdout: "-----> Retiring all run and cron containers\n"},
		{Args: []string{"ps:retire", "shop"}, Code: 1, ErrLine: "Unexpected argument(s): shop"},

		{Args: []string{"enter", "shop", "web.1", "ls", "/"}, Replies: map[string]reply{"enter": {}}, Ops: []string{"enter"}, Reqs: map[string]string{"enter": `{"app":"shop","target":"web.1","cmd":["ls","/"]}`}},
		{Args: []string{"enter", "shop", "/bin/bash"}, Replies: map[string]reply{"enter": {}}, Ops: []string{"enter"}, Reqs: map[string]string{"enter": `{"app":"shop","cmd":["/bin/bash"]}`}},
		{Args: []string{"enter", "shop", "web.1", "--", "echo", "x"}, Replies: map[string]reply{"enter": {}}, Ops: []string{"enter"}, Reqs: map[string]string{"enter": `{"app":"shop","target":"web.1","cmd":["echo","x"]}`}},
		{Args: []string{"enter", "shop"}, Replies: map[string]reply{"enter": {ExitCode: 130}}, Code: 130, Ops: []string{"enter"}, Reqs: map[string]string{"enter": `{"app":"shop"}`}},

		{Args: []string{"logs", "shop"}, Replies: map[string]reply{"logs": {Stdout: "shop[web.1]: hi\n"}}, Ops: []string{"logs"}, Reqs: map[string]string{"logs": `{"app":"shop","lines":100}`}, Stdout: "shop[web.1]: hi\n"},
		{Args: []string{"logs", "shop", "-t"}, Replies: map[string]reply{"logs": {}}, Ops: []string{"logs"}, Reqs: map[string]string{"logs": `{"app":"shop","follow":true}`}},
		{Args: []string{"logs", "shop", "--tail", "--num", "5"}, Replies: map[string]reply{"logs": {}}, Ops: []string{"logs"}, Reqs: map[string]string{"logs": `{"app":"shop","follow":true,"lines":5}`}},
		{Args: []string{"logs", "-n", "0", "-p", "worker", "-q", "shop"}, Replies: map[string]reply{"logs": {}}, Ops: []string{"logs"},
			Reqs: map[string]string{"logs": `{"app":"shop","process":"worker","quiet":true}`}},
		{Args: []string{"logs", "shop", "-n", "x"}, Code: 1, ErrLine: `Invalid number of lines "x"`},
		{Args: []string{"logs", "shop", "-n", "-1"}, Code: 1, ErrLine: `Invalid number of lines "-1"`},
		{Args: []string{"logs", "shop", "web"}, Code: 1, ErrLine: "Unexpected argument(s): web"},
		{Args: []string{"cleanup"}, Replies: map[string]reply{"cleanup": {Stdout: "-----> Removed 2 images\n"}}, Ops: []string{"cleanup"}, Reqs: map[string]string{"cleanup": `{}`}, Stdout: "-----> Removed 2 images\n"},
	})
}

// TestRunTerminal: with a terminal, run asks for a TTY and holds the
// terminal raw until the command ends; --no-tty does neither.
func TestRunTerminal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		tty  bool
	}{
		{[]string{"run", "shop", "bash"}, true},
		{[]string{"run", "--no-tty", "shop", "bash"}, false},
		{[]string{"enter", "shop"}, true},
	} {
		term := &clitest.Terminal{}
		fake := newFake(map[string]reply{"run": {}, "enter": {}})
		r := runEnv(fake, Env{Terminal: term}, tt.args...)
		if r.Code != 0 {
			t.Errorf("%q: exit %d, %s", tt.args, r.Code, r.Stderr)
		}
		c, _ := fake.Last(tt.args[0])
		var req struct{ TTY bool }
		json.Unmarshal(c.Req, &req)
		if req.TTY != tt.tty {
			t.Errorf("%q: tty = %v, want %v", tt.args, req.TTY, tt.tty)
		}
		want := 0
		if tt.tty {
			want = 1
		}
		if term.Raw != want || term.Restored != want {
			t.Errorf("%q: raw %d times, restored %d, want %d", tt.args, term.Raw, term.Restored, want)
		}
	}
}

func TestDeployWithoutGit(t *testing.T) {
	t.Parallel()
	runCases(t, []cliCase{
		{Args: []string{"git:from-archive", "shop", "-"}, Stdin: "TAR BYTES", Replies: map[string]reply{"git.from-archive": {Stdout: "-----> Building\n", Resp: api.DeployResult{Release: 2}}},
			Ops: []string{"git.from-archive"}, Reqs: map[string]string{"git.from-archive": `{"app":"shop","url":"-"}`}, Stdout: "-----> Building\n"},
		{Args: []string{"git:from-archive", "--archive-type", "tar.gz", "shop", "https://example.com/a.tgz", "me", "me@example.com"}, Replies: map[string]reply{"git.from-archive": {}},
			Ops: []string{"git.from-archive"}, Reqs: map[string]string{"git.from-archive": `{"app":"shop","url":"https://example.com/a.tgz"}`}},
		{Args: []string{"git:from-archive", "--archive-type", "zip", "shop", "-"}, Code: 1, ErrLine: "Invalid archive type zip: Berth takes tar and tar.gz"},
		{Args: []string{"git:from-archive", "shop"}, Code: 1, ErrLine: "Please specify an archive URL, or - to read the archive from stdin"},
		{Args: []string{"git:from-archive", "shop", "-", "a", "b", "c"}, Code: 1, ErrLine: "Unexpected argument(s): c"},
		{Name: "failed deploy", Args: []string{"git:from-archive", "shop", "-"}, Replies: map[string]reply{"git.from-archive": {Err: api.Errorf(api.CodeInvalid, "Deploy failed at step build: exit 1")}},
			Code: 1, Ops: []string{"git.from-archive"}, ErrLine: "Deploy failed at step build"},
		{Args: []string{"git:from-image", "shop", "nginx:1"}, Replies: map[string]reply{"git.from-image": {}}, Ops: []string{"git.from-image"},
			Reqs: map[string]string{"git.from-image": `{"app":"shop","image":"nginx:1"}`}},
		{Args: []string{"git:from-image", "shop"}, Code: 1, ErrLine: "Please specify a docker image"},
	})
	// The archive on stdin reaches the daemon.
	fake := newFake(map[string]reply{"git.from-archive": {}})
	runCLI(fake, "TAR BYTES", "git:from-archive", "shop", "-")
	if c, _ := fake.Last("git.from-archive"); c.Stdin != "TAR BYTES" {
		t.Errorf("daemon read %q from stdin", c.Stdin)
	}
}

func TestReleasesList(t *testing.T) {
	t.Parallel()
	rels := map[string]reply{"releases.list": {Resp: api.ReleaseList{Releases: []api.ReleaseInfo{
		{Number: 12, Status: "live", Source: "git", SourceRef: "main", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))},
		{Number: 11, Status: "failed", Source: "archive", SourceRef: "-", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Error: "build failed"},
		{Number: 1, Status: "superseded", Source: "image", CreatedAt: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)},
	}}}}
	runCases(t, []cliCase{
		{Args: []string{"releases", "shop"}, Replies: rels, Ops: []string{"releases.list"}, Reqs: map[string]string{"releases.list": `{"app":"shop"}`},
			Stdout: "=====> shop releases\n" +
				"v12   live       git      2026-01-02 02:04:05  main\n" +
				"v11   failed     archive  2026-01-01 00:00:00  (stdin)  (build failed)\n" +
				"v1    superseded image    2025-12-31 00:00:00\n"},
		{Args: []string{"releases", "shop", "--format", "json"}, Replies: rels, Ops: []string{"releases.list"},
			Has: []string{`[{"number":12,"status":"live","source":"git","source_ref":"main",`, `"error":"build failed"`}},
		{Args: []string{"releases", "shop", "--format", "csv"}, Replies: rels, Code: 1, ErrLine: "Invalid format: csv"},
		{Args: []string{"releases", "gone"}, Replies: map[string]reply{"releases.list": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"releases.list"}, ErrLine: "App gone does not exist"},
	})
}
