//go:build swarmbench

package swarmbench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/loadgen"
	"github.com/berthpaas/berth/internal/swarmtest"
)

// pathRow is one traffic path measured for pathFor.
type pathRow struct {
	Round  int
	Name   string
	Secs   float64
	Stats  loadgen.Stats
	Failed int
}

// pathResult is the traffic-path comparison and what the ingress mesh did.
type pathResult struct {
	Rows    []pathRow
	Ingress string // how the routing mesh fared (an error, or that it served)
}

const (
	pathDuration = 5 * time.Second
	pathWorkers  = 8
	pathRounds   = 2
)

func docker(ctx context.Context, n *swarmtest.Node, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", n.Host}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(n.Dir, "cli"), "DOCKER_BUILDKIT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// trafficPaths puts the app's one web replica on node 2 and measures, from
// the host, keep-alive load for pathDuration through: Berth's proxy on
// node 1 (to node 2's host-mode published port, what Berth does); node 2's
// published port directly; a TCP forwarder on node 1 to that port; the
// same forwarder on node 1 attached to the app's overlay network, to the
// task's overlay address; and the ingress routing mesh, if it works.
func trafficPaths(t *testing.T) pathResult {
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	c := newCluster(t, ctx, 1)
	n1, n2 := c.rig.Nodes[0], c.rig.Nodes[1]
	must := func(n *swarmtest.Node, args ...string) string {
		t.Helper()
		out, err := docker(ctx, n, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	svc := strings.Fields(must(n1, "service", "ls", "-q", "--filter", "label=berth.app=shop", "--filter", "label=berth.process=web"))[0]
	n2id := must(n2, "info", "--format", "{{.Swarm.NodeID}}")
	must(n1, "service", "update", "--detach=false", "--quiet", "--constraint-add", "node.id=="+n2id, svc)
	var task string
	for deadline := time.Now().Add(60 * time.Second); ; {
		if tasks := c.webTasks(); len(tasks) == 1 && strings.HasPrefix(tasks[0], n2.Addr+":") {
			task = tasks[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the web task did not move to node 2: %v", c.webTasks())
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // the daemon follows the swarm every 2 s
	if err := c.get("/"); err != nil {
		t.Fatalf("after the move to node 2: %v", err)
	}
	target := must(n1, "service", "inspect", "--format", "{{range .Endpoint.Ports}}{{.TargetPort}}{{end}}", svc)
	taskID := strings.Fields(must(n1, "service", "ps", "-q", "--no-trunc", "--filter", "desired-state=running", svc))[0]
	attach := must(n1, "inspect", "--type", "task", "--format", "{{range .NetworksAttachments}}{{.Network.Spec.Name}}={{index .Addresses 0}} {{end}}", taskID)
	var overlay, ip string
	for _, a := range strings.Fields(attach) {
		if name, addr, ok := strings.Cut(a, "="); ok && strings.HasSuffix(name, "swarm-shop") {
			ip, _, _ = strings.Cut(addr, "/")
			overlay = name
		}
	}
	if overlay == "" {
		t.Fatalf("the web task is on no overlay network *swarm-shop: %q", attach)
	}

	// The forwarder: a static Go binary in a scratch image, built on node 1.
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(bins(t), "fwd"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fwd"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY fwd /fwd\nENTRYPOINT [\"/fwd\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must(n1, "build", "-q", "-t", "berthbench-fwd:1", dir)
	must(n1, "run", "-d", "--name", "berthbench-fwd-host", "-p", "9002:9000", "berthbench-fwd:1", ":9000", task)
	must(n1, "run", "-d", "--name", "berthbench-fwd-overlay", "--network", overlay, "-p", "9001:9000", "berthbench-fwd:1", ":9000", ip+":"+target)

	paths := []struct{ name, addr string }{
		{"Berth's proxy on node 1 → node 2's published port (Berth's path)", c.b.ProxyAddr},
		{"forwarder on node 1 → node 2's published port", n1.Addr + ":9002"},
		{"forwarder on node 1 → overlay network → task on node 2", n1.Addr + ":9001"},
		{"node 2's published port, directly (no hop on node 1)", task},
	}
	var res pathResult
	for _, p := range paths {
		if err := waitOK(ctx, p.addr); err != nil {
			t.Fatalf("%s (%s): %v", p.name, p.addr, err)
		}
	}
	for round := 1; round <= pathRounds; round++ {
		for _, p := range paths {
			load := loadgen.Start(loadgen.Config{Addr: p.addr, Host: "shop.example", KeepAlive: pathWorkers, Timeout: 5 * time.Second})
			start := time.Now()
			time.Sleep(pathDuration)
			st := load.Stop()
			row := pathRow{Round: round, Name: p.name, Secs: time.Since(start).Seconds(), Stats: st, Failed: st.Failed()}
			t.Logf("round %d %s: %s, %.0f req/s", round, p.name, st, float64(st.Sent)/row.Secs)
			res.Rows = append(res.Rows, row)
		}
	}

	// The ingress routing mesh: a service publishing the app's image on
	// port 9100 in ingress mode.
	image := must(n1, "service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", svc)
	if _, err := docker(ctx, n1, "service", "create", "--detach", "--name", "berthbench-ingress", "--env", "PORT="+target,
		"--publish", "published=9100,target="+target+",mode=ingress", image, "testapp", "web"); err != nil {
		res.Ingress = "service create failed: " + err.Error()
		return res
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if waitOK(ctx, n1.Addr+":9100") == nil {
			res.Ingress = "served"
			return res
		}
	}
	states, _ := docker(ctx, n1, "service", "ps", "--no-trunc", "--format", "{{.CurrentState}}: {{.Error}}", "berthbench-ingress")
	var logs []string
	for _, l := range strings.Split(n1.Log()+n2.Log(), "\n") {
		if strings.Contains(strings.ToLower(l), "ipvs") {
			logs = append(logs, strings.TrimSpace(l))
		}
	}
	if len(logs) > 1 {
		logs = logs[len(logs)-1:]
	}
	res.Ingress = fmt.Sprintf("no answer on node 1's port 9100 within 20 s; tasks: %s; engine log: %s",
		strings.Join(strings.Fields(strings.ReplaceAll(states, "\n", " | ")), " "), strings.Join(logs, " | "))
	return res
}

// waitOK waits up to 1 s for one 200 from addr.
func waitOK(ctx context.Context, addr string) error {
	cl := &http.Client{Timeout: time.Second}
	var err error
	for range 5 {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
		req.Host = "shop.example"
		var resp *http.Response
		if resp, err = cl.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}
