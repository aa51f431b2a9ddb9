package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// deployed starts a daemon and deploys the test app as "shop".
func deployed(t *testing.T, scale string) (*daemon, func() map[string]string) {
	t.Helper()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": procfile, "DOKKU_SCALE": scale})); code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, out)
	}
	ids := func() map[string]string {
		out := map[string]string{}
		for dyno, c := range containers(t, eng, d, "shop") {
			out[dyno] = c.ID
		}
		return out
	}
	return d, ids
}

func TestRunExitCodesStdinAndEnv(t *testing.T) {
	t.Parallel()
	d, _ := deployed(t, "web=1\n")
	d.mustBerth(t, "config:set", "--no-restart", "shop", "FOO=from config")

	if out, code := d.berth("run", "shop", "testapp", "exit", "3"); code != 3 {
		t.Errorf("run exit 3: exit %d\n%s", code, out)
	}
	out, code := d.berthIn(strings.NewReader("line from stdin\n"), "run", "shop", "testapp", "echo", "hello", "world")
	if code != 0 || out != "hello world\nline from stdin\n" {
		t.Errorf("run echo: exit %d %q", code, out)
	}
	// A first word naming a Procfile type runs its command.
	if out, code := d.berth("run", "shop", "once"); code != 4 || !strings.Contains(out, "exiting with 4") {
		t.Errorf("run once: exit %d %q, want 4", code, out)
	}
	// The command's environment: config, --env, DYNO; --rm (Dokku) is accepted.
	out, code = d.berth("--rm", "run", "--env", "EXTRA=x y", "shop", "sh", "-c", "echo $FOO/$EXTRA/$DYNO")
	if code != 0 || !strings.HasPrefix(out, "from config/x y/run.") {
		t.Errorf("run env: exit %d %q", code, out)
	}
	// A missing command: 127, as a shell would.
	if out, code := d.berth("run", "shop", "no-such-command"); code != 127 {
		t.Errorf("run missing command: exit %d, want 127\n%s", code, out)
	}
	// One-off containers are removed afterwards.
	if out := d.mustBerth(t, "run:list", "shop", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("run:list after runs = %s", out)
	}
	// Detached: listed, then stopped.
	name := strings.TrimSpace(d.mustBerth(t, "run:detached", "shop", "testapp", "worker"))
	if out := d.mustBerth(t, "run:list", "shop"); !strings.Contains(out, name) {
		t.Errorf("run:list does not show %s:\n%s", name, out)
	}
	d.mustBerth(t, "run:stop", "shop", name)
	if out := d.mustBerth(t, "run:list", "shop", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("run:list after run:stop = %s", out)
	}
	// enter runs in the live web container.
	out, code = d.berth("enter", "shop", "web.1", "sh", "-c", "echo $DYNO")
	if code != 0 || strings.TrimSpace(out) != "web.1" {
		t.Errorf("enter: exit %d %q", code, out)
	}
	// Attached to a terminal (script(1) gives berth a pty), run gets a TTY,
	// and the exit code still comes through; --no-tty turns it off.
	for _, tc := range []struct {
		flags string
		want  string
	}{{"", "tty:yes"}, {"--no-tty ", "tty:no"}} {
		cmd := exec.Command("script", "-qec", filepath.Join(binDir, "berth")+" run "+tc.flags+"shop sh -c 'if test -t 0; then echo tty:yes; else echo tty:no; fi; exit 5'", "/dev/null")
		cmd.Env = d.env()
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 5 || !strings.Contains(string(out), tc.want) {
			t.Errorf("run %sin a terminal: exit %d %q, want 5 and %s", tc.flags, code, out, tc.want)
		}
	}
	// Not deployed: one line.
	d.mustBerth(t, "apps:create", "empty")
	if out, code := d.berth("run", "empty", "ls"); code != 1 || !strings.Contains(out, "empty has not been deployed") {
		t.Errorf("run on undeployed app: exit %d %q", code, out)
	}
}

