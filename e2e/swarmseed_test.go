package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/loadgen"
	"github.com/berthpaas/berth/internal/swarmtest"
)

// TestSwarmSeed is issue 16's "done when" on three nodes built by the
// rig: the seed's app (Django web, Celery worker, Postgres, Redis, the
// predeploy migration, CHECKS) is pushed once with git to Berth on the
// manager, set to the Swarm scheduler, and scaled to web=4 over the
// nodes; a Celery job goes web → Redis → worker → Postgres from tasks on
// other nodes than the services'; a redeploy under steady load fails no
// request; `run` reaches Postgres from the manager.
// (A redeploy: config:set, which keeps web=4.)
func TestSwarmSeed(t *testing.T) {
	t.Parallel()
	host := requireDocker(t)
	requireSwarmRig(t)
	requireImage(t, host, "berth-test/python:3")
	requireServiceImages(t)
	ctx, cancel := context.WithTimeout(context.Background(), 420*time.Second)
	defer cancel()
	step := stepper(t)

	rig := swarmtest.New(t, swarmtest.Options{Nodes: 3})
	manager := rig.Manager()
	if err := manager.LoadImages(ctx, host.Host(), "berth-test/python:3", "berth/postgres:15", "berth/redis:7"); err != nil {
		t.Fatal(err)
	}
	step("rig up, the seed's base and the service images copied into the manager")
	b := rig.Berth(t, manager, swarmtest.BerthOptions{Bin: filepath.Join(binDir, "berth"), Env: serviceImageEnv})
	cli := newRigCLI(t, ctx, b)
	must := func(args ...string) string { t.Helper(); return cli.must(nil, args...) }
	must("checks:set", "--global", "wait-to-retire", "2")
	// "Preparing the server", as written, and the scheduler.
	for _, args := range [][]string{
		{"apps:create", "yourproject"},
		{"postgres:create", "yourproject-database"},
		{"redis:create", "yourproject-redis"},
		{"postgres:link", "yourproject-database", "yourproject"},
		{"redis:link", "yourproject-redis", "yourproject"},
		{"config:set", "--no-restart", "--global", "NODEBUG=1"},
		{"config:set", "--no-restart", "yourproject", "SECRET_KEY=somelongkey"},
		{"scheduler:set", "yourproject", "selected", "swarm"},
		{"domains:add", "yourproject", "www.yourproject.com"},
	} {
		must(args...)
	}
	step("apps, services, links, config and scheduler set")

	// git push over Berth's built-in ssh server on the manager.
	key := sshKey(t, t.TempDir(), "me")
	must("ssh-keys:add", "me", key+".pub")
	sshHost, sshPort, _ := net.SplitHostPort(b.SSHAddr)
	env := gitEnv(key, sshPort)
	dir := seedProject(t, env)
	push := exec.CommandContext(ctx, "git", "remote", "add", "berth", "dokku@"+sshHost+":yourproject")
	push.Dir, push.Env = dir, env
	if out, err := push.CombinedOutput(); err != nil {
		t.Fatalf("git remote add: %v\n%s", err, out)
	}
	push = exec.CommandContext(ctx, "git", "push", "berth", "master")
	push.Dir, push.Env = dir, env
	out, err := push.CombinedOutput()
	if err != nil {
		t.Fatalf("git push berth master: %v\n%s\n--- daemon log:\n%s", err, out, b.Log())
	}
	for _, want := range []string{
		"Applying main.0001_initial... OK", // the predeploy migration, on the manager, against Postgres
		"(GET /, Host: www.yourproject.com)",
		"as Swarm service",
		"Application deployed: yourproject release 1",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	step("pushed once, deployed on Swarm")
	must("ps:scale", "yourproject", "web=4")
	report := must("ps:report", "yourproject")
	nodes := map[string]bool{}
	for _, l := range strings.Split(report, "\n") {
		if _, after, ok := strings.Cut(l, "running on "); ok && strings.Contains(l, "Status web") {
			addr, _, _ := strings.Cut(after, ":")
			nodes[addr] = true
		}
	}
	if strings.Count(report, "Status web") != 4 || len(nodes) != 3 {
		t.Errorf("web=4 should run on all 3 nodes; ps:report:\n%s", report)
	}
	step(fmt.Sprintf("web=4 over %d nodes", len(nodes)))

	plain := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialTo(b.ProxyAddr)}}
	// Every web task answers (each request goes to the next one) and a
	// Celery job crosses the cluster: web (any node) → Redis → worker →
	// Postgres (on the manager).
	for i := range 8 {
		if code, body := viaProxy(t, plain, "http://www.yourproject.com/"); code != 200 || body != "yourproject is up\n" {
			t.Fatalf("request %d to http://www.yourproject.com/: %d %q", i, code, body)
		}
	}
	if code, body := viaProxy(t, plain, "http://www.yourproject.com/enqueue?name=first"); code != 200 {
		t.Fatalf("enqueue: %d %q", code, body)
	}
	waitFor(t, 60*time.Second, "the Celery worker to complete the job", func() bool {
		_, body := viaProxy(t, plain, "http://www.yourproject.com/done?name=first")
		return body == "done"
	})
	step("served from every node; a Celery job done across the cluster")

	// A redeploy under steady load fails no request.
	load := loadgen.Start(loadgen.Config{Addr: b.ProxyAddr, Host: "www.yourproject.com", KeepAlive: 2, Fresh: 1, Interval: 20 * time.Millisecond, Timeout: 10 * time.Second})
	// (A config change: the new containers of the live release keep the
	// formation, where a rebuild would take DOKKU_SCALE's web=1 again.)
	must("config:set", "yourproject", "FEATURE=on")
	time.Sleep(500 * time.Millisecond)
	st := load.Stop()
	t.Logf("config:set under load: %s", st)
	if st.Failed() != 0 || st.Sent == 0 {
		t.Errorf("config:set: %d of %d requests failed: %v", st.Failed(), st.Sent, st.Errors)
	}
	if report := must("ps:report", "yourproject"); strings.Count(report, "Status web") != 4 {
		t.Errorf("after the redeploy want web=4:\n%s", report)
	}
	step("redeployed under load")

	// A one-off container on the manager reaches Postgres as on one host.
	run := exec.CommandContext(ctx, b.Bin, "--rm", "run", "yourproject", "/code/manage.py", "shell")
	run.Env = b.Env
	run.Stdin = strings.NewReader("from main.models import Job\nprint('jobs done:', Job.objects.filter(done=True).count())\n")
	if out, err := run.CombinedOutput(); err != nil || !strings.Contains(string(out), "jobs done: 1") {
		t.Errorf("--rm run yourproject /code/manage.py shell: %v\n%s", err, out)
	}
	step("run reached Postgres")
}
