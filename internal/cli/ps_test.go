package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

func sp(n int) string { return strings.Repeat(" ", n) }

func TestPSLifecycle(t *testing.T) {
	t.Parallel()
	var cases []cliCase
	for _, verb := range []string{"rebuild", "start", "stop", "restart", "restore"} {
		op := "ps." + verb
		cases = append(cases,
			cliCase{args: []string{"ps:" + verb, "shop"}, replies: map[string]reply{op: {Stdout: "-----> " + verb + "\n", Stderr: "warning\n"}},
				ops: []string{op}, reqs: map[string]string{op: `{"app":"shop"}`}, stdout: "-----> " + verb + "\n", stderr: "warning\n"},
			cliCase{args: []string{"ps:" + verb, "--all"}, replies: map[string]reply{op: {}}, ops: []string{op}, reqs: map[string]string{op: `{"all":true}`}},
			cliCase{args: []string{"ps:" + verb}, code: 1, errLine: "Please specify an app to run the command on, or --all"},
			cliCase{args: []string{"ps:" + verb, "shop", "web"}, code: 1, errLine: "Unexpected argument(s): web"},
			cliCase{args: []string{"ps:" + verb, "gone"}, replies: map[string]reply{op: {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{op}, errLine: "App gone does not exist"},
		)
	}
	runCases(t, cases)
}

func TestPSScale(t *testing.T) {
	t.Parallel()
	formation := map[string]reply{"ps.scale": {Resp: api.ScaleResult{Formation: map[string]int{"web": 2, "worker": 0}, Types: []string{"web", "worker"}}}}
	runCases(t, []cliCase{
		{args: []string{"ps:scale", "shop"}, replies: formation, ops: []string{"ps.scale"}, reqs: map[string]string{"ps.scale": `{"app":"shop"}`},
			stdout: "-----> Scaling for shop\nproctype: qty\n--------: ---\nweb:      2\nworker:   0\n"},
		{args: []string{"ps:scale", "shop", "--format", "json"}, replies: formation, ops: []string{"ps.scale"},
			stdout: `[{"process_type":"web","quantity":2},{"process_type":"worker","quantity":0}]` + "\n"},
		{name: "json of no types", args: []string{"ps:scale", "shop", "--format", "json"}, replies: map[string]reply{"ps.scale": {Resp: api.ScaleResult{}}}, ops: []string{"ps.scale"}, stdout: "[]\n"},
		{args: []string{"ps:scale", "shop", "--format", "xml"}, replies: formation, code: 1, ops: []string{"ps.scale"}, errLine: "Invalid format: xml; use stdout or json"},
		{args: []string{"ps:scale", "shop", "web=2", "worker=1"}, replies: map[string]reply{"ps.scale": {Stdout: "-----> Starting worker.1\n"}}, ops: []string{"ps.scale"},
			reqs:   map[string]string{"ps.scale": `{"app":"shop","changes":{"web":2,"worker":1}}`},
			stdout: "-----> Scaling shop processes: web=2 worker=1\n-----> Starting worker.1\n"},
		{args: []string{"ps:scale", "--skip-deploy", "shop", "web=0"}, replies: map[string]reply{"ps.scale": {}}, ops: []string{"ps.scale"},
			reqs: map[string]string{"ps.scale": `{"app":"shop","changes":{"web":0},"skip_deploy":true}`}, stdout: "-----> Scaling shop processes: web=0\n"},
		{args: []string{"ps:scale", "--quiet", "shop", "web=1"}, replies: map[string]reply{"ps.scale": {}}, ops: []string{"ps.scale"}},
		{args: []string{"ps:scale", "shop", "web"}, code: 1, errLine: "Missing count for process type web"},
		{args: []string{"ps:scale", "shop", "web="}, code: 1, errLine: "Missing count for process type web"},
		{args: []string{"ps:scale", "shop", "web=1", "worker=-1"}, code: 1, errLine: "Invalid count for process type worker"},
		{args: []string{"ps:scale", "shop", "web=two"}, code: 1, errLine: "Invalid count for process type web"},
		{name: "daemon refuses a type", args: []string{"ps:scale", "shop", "nope=1"}, replies: map[string]reply{"ps.scale": {Err: api.Errorf(api.CodeInvalid, "nope is not a valid process name to scale up")}},
			code: 1, ops: []string{"ps.scale"}, stdout: "-----> Scaling shop processes: nope=1\n", errLine: "nope is not a valid process name to scale up"},
	})
}

func TestPSReport(t *testing.T) {
	t.Parallel()
	shop := api.PSReport{App: "shop", Deployed: true, Release: 3, CanScale: true, RestartPolicy: "on-failure:10", StopTimeout: 30, ProcfilePath: "Procfile",
		Containers: []api.ProcessStatus{
			{Type: "worker", Index: 1, State: "exited", ID: "ffffeeeeddddcccc"},
			{Type: "web", Index: 2, State: "running", ID: "0123456789abcdef0123", HostPort: 32768},
			{Type: "web", Index: 1, State: "running", ID: "abcdef"},
		}}
	one := map[string]reply{"ps.report": {Resp: api.PSReports{Reports: []api.PSReport{shop}}}}
	state := func(states ...string) map[string]reply {
		r := api.PSReport{App: "shop"}
		for i, s := range states {
			r.Containers = append(r.Containers, api.ProcessStatus{Type: "web", Index: i + 1, State: s})
		}
		return map[string]reply{"ps.report": {Resp: api.PSReports{Reports: []api.PSReport{r}}}}
	}
	row := func(label, value string) string { return sp(7) + label + sp(31-len(label)) + value + "\n" }
	full := "=====> shop ps information\n" +
		row("Ps deployed:", "true") +
		row("Ps release:", "3") +
		row("Ps processes:", "3") +
		row("Ps can scale:", "true") +
		row("Ps restart policy:", "on-failure:10") +
		row("Ps stop timeout seconds:", "30") +
		row("Ps procfile path:", "Procfile") +
		row("Ps restore:", "true") +
		row("Ps running:", "mixed") +
		row("Ps status web 1:", "running (CID: abcdef)") +
		row("Ps status web 2:", "running (CID: 0123456789ab) 127.0.0.1:32768") +
		row("Ps status worker 1:", "exited (CID: ffffeeeedddd)")
	runCases(t, []cliCase{
		{args: []string{"ps:report", "shop"}, replies: one, ops: []string{"ps.report"}, reqs: map[string]string{"ps.report": `{"app":"shop"}`}, stdout: full},
		{args: []string{"ps:report", "shop", "--ps-status-web-2"}, replies: one, ops: []string{"ps.report"}, stdout: "running (CID: 0123456789ab) 127.0.0.1:32768\n"},
		{args: []string{"ps:report", "shop", "--ps-restore"}, replies: one, ops: []string{"ps.report"}, stdout: "true\n"},
		{name: "all running", args: []string{"ps:report", "shop", "--ps-running"}, replies: state("running", "running"), ops: []string{"ps.report"}, stdout: "true\n"},
		{name: "none running", args: []string{"ps:report", "shop", "--ps-running"}, replies: state("exited", "created"), ops: []string{"ps.report"}, stdout: "false\n"},
		{name: "no containers", args: []string{"ps:report", "shop", "--ps-running"}, replies: state(), ops: []string{"ps.report"}, stdout: "false\n"},
		{name: "stopped app", args: []string{"ps:report", "shop", "--ps-restore"},
			replies: map[string]reply{"ps.report": {Resp: api.PSReports{Reports: []api.PSReport{{App: "shop", Stopped: true}}}}}, ops: []string{"ps.report"}, stdout: "false\n"},
		{name: "engine error is a field", args: []string{"ps:report", "shop", "--ps-engine"},
			replies: map[string]reply{"ps.report": {Resp: api.PSReports{Reports: []api.PSReport{{App: "shop", EngineError: "docker is not running"}}}}}, ops: []string{"ps.report"}, stdout: "docker is not running\n"},
		{args: []string{"ps:report", "shop", "--ps-nope"}, replies: one, code: 1, ops: []string{"ps.report"}, errLine: "Invalid flag passed, valid flags: --ps-deployed, --ps-release,"},
		{args: []string{"ps:report", "--ps-release"}, replies: map[string]reply{"ps.report": {Resp: api.PSReports{Reports: []api.PSReport{{App: "a", Release: 1}, {App: "b", Release: 7}}}}},
			ops: []string{"ps.report"}, reqs: map[string]string{"ps.report": `{"all":true}`}, stdout: "1\n7\n"},
		{name: "no apps", args: []string{"ps:report"}, replies: map[string]reply{"ps.report": {Resp: api.PSReports{}}}, ops: []string{"ps.report"},
			stderr: " !     You haven't deployed any applications yet\n"},
		{args: []string{"ps:report", "shop", "--format", "json", "--ps-running"}, replies: one, code: 1, ops: []string{"ps.report"},
			errLine: "--format flag cannot be specified when specifying an info flag"},
		{args: []string{"ps:report", "gone"}, replies: map[string]reply{"ps.report": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"ps.report"}, errLine: "App gone does not exist"},
	})

	// --format json prints the daemon's report, containers in order.
	fake := newFake(one)
	r := runCLI(fake, "", "ps:report", "shop", "--format", "json")
	var got api.PSReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("exit %d, stdout %q: %v", r.code, r.stdout, err)
	}
	if got.App != "shop" || got.Release != 3 || len(got.Containers) != 3 || got.Containers[0].Type != "web" || got.Containers[0].Index != 1 || got.Containers[2].Type != "worker" {
		t.Errorf("json report = %+v", got)
	}
}

func TestPSInspectAndSettingsReports(t *testing.T) {
	t.Parallel()
	appJSON := map[string]reply{"properties.report": {Resp: api.PropertyValues{
		App: map[string]string{"appjson-path": ""}, Global: map[string]string{"appjson-path": "deploy/app.json"}, Computed: map[string]string{"appjson-path": "deploy/app.json"}}}}
	dockerfile := map[string]reply{"properties.report": {Resp: api.PropertyValues{
		App: map[string]string{"dockerfile-path": "Dockerfile.prod"}, Computed: map[string]string{"dockerfile-path": "Dockerfile.prod"}}}}
	opts := map[string]reply{"properties.report": {Resp: api.PropertyValues{
		App: map[string]string{"build": "--build-arg A\n--no-cache"}, Computed: map[string]string{"build": "", "deploy": "", "run": ""}}}}
	runCases(t, []cliCase{
		{args: []string{"ps:inspect", "shop"}, replies: map[string]reply{"ps.inspect": {Resp: api.InspectResult{Containers: []json.RawMessage{json.RawMessage(`{"Id":"abc"}`)}}}},
			ops: []string{"ps.inspect"}, reqs: map[string]string{"ps.inspect": `{"app":"shop"}`}, stdout: "[\n    {\n        \"Id\": \"abc\"\n    }\n]\n"},
		{args: []string{"app-json:report", "shop"}, replies: appJSON, ops: []string{"properties.report"},
			reqs: map[string]string{"properties.report": `{"app":"shop","namespace":"app-json"}`},
			stdout: "=====> shop app-json information\n" +
				sp(7) + "App json appjson path:" + sp(10) + "\n" +
				sp(7) + "App json computed appjson path: deploy/app.json\n" +
				sp(7) + "App json global appjson path:" + sp(3) + "deploy/app.json\n"},
		{args: []string{"app-json:report", "shop", "--app-json-computed-appjson-path"}, replies: appJSON, ops: []string{"properties.report"}, stdout: "deploy/app.json\n"},
		{args: []string{"app-json:report", "shop", "--format", "json"}, replies: appJSON, ops: []string{"properties.report"},
			stdout: `{"appjson-path":"","computed-appjson-path":"deploy/app.json","global-appjson-path":"deploy/app.json"}` + "\n"},
		{args: []string{"builder-dockerfile:report", "shop", "--dockerfile-dockerfile-path"}, replies: dockerfile, ops: []string{"properties.report"},
			reqs: map[string]string{"properties.report": `{"app":"shop","namespace":"builder-dockerfile"}`}, stdout: "Dockerfile.prod\n"},
		{args: []string{"builder-dockerfile:report", "shop", "--builder-dockerfile-dockerfile-path"}, replies: dockerfile, code: 1, ops: []string{"properties.report"},
			errLine: "Invalid flag passed, valid flags: --dockerfile-dockerfile-path, --dockerfile-computed-dockerfile-path, --dockerfile-global-dockerfile-path"},
		{args: []string{"docker-options:report", "shop", "--docker-options-build"}, replies: opts, ops: []string{"properties.report"}, stdout: "--build-arg A --no-cache\n"},
		{args: []string{"docker-options:report", "shop", "--format", "json"}, replies: opts, ops: []string{"properties.report"},
			stdout: `{"build":"--build-arg A --no-cache","deploy":"","run":""}` + "\n"},
	})
}

func TestDockerOptions(t *testing.T) {
	t.Parallel()
	cur := func(build string) map[string]reply {
		return map[string]reply{
			"properties.report":    {Resp: api.PropertyValues{App: map[string]string{"build": build}}},
			"docker-options.check": {},
			"properties.set":       {},
		}
	}
	// Only build takes --build-arg, as the daemon's check says.
	buildOnly := func(op string, req []byte) (reply, bool) {
		if op == "docker-options.check" && strings.Contains(string(req), `"phase":"deploy"`) {
			return reply{Err: api.Errorf(api.CodeInvalid, "Berth does not apply the docker option \"--build-arg\" in phase deploy")}, true
		}
		return reply{}, false
	}
	runCases(t, []cliCase{
		{args: []string{"docker-options:add", "shop", "build", "--build-arg=KEY"}, replies: cur("--no-cache"),
			ops: []string{"properties.report", "docker-options.check", "properties.set"},
			reqs: map[string]string{
				"properties.report":    `{"app":"shop","namespace":"docker-options"}`,
				"docker-options.check": `{"phase":"build","option":"--build-arg=KEY"}`,
				"properties.set":       `{"app":"shop","namespace":"docker-options","key":"build","value":"--no-cache\n--build-arg KEY"}`,
			}},
		{name: "option in words", args: []string{"docker-options:add", "shop", "build", "--build-arg", "KEY=1"}, replies: cur(""),
			ops:  []string{"properties.report", "docker-options.check", "properties.set"},
			reqs: map[string]string{"docker-options.check": `{"phase":"build","option":"--build-arg KEY=1"}`, "properties.set": `{"app":"shop","namespace":"docker-options","key":"build","value":"--build-arg KEY=1"}`}},
		{name: "two phases", args: []string{"docker-options:add", "shop", "build,run", "--no-cache"}, replies: cur(""),
			ops:  []string{"properties.report", "docker-options.check", "docker-options.check", "properties.set", "properties.set"},
			reqs: map[string]string{"properties.set": `{"app":"shop","namespace":"docker-options","key":"run","value":"--no-cache"}`}},
		{name: "refused option", args: []string{"docker-options:add", "shop", "build", "--privileged"},
			replies: map[string]reply{"properties.report": {Resp: api.PropertyValues{}}, "docker-options.check": {Err: api.Errorf(api.CodeInvalid, "Berth does not apply the docker option \"--privileged\" in phase build")}},
			code:    1, ops: []string{"properties.report", "docker-options.check"}, errLine: `does not apply the docker option "--privileged"`},
		{name: "an option refused in a later phase writes nothing", args: []string{"docker-options:add", "shop", "build,deploy", "--build-arg", "KEY"}, replies: cur(""), answer: buildOnly,
			code: 1, ops: []string{"properties.report", "docker-options.check", "docker-options.check"}, errLine: "in phase deploy"},
		{args: []string{"docker-options:add", "shop", "bogus", "--no-cache"}, replies: cur(""), code: 1, ops: []string{"properties.report"}, errLine: "Invalid phase bogus: use build, deploy or run"},
		{args: []string{"docker-options:add", "shop"}, code: 1, errLine: "Please specify phase(s) (build, deploy, run) and an option"},
		{args: []string{"docker-options:add", "shop", "build"}, code: 1, errLine: "Please specify a docker option"},
		{args: []string{"docker-options:remove", "shop", "build", "--build-arg=KEY"}, replies: cur("--build-arg KEY\n--no-cache"),
			ops:  []string{"properties.report", "properties.set"},
			reqs: map[string]string{"properties.set": `{"app":"shop","namespace":"docker-options","key":"build","value":"--no-cache"}`}},
		{name: "remove the last option", args: []string{"docker-options:remove", "shop", "build", "--no-cache"}, replies: cur("--no-cache"),
			ops:  []string{"properties.report", "properties.set"},
			reqs: map[string]string{"properties.set": `{"app":"shop","namespace":"docker-options","key":"build","unset":true}`}},
		{args: []string{"docker-options:clear", "shop"}, replies: cur("--no-cache"),
			ops:  []string{"properties.report", "properties.set", "properties.set", "properties.set"},
			reqs: map[string]string{"properties.set": `{"app":"shop","namespace":"docker-options","key":"run","unset":true}`}},
		{args: []string{"docker-options:clear", "shop", "build"}, replies: cur("--no-cache"),
			ops:  []string{"properties.report", "properties.set"},
			reqs: map[string]string{"properties.set": `{"app":"shop","namespace":"docker-options","key":"build","unset":true}`}},
	})
}

func TestRunAndLogs(t *testing.T) {
	t.Parallel()
	list := map[string]reply{"run.list": {Resp: api.ContainerList{Containers: []api.ContainerSummary{{Name: "shop.run.1", ID: "abc", State: "running", Status: "Up 2 minutes"}}}}}
	runCases(t, []cliCase{
		{args: []string{"run", "shop", "ls", "-la"}, stdin: "input", replies: map[string]reply{"run": {Stdout: "out\n", Stderr: "err\n"}},
			ops: []string{"run"}, reqs: map[string]string{"run": `{"app":"shop","cmd":["ls","-la"]}`}, stdout: "out\n", stderr: "err\n"},
		{name: "run exit code is berth's", args: []string{"run", "shop", "false"}, replies: map[string]reply{"run": {ExitCode: 3}}, code: 3, ops: []string{"run"}},
		{name: "run env flags", args: []string{"run", "--env", "A=1", "-e", "B=x=y", "shop", "env", "--", "-x"}, replies: map[string]reply{"run": {}},
			ops: []string{"run"}, reqs: map[string]string{"run": `{"app":"shop","cmd":["env","--","-x"],"env":{"A":"1","B":"x=y"}}`}},
		{name: "run flags after the command are the command's", args: []string{"run", "shop", "rake", "--trace"}, replies: map[string]reply{"run": {}},
			ops: []string{"run"}, reqs: map[string]string{"run": `{"app":"shop","cmd":["rake","--trace"]}`}},
		{args: []string{"run", "shop"}, code: 1, errLine: "Please specify a command to run"},
		{args: []string{"run", "-e", "A", "shop", "ls"}, code: 1, errLine: "Invalid env pair: A; expected KEY=VALUE"},
		{name: "run missing app", args: []string{"run", "gone", "ls"}, replies: map[string]reply{"run": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"run"}, errLine: "App gone does not exist"},

		{args: []string{"run:detached", "-e", "A=1", "shop", "sleep", "9"}, replies: map[string]reply{"run.detached": {Resp: api.RunResult{Name: "shop.run.42"}}},
			ops: []string{"run.detached"}, reqs: map[string]string{"run.detached": `{"app":"shop","cmd":["sleep","9"],"env":{"A":"1"}}`}, stdout: "shop.run.42\n"},
		{args: []string{"run:detached", "shop"}, code: 1, errLine: "Please specify a command to run"},
		{args: []string{"run:list", "shop"}, replies: list, ops: []string{"run.list"}, reqs: map[string]string{"run.list": `{"app":"shop"}`},
			stdout: "=====> shop run containers\n" + "NAME" + sp(27) + "STATE" + sp(6) + "STATUS\n" + "shop.run.1" + sp(21) + "running" + sp(4) + "Up 2 minutes\n"},
		{args: []string{"run:list", "shop", "--format", "json"}, replies: list, ops: []string{"run.list"},
			stdout: `[{"name":"shop.run.1","id":"abc","state":"running","status":"Up 2 minutes","created":"0001-01-01T00:00:00Z"}]` + "\n"},
		{args: []string{"run:stop", "shop", "shop.run.1"}, replies: map[string]reply{"run.stop": {}}, ops: []string{"run.stop"},
			reqs: map[string]string{"run.stop": `{"app":"shop","name":"shop.run.1"}`}, stdout: "-----> Stopped shop.run.1\n"},
		{args: []string{"run:stop", "shop", "--container", "shop.run.2"}, replies: map[string]reply{"run.stop": {}}, ops: []string{"run.stop"},
			reqs: map[string]string{"run.stop": `{"app":"shop","name":"shop.run.2"}`}, stdout: "-----> Stopped shop.run.2\n"},
		{args: []string{"run:stop", "shop"}, code: 1, errLine: "Please specify a container (see run:list shop)"},

		{args: []string{"enter", "shop", "web.1", "ls", "/"}, replies: map[string]reply{"enter": {}}, ops: []string{"enter"}, reqs: map[string]string{"enter": `{"app":"shop","target":"web.1","cmd":["ls","/"]}`}},
		{args: []string{"enter", "shop", "/bin/bash"}, replies: map[string]reply{"enter": {}}, ops: []string{"enter"}, reqs: map[string]string{"enter": `{"app":"shop","cmd":["/bin/bash"]}`}},
		{args: []string{"enter", "shop"}, replies: map[string]reply{"enter": {ExitCode: 130}}, code: 130, ops: []string{"enter"}, reqs: map[string]string{"enter": `{"app":"shop"}`}},

		{args: []string{"logs", "shop"}, replies: map[string]reply{"logs": {Stdout: "shop[web.1]: hi\n"}}, ops: []string{"logs"}, reqs: map[string]string{"logs": `{"app":"shop","lines":100}`}, stdout: "shop[web.1]: hi\n"},
		{args: []string{"logs", "shop", "-t"}, replies: map[string]reply{"logs": {}}, ops: []string{"logs"}, reqs: map[string]string{"logs": `{"app":"shop","follow":true}`}},
		{args: []string{"logs", "shop", "--tail", "--num", "5"}, replies: map[string]reply{"logs": {}}, ops: []string{"logs"}, reqs: map[string]string{"logs": `{"app":"shop","follow":true,"lines":5}`}},
		{args: []string{"logs", "-n", "0", "-p", "worker", "-q", "shop"}, replies: map[string]reply{"logs": {}}, ops: []string{"logs"},
			reqs: map[string]string{"logs": `{"app":"shop","process":"worker","quiet":true}`}},
		{args: []string{"logs", "shop", "-n", "x"}, code: 1, errLine: `Invalid number of lines "x"`},
		{args: []string{"logs", "shop", "-n", "-1"}, code: 1, errLine: `Invalid number of lines "-1"`},
		{args: []string{"logs", "shop", "web"}, code: 1, errLine: "Unexpected argument(s): web"},
		{args: []string{"cleanup"}, replies: map[string]reply{"cleanup": {Stdout: "-----> Removed 2 images\n"}}, ops: []string{"cleanup"}, reqs: map[string]string{"cleanup": `{}`}, stdout: "-----> Removed 2 images\n"},
	})
}

// fakeTerminal is a terminal that records raw mode.
type fakeTerminal struct{ raw, restored int }

func (f *fakeTerminal) MakeRaw() (func(), error)  { f.raw++; return func() { f.restored++ }, nil }
func (f *fakeTerminal) Size() (uint, uint, error) { return 24, 80, nil }
func (f *fakeTerminal) Resizes(context.Context) <-chan [2]uint {
	ch := make(chan [2]uint)
	close(ch)
	return ch
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
		term := &fakeTerminal{}
		fake := newFake(map[string]reply{"run": {}, "enter": {}})
		r := runEnv(fake, Env{Terminal: term}, tt.args...)
		if r.code != 0 {
			t.Errorf("%q: exit %d, %s", tt.args, r.code, r.stderr)
		}
		c, _ := fake.last(tt.args[0])
		var req struct{ TTY bool }
		json.Unmarshal(c.Req, &req)
		if req.TTY != tt.tty {
			t.Errorf("%q: tty = %v, want %v", tt.args, req.TTY, tt.tty)
		}
		want := 0
		if tt.tty {
			want = 1
		}
		if term.raw != want || term.restored != want {
			t.Errorf("%q: raw %d times, restored %d, want %d", tt.args, term.raw, term.restored, want)
		}
	}
}

