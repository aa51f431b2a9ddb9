package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/loadgen"
	"github.com/berthpaas/berth/internal/swarmtest"
)

// TestSwarmManagerRestart: a Swarm app with a replica on each of three
// nodes, served through node 2's proxy (the node part); the manager's
// engine is stopped and started again (the manager server restarting)
// under steady load through node 2. The app keeps serving: requests fail
// at most while the manager's own replica is gone (counted, under 10 %),
// none once it is back; the daemon on the manager then still deploys.
func TestSwarmManagerRestart(t *testing.T) {
	t.Parallel()
	host := requireDocker(t)
	requireSwarmRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	step := stepper(t)

	rig := swarmtest.New(t, swarmtest.Options{Nodes: 3})
	n1, n2, n3 := rig.Nodes[0], rig.Nodes[1], rig.Nodes[2]
	if err := n1.LoadImages(ctx, host.Host(), "berth-test/busybox:1"); err != nil {
		t.Fatal(err)
	}
	// The node parts on nodes 2 and 3, as cluster-add leaves them.
	bin := filepath.Join(binDir, "berth")
	_, parts := startNodeParts(t, rig, n1, n2, n3)
	p2 := parts[0]
	b := rig.Berth(t, n1, swarmtest.BerthOptions{Bin: bin, Env: []string{"BERTH_PROXY_PEER_RESYNC=500ms", "BERTH_PROXY_PEER_TIMEOUT=1s"}})
	step("rig, node parts and berth up")
	must := newRigCLI(t, ctx, b).must
	must(nil, "checks:set", "--global", "default-uptime-seconds", "1")
	must(nil, "checks:set", "--global", "wait-to-retire", "1")
	must(nil, "apps:create", "shop")
	must(nil, "domains:add", "shop", "shop.example")
	must(nil, "scheduler:set", "shop", "selected", "swarm")
	deploy := func(version string) {
		t.Helper()
		must(bytes.NewReader(appTar(t, map[string]string{
			"Dockerfile":  dockerfile(version),
			"Procfile":    "web: testapp web\n",
			"DOKKU_SCALE": "web=3\n",
		})), "git:from-archive", "shop", "-")
	}
	deploy("v1")
	if body := getVia(t, ctx, p2.HTTPAddr, "shop.example", "/env"); !strings.Contains(body, `"APP_VERSION":"v1"`) {
		t.Fatalf("through node 2's proxy: %s", body)
	}
	step("v1 on Swarm, served through node 2")

	load := loadgen.Start(loadgen.Config{Addr: p2.HTTPAddr, Host: "shop.example", KeepAlive: 2, Fresh: 2, Interval: 10 * time.Millisecond})
	defer load.Stop()
	time.Sleep(time.Second)
	if st := load.Snapshot(); st.Failed() != 0 || st.Sent == 0 {
		t.Fatalf("before the restart: %s %v", st, st.Errors)
	}
	if err := n1.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := n1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	step("the manager's engine stopped for 3 s and started again")
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, code, _ := b.Run(ctx, nil, "ps:report", "shop")
		if code == 0 && strings.Count(out, "Status web") == 3 && strings.Count(out, "running on") == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app's replicas are not back 90 s after the manager restarted:\n%s\n--- daemon log:\n%s", out, b.Log())
		}
		time.Sleep(time.Second)
	}
	time.Sleep(2 * swarmFollow)
	st := load.Snapshot()
	t.Logf("through node 2 while the manager restarted: %s %v", st, st.Errors)
	// The replicas on nodes 2 and 3 keep serving while the manager is
	// away: only requests sent to the manager's own replica may fail
	// (refused, then retried on another: most succeed).
	if st.Sent == 0 || st.Failed()*10 > st.Sent {
		t.Errorf("while the manager restarted %d of %d requests failed (over 10%%): %v\n--- daemon log:\n%s", st.Failed(), st.Sent, st.Errors, b.Log())
	}
	time.Sleep(3 * time.Second)
	st = load.Snapshot()
	t.Logf("once the manager was back: %s", st)
	if st.Failed() != 0 || st.Sent == 0 {
		t.Errorf("once the manager was back %d of %d requests failed: %v", st.Failed(), st.Sent, st.Errors)
	}
	step("served through the restart")

	// The manager deploys again.
	deploy("v2")
	if body := getVia(t, ctx, p2.HTTPAddr, "shop.example", "/env"); !strings.Contains(body, `"APP_VERSION":"v2"`) {
		t.Fatalf("v2 through node 2's proxy: %s", body)
	}
	if st := load.Stop(); st.Failed() != 0 {
		t.Errorf("during the deploy after the restart %d of %d requests failed: %v", st.Failed(), st.Sent, st.Errors)
	}
	step("v2 deployed after the restart")
}