func TestLogsFollowAcrossRedeploy(t *testing.T) {
	t.Parallel()
	d, ids := deployed(t, "web=1\nworker=1\n")
	old := ids()["worker.1"]
	cmd := exec.Command(filepath.Join(binDir, "berth"), "logs", "shop", "-t", "-p", "worker")
	cmd.Env = d.env()
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(substr string) string {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("logs ended before a line with %q", substr)
				}
				if strings.Contains(l, substr) {
					return l
				}
			case <-deadline:
				t.Fatalf("no log line with %q within 60s", substr)
			}
		}
	}
	l := waitLine("version v1")
	if !strings.Contains(l, "shop[worker.1]: heartbeat") || !strings.Contains(l[:30], "T") {
		t.Errorf("log line %q: want a timestamp and shop[worker.1]: prefix", l)
	}
	// A config change redeploys: new containers, followed by the same logs.
	out := d.mustBerth(t, "config:set", "shop", "APP_VERSION=v2")
	if !strings.Contains(out, "Application deployed") {
		t.Errorf("config:set did not redeploy:\n%s", out)
	}
	waitLine("version v2")
	if ids()["worker.1"] == old {
		t.Errorf("worker.1 was not replaced by the redeploy")
	}
	cmd.Process.Signal(syscall.SIGTERM)
}

func TestStopStartAndRestoreAfterRestart(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, ids := deployed(t, "web=1\nworker=1\n")
	d.mustBerth(t, "ps:stop", "shop")
	if got := ids(); len(got) != 0 {
		t.Fatalf("after ps:stop running: %v", got)
	}
	if out := d.mustBerth(t, "ps:report", "shop", "--restore"); strings.TrimSpace(out) != "false" {
		t.Errorf("ps:report --restore after stop = %q", out)
	}
	d.mustBerth(t, "ps:start", "shop")
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1 worker.1" {
		t.Fatalf("after ps:start: %q", got)
	}
	before := ids()
	d.mustBerth(t, "ps:restart", "shop")
	after := ids()
	if after["web.1"] == "" || after["web.1"] == before["web.1"] {
		t.Errorf("ps:restart did not replace web.1: %v -> %v", before, after)
	}

	// The daemon dies; the containers go; a new daemon restores them.
	if err := d.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, id := range after {
		eng.RemoveContainer(context.Background(), id, true)
	}
	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.stop(syscall.SIGKILL)
	deadline := time.Now().Add(30 * time.Second)
	for dynos(containers(t, eng, d, "shop")) != "web.1 worker.1" {
		if time.Now().After(deadline) {
			t.Fatalf("restore after restart: running %q\n%s", dynos(containers(t, eng, d, "shop")), d2.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A stopped app stays stopped across a restart.
	d2.mustBerth(t, "ps:stop", "shop")
	d2.stop(syscall.SIGTERM)
	d3, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	defer d3.stop(syscall.SIGKILL)
	d3.mustBerth(t, "ps:restore", "shop")
	if got := ids(); len(got) != 0 {
		t.Errorf("stopped app restored: %v", got)
	}
}

func TestBadDeploysChangeNothing(t *testing.T) {
	t.Parallel()
	d, ids := deployed(t, "web=1\n")
	live := ids()
	check := func(name string, files map[string]string, want ...string) {
		t.Helper()
		out, code := d.deployTar(t, "shop", appTar(t, files))
		if code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", name, code, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		last := lines[len(lines)-1]
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", name, w, out)
			}
		}
		if !strings.HasPrefix(last, " !     ") {
			t.Errorf("%s: last line %q is not the error", name, last)
		}
		if got := ids(); got["web.1"] != live["web.1"] || len(got) != len(live) {
			t.Errorf("%s: running containers changed: %v -> %v", name, live, got)
		}
	}
	check("no Dockerfile", map[string]string{"Procfile": procfile}, "No Dockerfile found at Dockerfile")
	check("failing build", map[string]string{"Dockerfile": dockerfile("v2", "RUN echo compiling && echo oops >&2 && exit 3"), "Procfile": procfile},
		"compiling", "Deploy failed at step build: build failed:")
	check("malformed Procfile", map[string]string{"Dockerfile": dockerfile("v2"), "Procfile": "web: testapp web\nBad_Type: x\n"},
		"Procfile line 2")
	check("malformed app.json", map[string]string{"Dockerfile": dockerfile("v2"), "Procfile": procfile, "app.json": "{\n  \"formation\": {\"web\": {\"quantity\": \"two\"}}\n}\n"},
		"app.json line 2")
	check("crashing web", map[string]string{"Dockerfile": dockerfile("v2"), "Procfile": "web: testapp exit 1\n"},
		"Deploy failed at step check: web.1")
	check("scale of unknown type", map[string]string{"Dockerfile": dockerfile("v2"), "Procfile": procfile, "DOKKU_SCALE": "nope=1\n"},
		"DOKKU_SCALE sets nope=1 but nope is not a process type")
	// Not a tar at all.
	out, code := d.berthIn(strings.NewReader("this is not an archive"), "git:from-archive", "shop", "-")
	if code != 1 || !strings.Contains(out, "not a valid tar") {
		t.Errorf("garbage archive: exit %d %q", code, out)
	}
	out = d.mustBerth(t, "releases", "shop")
	if !strings.Contains(out, "v1    live") || strings.Count(out, "    failed ") != 7 {
		t.Errorf("releases after failures:\n%s", out)
	}
	// Missing app: exit 20 before anything is read.
	if _, code := d.berthIn(strings.NewReader(""), "git:from-archive", "nope", "-"); code != 20 {
		t.Errorf("deploy to missing app: exit %d, want 20", code)
	}
}