func TestDeployWithoutGit(t *testing.T) {
	t.Parallel()
	runCases(t, []cliCase{
		{args: []string{"git:from-archive", "shop", "-"}, stdin: "TAR BYTES", replies: map[string]reply{"git.from-archive": {Stdout: "-----> Building\n", Resp: api.DeployResult{Release: 2}}},
			ops: []string{"git.from-archive"}, reqs: map[string]string{"git.from-archive": `{"app":"shop","url":"-"}`}, stdout: "-----> Building\n"},
		{args: []string{"git:from-archive", "--archive-type", "tar.gz", "shop", "https://example.com/a.tgz", "me", "me@example.com"}, replies: map[string]reply{"git.from-archive": {}},
			ops: []string{"git.from-archive"}, reqs: map[string]string{"git.from-archive": `{"app":"shop","url":"https://example.com/a.tgz"}`}},
		{args: []string{"git:from-archive", "--archive-type", "zip", "shop", "-"}, code: 1, errLine: "Invalid archive type zip: Berth takes tar and tar.gz"},
		{args: []string{"git:from-archive", "shop"}, code: 1, errLine: "Please specify an archive URL, or - to read the archive from stdin"},
		{args: []string{"git:from-archive", "shop", "-", "a", "b", "c"}, code: 1, errLine: "Unexpected argument(s): c"},
		{name: "failed deploy", args: []string{"git:from-archive", "shop", "-"}, replies: map[string]reply{"git.from-archive": {Err: api.Errorf(api.CodeInvalid, "Deploy failed at step build: exit 1")}},
			code: 1, ops: []string{"git.from-archive"}, errLine: "Deploy failed at step build"},
		{args: []string{"git:from-image", "shop", "nginx:1"}, replies: map[string]reply{"git.from-image": {}}, ops: []string{"git.from-image"},
			reqs: map[string]string{"git.from-image": `{"app":"shop","image":"nginx:1"}`}},
		{args: []string{"git:from-image", "shop"}, code: 1, errLine: "Please specify a docker image"},
	})
	// The archive on stdin reaches the daemon.
	fake := newFake(map[string]reply{"git.from-archive": {}})
	runCLI(fake, "TAR BYTES", "git:from-archive", "shop", "-")
	if c, _ := fake.last("git.from-archive"); c.Stdin != "TAR BYTES" {
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
		{args: []string{"releases", "shop"}, replies: rels, ops: []string{"releases.list"}, reqs: map[string]string{"releases.list": `{"app":"shop"}`},
			stdout: "=====> shop releases\n" +
				"v12   live       git      2026-01-02 02:04:05  main\n" +
				"v11   failed     archive  2026-01-01 00:00:00  (stdin)  (build failed)\n" +
				"v1    superseded image    2025-12-31 00:00:00\n"},
		{args: []string{"releases", "shop", "--format", "json"}, replies: rels, ops: []string{"releases.list"},
			has: []string{`[{"number":12,"status":"live","source":"git","source_ref":"main",`, `"error":"build failed"`}},
		{args: []string{"releases", "shop", "--format", "csv"}, replies: rels, code: 1, ops: []string{"releases.list"}, errLine: "Invalid format: csv"},
		{args: []string{"releases", "gone"}, replies: map[string]reply{"releases.list": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"releases.list"}, errLine: "App gone does not exist"},
	})
}
