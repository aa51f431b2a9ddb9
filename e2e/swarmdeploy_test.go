package e2e

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/loadgen"
	"github.com/berthpaas/berth/internal/swarmtest"
)

// TestSwarmSchedulerDeploys is issue 16's Swarm scheduler end to end, on
// three nodes built by the rig with the real binary on node 1 (the
// manager): scheduler:set selected swarm; a push of web=4 and a worker
// runs as Swarm services, the web tasks spread over the three nodes and
// served through the proxy; a redeploy under steady load fails no
// request; a worker node is stopped and the app keeps serving; ps:scale
// changes the replicas; scheduler:set selected docker-local brings the
// app back to one host, its services gone.
func TestSwarmSchedulerDeploys(t *testing.T) {
	t.Parallel()
	host := requireDocker(t)
	requireSwarmRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	step := stepper(t)

	rig := swarmtest.New(t, swarmtest.Options{Nodes: 3})
	manager := rig.Manager()
	step(fmt.Sprintf("rig up in %s", rig.SetupIn.Round(time.Millisecond)))
	if err := manager.LoadImages(ctx, host.Host(), "berth-test/busybox:1"); err != nil {
		t.Fatal(err)
	}
	b := rig.Berth(t, manager, swarmtest.BerthOptions{Bin: filepath.Join(binDir, "berth")})
	step("berth serve up on the manager, proxy at " + b.ProxyAddr)
	cli := newRigCLI(t, ctx, b)
	run, must := cli.run, cli.must
	must(nil, "checks:set", "--global", "default-uptime-seconds", "1")
	must(nil, "checks:set", "--global", "wait-to-retire", "1")
	must(nil, "apps:create", "shop")
	must(nil, "domains:add", "shop", "shop.example")
	// Bad input changes nothing.
	if out, code := run(nil, "scheduler:set", "shop", "selected", "k3s"); code == 0 || !strings.Contains(out, "swarm") {
		t.Fatalf("scheduler:set selected k3s: exit %d, want a refusal naming swarm:\n%s", code, out)
	}
	must(nil, "scheduler:set", "shop", "selected", "swarm")
	if out := must(nil, "scheduler:report", "shop", "--scheduler-computed-selected"); strings.TrimSpace(out) != "swarm" {
		t.Fatalf("scheduler:report --scheduler-computed-selected: %q, want swarm", out)
	}

	deploy := func(version string) string {
		t.Helper()
		return must(bytes.NewReader(appTar(t, map[string]string{
			"Dockerfile":  dockerfile(version),
			"Procfile":    "web: testapp web\nworker: testapp worker\n",
			"DOKKU_SCALE": "web=4\nworker=1\n",
		})), "git:from-archive", "shop", "-")
	}
	out := deploy("v1")
	if !strings.Contains(out, "Application deployed: shop") || !strings.Contains(out, "as Swarm service") {
		t.Fatalf("the deploy did not run on Swarm:\n%s", out)
	}
	step("v1 deployed on Swarm")
	services, err := manager.Docker(ctx, "service", "ls", "--filter", "label=berth.app=shop", "--format", "{{.Name}} {{.Replicas}}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(services, "4/4") || !strings.Contains(services, "1/1") {
		t.Fatalf("want a web service 4/4 and a worker service 1/1:\n%s", services)
	}
	report := must(nil, "ps:report", "shop")
	t.Logf("ps:report:\n%s", report)
	nodes := map[string]bool{}
	for _, l := range strings.Split(report, "\n") {
		if _, after, ok := strings.Cut(l, "running on "); ok && strings.Contains(l, "Status web") {
			addr, _, _ := strings.Cut(after, ":")
			nodes[addr] = true
		}
	}
	if len(nodes) != 3 {
		t.Errorf("web=4 runs on %d node(s), want all 3: %v", len(nodes), nodes)
	}
	if body := getVia(t, ctx, b.ProxyAddr, "shop.example", "/env"); !strings.Contains(body, `"APP_VERSION":"v1"`) {
		t.Fatalf("GET /env through the proxy: %s", body)
	}
	step("v1 served through the proxy")

	// The app's resource limits reach its services.
	must(nil, "resource:limit", "--process-type", "web", "--memory", "256m", "shop")

	// A redeploy under steady load fails no request.
	load := loadgen.Start(loadgen.Config{Addr: b.ProxyAddr, Host: "shop.example", KeepAlive: 2, Fresh: 2, Interval: 10 * time.Millisecond})
	deploy("v2")
	time.Sleep(300 * time.Millisecond)
	st := load.Snapshot()
	t.Logf("redeploy under load: %s", st)
	if st.Failed() != 0 || st.Sent == 0 {
		t.Errorf("redeploy: %d of %d requests failed: %v", st.Failed(), st.Sent, st.Errors)
	}
	if body := getVia(t, ctx, b.ProxyAddr, "shop.example", "/env"); !strings.Contains(body, `"APP_VERSION":"v2"`) {
		t.Fatalf("after the redeploy GET /env: %s", body)
	}
	step("v2 deployed under load, no request failed")
	limit, err := manager.Docker(ctx, "service", "inspect", "--format", "{{.Spec.Labels}} {{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}", firstService(t, ctx, manager, "web", 2))
	if err != nil || !strings.Contains(limit, " 268435456") {
		t.Errorf("the web service's memory limit after resource:limit --memory 256m: %v %q", err, limit)
	}

	// A release whose checks fail (on every node here; on any one node is
	// enough) is removed everywhere, and v2 keeps serving.
	out, code := run(bytes.NewReader(appTar(t, map[string]string{
		"Dockerfile":  dockerfile("v3"),
		"Procfile":    "web: testapp web\nworker: testapp worker\n",
		"DOKKU_SCALE": "web=4\nworker=1\n",
		"CHECKS":      "WAIT=0\nATTEMPTS=2\nTIMEOUT=1\n/never-there expected-text\n",
	})), "git:from-archive", "shop", "-")
	if code == 0 || !strings.Contains(out, "Deploy failed at step check") {
		t.Fatalf("a release failing its checks deployed (exit %d):\n%s", code, out)
	}
	services, err = manager.Docker(ctx, "service", "ls", "--filter", "label=berth.app=shop", "--filter", "label=berth.release=3", "-q")
	if err != nil || strings.TrimSpace(services) != "" {
		t.Fatalf("services of the failed release 3 are left: %v\n%s", err, services)
	}
	if body := getVia(t, ctx, b.ProxyAddr, "shop.example", "/env"); !strings.Contains(body, `"APP_VERSION":"v2"`) {
		t.Fatalf("after the failed deploy GET /env: %s", body)
	}
	if st := load.Snapshot(); st.Failed() != 0 {
		t.Errorf("during the failed deploy %d of %d requests failed: %v", st.Failed(), st.Sent, st.Errors)
	}
	step("v3 failed its checks: removed on every node, v2 kept serving")

	// A worker node stops (its engine shut down, as a server powered
	// off cleanly): Swarm sees it down and moves its tasks; the proxy
	// follows. Requests may fail only within that detection window (they
	// are counted); once the tasks moved, none does.
	load.Snapshot()
	if err := rig.Nodes[2].Stop(); err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	deadline := time.Now().Add(90 * time.Second)
	for {
		out := must(nil, "ps:report", "shop")
		if strings.Count(out, "running on") >= 5 && !strings.Contains(out, "on "+rig.Nodes[2].Addr+":") && !strings.Contains(out, "on "+rig.Nodes[2].Addr+" (") {
			t.Logf("tasks moved %s after node 3 stopped:\n%s", time.Since(lost).Round(time.Second), out)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 3's tasks did not move within 90 s:\n%s\n--- daemon log:\n%s", out, b.Log())
		}
		time.Sleep(time.Second)
	}
	time.Sleep(2 * swarmFollow)
	st = load.Snapshot()
	t.Logf("detection window (node 3 stopped until its tasks moved): %s", st)
	time.Sleep(3 * time.Second)
	st = load.Snapshot()
	t.Logf("after the tasks moved: %s", st)
	if st.Failed() != 0 || st.Sent == 0 {
		t.Errorf("after the tasks moved: %d of %d requests failed: %v", st.Failed(), st.Sent, st.Errors)
	}
	step("node 3 stopped, the app kept serving")

	must(nil, "ps:scale", "shop", "web=2")
	// Swarm's own count (service ls) still has the tasks of the stopped
	// node as running; ps:report lists the tasks meant to run.
	if out := must(nil, "ps:report", "shop"); strings.Count(out, "Status web") != 2 {
		t.Fatalf("after ps:scale web=2:\n%s", out)
	}
	step("scaled to web=2")

	// Back to one host.
	must(nil, "scheduler:set", "shop", "selected", "docker-local")
	out = must(nil, "ps:rebuild", "shop")
	if strings.Contains(out, "as Swarm service") {
		t.Fatalf("the rebuild ran on Swarm after scheduler:set docker-local:\n%s", out)
	}
	if body := getVia(t, ctx, b.ProxyAddr, "shop.example", "/env"); !strings.Contains(body, `"APP_VERSION":"v2"`) {
		t.Fatalf("back on one host GET /env: %s", body)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		svcs, err := manager.Docker(ctx, "service", "ls", "--filter", "label=berth.app=shop", "-q")
		if err == nil && strings.TrimSpace(svcs) == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app's services are still there after the move back to one host:\n%s", svcs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	ps, err := manager.Docker(ctx, "ps", "--filter", "label=berth.app=shop", "--format", "{{.Names}}")
	if err != nil || !strings.Contains(ps, "shop.web.1") {
		t.Fatalf("no shop.web.1 container on the manager after the move back: %v\n%s", err, ps)
	}
	st = load.Stop()
	t.Logf("since the tasks moved: %s", st)
	if st.Failed() != 0 {
		t.Errorf("%d of %d requests failed while scaling and moving back: %v", st.Failed(), st.Sent, st.Errors)
	}
	step("back on one host")
}

// swarmFollow is how often the daemon follows the swarm's tasks (its
// default, swarmFollowInterval).
const swarmFollow = 2 * time.Second

// firstService is the ID of the service of process type typ of release
// rel of the app shop on the manager.
func firstService(t *testing.T, ctx context.Context, n *swarmtest.Node, typ string, rel int) string {
	t.Helper()
	out, err := n.Docker(ctx, "service", "ls", "-q", "--filter", "label=berth.app=shop", "--filter", "label=berth.process="+typ, "--filter", fmt.Sprintf("label=berth.release=%d", rel))
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("no %s service of shop: %v %q", typ, err, out)
	}
	return strings.Fields(out)[0]
}