// TestEngineStoppedMidDeploy puts a unix-socket relay between the daemon and
// the engine and cuts it while the build runs: the deploy fails in one line
// and the previous release keeps running.
func TestEngineStoppedMidDeploy(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	relay := newRelay(t, "/var/run/docker.sock")
	d := deployDaemon(t, eng, "DOCKER_HOST=unix://"+relay.path)
	d.mustBerth(t, "apps:create", "shop")
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("first deploy: %d\n%s", code, out)
	}
	before := dynos(containers(t, eng, d, "shop"))
	cmd := exec.Command(filepath.Join(binDir, "berth"), "git:from-archive", "shop", "-")
	cmd.Env = d.env()
	cmd.Stdin = bytes.NewReader(appTar(t, map[string]string{"Dockerfile": dockerfile("v2", nonce(), "RUN sleep 5"), "Procfile": "web: testapp web\n"}))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(pr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "RUN sleep 5") {
				relay.stop() // the engine goes away mid-build
			}
		}
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	if err == nil {
		t.Fatalf("deploy succeeded with the engine gone:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, " !     ") || !strings.Contains(last, "build") {
		t.Errorf("last line %q: want one error line naming the step\n%s", last, out.String())
	}
	if strings.Contains(out.String(), "goroutine ") || strings.Contains(out.String(), "panic") {
		t.Errorf("stack trace in output:\n%s", out.String())
	}
	if got := dynos(containers(t, eng, d, "shop")); got != before {
		t.Errorf("containers changed: %q -> %q", before, got)
	}
	// With the engine unreachable, commands say so in one line.
	o, code := d.berth("ps:rebuild", "shop")
	ls := strings.Split(strings.TrimSpace(o), "\n")
	if code != 1 || !strings.HasPrefix(ls[len(ls)-1], " !     ") || !strings.Contains(ls[len(ls)-1], "Docker Engine is not reachable") || strings.Count(o, " !     ") != 1 {
		t.Errorf("ps:rebuild with engine gone: exit %d %q", code, o)
	}
	o, code = d.berth("ps:report", "shop", "--ps-engine")
	if code != 0 || !strings.Contains(o, "Docker Engine is not reachable") {
		t.Errorf("ps:report with engine gone: exit %d %q", code, o)
	}
}

// relay forwards a unix socket to another until stopped.
type relay struct {
	path  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	r := &relay{path: filepath.Join(shortTempDir(t), "docker.sock")}
	ln, err := net.Listen("unix", r.path)
	if err != nil {
		t.Fatal(err)
	}
	r.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, up)
			r.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *relay) stop() {
	r.ln.Close()
	os.Remove(r.path)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
}

func TestCloneRenameDestroyDeployedApp(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, _ := deployed(t, "web=1\nworker=1\n")
	d.mustBerth(t, "config:set", "--no-restart", "shop", "K=v")
	out := d.mustBerth(t, "apps:clone", "shop", "shop2")
	if !strings.Contains(out, "Application deployed: shop2 release 1") {
		t.Errorf("clone did not deploy:\n%s", out)
	}
	if got := dynos(containers(t, eng, d, "shop2")); got != "web.1 worker.1" {
		t.Errorf("clone runs %q", got)
	}
	d.mustBerth(t, "apps:rename", "shop2", "shop3")
	if got := dynos(containers(t, eng, d, "shop2")); got != "" {
		t.Errorf("old name still runs %q", got)
	}
	cs := containers(t, eng, d, "shop3")
	if dynos(cs) != "web.1 worker.1" || !strings.HasSuffix(cs["web.1"].Name, "-shop3.web.1") {
		t.Errorf("renamed app runs %q (%v)", dynos(cs), cs)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(httpGet(t, cs["web.1"].HostPort, "/env")), &env); err != nil || env["K"] != "v" {
		t.Errorf("renamed app env K = %q (%v)", env["K"], err)
	}
	d.mustBerth(t, "apps:destroy", "--force", "shop3")
	if got := dynos(containers(t, eng, d, "shop3")); got != "" {
		t.Errorf("destroyed app still runs %q", got)
	}
	imgs, _ := eng.ListImages(context.Background(), map[string]string{"berth.app": "shop3", "berth.instance": d.prefix()})
	if len(imgs) != 0 {
		t.Errorf("destroyed app left images: %v", imgs)
	}
	// The original is untouched.
	if got := dynos(containers(t, eng, d, "shop")); got != "web.1 worker.1" {
		t.Errorf("original runs %q", got)
	}
	// Renamed without a rebuild, its release images follow the name: run
	// works, and ps:start brings it up; a new app of the old name,
	// destroyed, does not take them along.
	d.mustBerth(t, "apps:rename", "--skip-deploy", "shop", "shop4")
	if out, code := d.berth("run", "shop4", "testapp", "echo", "renamed"); code != 0 || !strings.Contains(out, "renamed") {
		t.Errorf("run after apps:rename --skip-deploy: %d %q", code, out)
	}
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "apps:destroy", "--force", "shop")
	d.mustBerth(t, "ps:start", "shop4")
	if got := dynos(containers(t, eng, d, "shop4")); got != "web.1 worker.1" {
		t.Errorf("renamed app after ps:start runs %q", got)
	}
}

func TestCleanupKeepsWhatRuns(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, ids := deployed(t, "web=1\n")
	before := ids()
	// A one-off container that exited and was not removed (as after a
	// crash): cleanup removes it, and nothing that runs.
	ctx := context.Background()
	id, err := eng.CreateContainer(ctx, docker.ContainerSpec{Image: "berth-test/busybox:1", Cmd: []string{"true"},
		Labels: map[string]string{"berth.instance": d.prefix(), "berth.app": "shop", "berth.kind": "run"}})
	if err != nil {
		t.Fatal(err)
	}
	eng.StartContainer(ctx, id)
	eng.Wait(ctx, id)
	// Someone else's exited container is not Berth's to remove.
	other, err := eng.CreateContainer(ctx, docker.ContainerSpec{Image: "berth-test/busybox:1", Cmd: []string{"true"}, Labels: map[string]string{"berth.test": d.prefix()}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.RemoveContainer(ctx, other, true)
	out := d.mustBerth(t, "cleanup")
	if !strings.Contains(out, "Removed") {
		t.Errorf("cleanup output: %q", out)
	}
	if _, err := eng.InspectContainer(ctx, id); !errors.Is(err, docker.ErrNotFound) {
		t.Errorf("exited one-off container still there after cleanup: %v", err)
	}
	if _, err := eng.InspectContainer(ctx, other); err != nil {
		t.Errorf("cleanup removed a container that is not Berth's: %v", err)
	}
	if got := ids(); got["web.1"] != before["web.1"] {
		t.Errorf("cleanup touched the running app: %v -> %v", before, got)
	}
	d.mustBerth(t, "ps:stop", "shop")
	d.mustBerth(t, "cleanup")
	d.mustBerth(t, "ps:start", "shop")
	if got := ids(); got["web.1"] != before["web.1"] {
		t.Errorf("cleanup removed the stopped app's containers: %v -> %v", before, got)
	}
}
