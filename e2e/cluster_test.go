package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/registry"
	"github.com/berthpaas/berth/internal/swarmtest"
)

// TestClusterCommands drives the scheduler-swarm:cluster-* commands
// through the real binary on a rig of three unjoined daemons, Berth on
// node 1, OpenSSH on nodes 2 and 3 (root by key, each session on its
// node's daemon): refusals before cluster-init; cluster-init (twice: the
// second says so) prints the key to authorise; cluster-add refused by a
// node that does not know the key names it; node 2 is added; node 3
// with 2377/tcp towards the manager dropped in its namespace is refused
// naming the port and stays out of the swarm, then added once the rule
// is gone; cluster-list shows 3 ready nodes; the node part answers HTTP on
// each added node; the manager cannot remove itself; cluster-remove
// node 3 (one task of a global service on each node, counted by
// cluster-list) drains it and leaves 2 nodes with their tasks, node 3's
// engine out of the swarm, no task left there and its node part stopped.
func TestClusterCommands(t *testing.T) {
	t.Parallel()
	host := requireDocker(t) // the base image the drained service runs
	requireSwarmRig(t)
	if _, err := os.Stat(swarmtest.SSHD); err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("OpenSSH's server is required (BERTH_REQUIRE_DOCKER=1): %v", err)
		}
		t.Skipf("no %s: %v", swarmtest.SSHD, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	step := stepper(t)

	rig := swarmtest.New(t, swarmtest.Options{Nodes: 3, NoSwarm: true, Timeout: 90 * time.Second})
	n1, n2, n3 := rig.Nodes[0], rig.Nodes[1], rig.Nodes[2]
	step(fmt.Sprintf("rig of 3 unjoined nodes up in %s", rig.SetupIn.Round(time.Millisecond)))
	b := rig.Berth(t, n1, swarmtest.BerthOptions{Bin: filepath.Join(binDir, "berth"), Env: []string{"BERTH_SWARM_HEARTBEAT=1s"}})
	step("berth serve up on node 1")
	// The registry's CA goes into the host's certs.d (the nodes share its
	// files) under the manager's address: ours to remove.
	t.Cleanup(func() {
		os.RemoveAll(filepath.Join(registry.DefaultCertsDir, fmt.Sprintf("%s:%d", n1.Addr, registry.DefaultPort)))
	})

	cli := newRigCLI(t, ctx, b)
	cli.verbose = true
	run := func(args ...string) (string, int) { t.Helper(); return cli.run(nil, args...) }
	must := func(args ...string) string { t.Helper(); return cli.must(nil, args...) }
	// refused: a non-zero exit and one line (after the progress lines)
	// containing want.
	refused := func(want string, args ...string) string {
		t.Helper()
		out, code := run(args...)
		last := lastNonEmpty(out)
		if code == 0 || !strings.Contains(last, want) {
			t.Fatalf("berth %s: exit %d, want a failure whose line contains %q:\n%s", strings.Join(args, " "), code, want, out)
		}
		return last
	}
	ssh2, ssh3 := "ssh://root@"+n2.Addr, "ssh://root@"+n3.Addr+":22"

	// Before cluster-init nothing is a manager; bad input is refused first.
	refused("run scheduler-swarm:cluster-init first", "scheduler-swarm:cluster-list")
	refused("run scheduler-swarm:cluster-init first", "scheduler-swarm:cluster-add", ssh2)
	refused("not an ssh:// URL", "scheduler-swarm:cluster-add", "root@"+n2.Addr)
	refused("Invalid role", "scheduler-swarm:cluster-add", "--role", "boss", ssh2)

	out := must("scheduler-swarm:cluster-init")
	if !strings.Contains(out, "address "+n1.Addr) {
		t.Fatalf("cluster-init does not say the manager's address %s:\n%s", n1.Addr, out)
	}
	key := regexp.MustCompile(`(?m)^ssh-ed25519 \S+ berth-cluster$`).FindString(out)
	if key == "" {
		t.Fatalf("cluster-init prints no ssh key to authorise:\n%s", out)
	}
	if out := must("scheduler-swarm:cluster-init"); !strings.Contains(out, "already a swarm manager") || !strings.Contains(out, key) {
		t.Fatalf("a second cluster-init does not say the server is already a manager:\n%s", out)
	}
	// The swarm has Berth's settings: BERTH_SWARM_HEARTBEAT, short history.
	spec, err := n1.Docker(ctx, "info", "--format", "{{.Swarm.Cluster.Spec.Dispatcher.HeartbeatPeriod}} {{.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit}}")
	if err != nil || strings.TrimSpace(spec) != "1s 2" {
		t.Fatalf("the swarm's heartbeat and task history are %q (%v), want 1s and 2", spec, err)
	}
	step("cluster-init: node 1 is the manager")

	// Node 2's sshd does not know the key yet: the refusal says what to do.
	authKeys := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(authKeys, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	refused("Cannot reach "+n2.Addr+" over ssh", "scheduler-swarm:cluster-add", ssh2)
	for _, n := range []*swarmtest.Node{n2, n3} {
		if _, err := n.StartSSHD(authKeys); err != nil {
			t.Fatal(err)
		}
	}
	if line := refused("does not accept Berth's ssh key", "scheduler-swarm:cluster-add", ssh2); !strings.Contains(line, key) {
		t.Fatalf("the refusal does not give the key to authorise: %s", line)
	}
	if err := os.WriteFile(authKeys, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	step("refusals before any change")

	out = must("scheduler-swarm:cluster-add", ssh2)
	for _, want := range []string{"joined the swarm as a worker", "trusts the cluster registry " + n1.Addr + ":5000", "Node part on " + n2.Addr, "is a ready worker"} {
		if !strings.Contains(out, want) {
			t.Fatalf("cluster-add node 2 does not say %q:\n%s", want, out)
		}
	}
	step("node 2 added")

	// Node 3 cannot reach the manager's 2377/tcp: refused, naming it.
	drop := []string{"-p", "tcp", "-d", n1.Addr, "--dport", "2377", "-j", "DROP"}
	if out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/var/run/netns/" + n3.NS, "iptables", "-I", "OUTPUT"}, drop...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables in node 3: %v: %s", err, out)
	}
	line := refused("2377/tcp", "scheduler-swarm:cluster-add", ssh3)
	if !strings.Contains(line, "cannot reach the manager "+n1.Addr) || strings.Contains(line, "7946") {
		t.Fatalf("the refusal names the wrong port: %s", line)
	}
	if st, _ := n3.Docker(ctx, "info", "--format", "{{.Swarm.LocalNodeState}}"); strings.TrimSpace(st) != "inactive" {
		t.Fatalf("node 3 joined although its port check failed: %q", st)
	}
	if out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/var/run/netns/" + n3.NS, "iptables", "-D", "OUTPUT"}, drop...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables in node 3: %v: %s", err, out)
	}
	step("node 3 refused while 2377/tcp was dropped")
	must("scheduler-swarm:cluster-add", "--role", "worker", ssh3)
	step("node 3 added")

	nodes := clusterList(t, must("scheduler-swarm:cluster-list", "--format", "json"))
	if len(nodes) != 3 {
		t.Fatalf("cluster-list shows %d nodes, want 3: %+v", len(nodes), nodes)
	}
	byAddr := map[string]api.ClusterNode{}
	for _, n := range nodes {
		if n.State != "ready" || n.Availability != "active" || n.MemoryBytes <= 0 {
			t.Errorf("node %s (%s): state %s, availability %s, memory %d; want ready, active, some memory", n.ID, n.Addr, n.State, n.Availability, n.MemoryBytes)
		}
		byAddr[n.Addr] = n
	}
	if m := byAddr[n1.Addr]; m.Role != "manager" || !m.Self || !m.Leader {
		t.Errorf("node 1 is not the leading manager this Berth runs on: %+v", m)
	}
	for _, n := range []*swarmtest.Node{n2, n3} {
		if w := byAddr[n.Addr]; w.Role != "worker" || w.Self {
			t.Errorf("node %d is not listed as a worker: %+v", n.Index, w)
		}
	}
	if text := must("scheduler-swarm:cluster-list"); !strings.Contains(text, "FREE MEMORY") || strings.Count(text, " ready ") != 3 {
		t.Errorf("cluster-list's table does not show 3 ready nodes:\n%s", text)
	}
	// The node part answers HTTP on each added node (the proxy's answer
	// to a host it has no route for).
	for _, n := range []*swarmtest.Node{n2, n3} {
		if got := httpAnswer(ctx, n.Addr+":80"); !strings.HasPrefix(got, "HTTP ") {
			t.Errorf("node %d's node part does not answer on %s:80: %s", n.Index, n.Addr, got)
		}
		caFile := filepath.Join(registry.DefaultCertsDir, fmt.Sprintf("%s:%d", n1.Addr, registry.DefaultPort), "ca.crt")
		got, err := os.ReadFile(caFile)
		want, _ := os.ReadFile(filepath.Join(b.DataDir, "registry", "ca.crt"))
		if err != nil || len(want) == 0 || !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
			t.Errorf("%s is not the cluster CA (%v)", caFile, err)
		}
	}
	step("3 ready nodes listed; node parts answer")

	// A global service: one task on each node, counted by cluster-list.
	for _, n := range rig.Nodes {
		if err := n.LoadImages(ctx, host.Host(), "berth-test/busybox:1"); err != nil {
			t.Fatal(err)
		}
	}
	step("base image copied into the 3 nodes")
	// By image ID (the same on every node after docker load): the nodes
	// do not try to pull it (there is no registry to pull from).
	id, err := n1.Docker(ctx, "image", "inspect", "--format", "{{.Id}}", "berth-test/busybox:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n1.Docker(ctx, "service", "create", "--detach", "--no-resolve-image", "--mode", "global", "--stop-grace-period", "1s", "--name", "clusterdrain", strings.TrimSpace(id), "sleep", "3600"); err != nil {
		t.Fatal(err)
	}
	for {
		nodes := clusterList(t, must("scheduler-swarm:cluster-list", "--format", "json"))
		busy := 0
		for _, n := range nodes {
			if n.Tasks == 1 {
				busy++
			}
		}
		ps, _ := n3.Docker(ctx, "ps", "-q", "--filter", "label=com.docker.swarm.service.name=clusterdrain")
		if busy == 3 && strings.TrimSpace(ps) != "" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the global service's tasks are not counted on every node: %+v", nodes)
		}
		time.Sleep(300 * time.Millisecond)
	}
	step("a global service runs one task on each node, cluster-list counts them")

	// Again: nothing to do but say so.
	if out := must("scheduler-swarm:cluster-add", ssh2); !strings.Contains(out, "already a node of this swarm") || !strings.Contains(out, "is this berth already") {
		t.Fatalf("cluster-add of a member does not say so:\n%s", out)
	}
	refused("it cannot remove itself", "scheduler-swarm:cluster-remove", n1.Addr)
	refused("No node", "scheduler-swarm:cluster-remove", "10.0.0.99")

	out = must("scheduler-swarm:cluster-remove", n3.Addr)
	if !strings.Contains(out, "Draining it") || !strings.Contains(out, "left the swarm") || !strings.Contains(out, "removed") || strings.Contains(out, "still on it") {
		t.Fatalf("cluster-remove does not say the node was drained, left and was removed:\n%s", out)
	}
	if ps, _ := n3.Docker(ctx, "ps", "-q", "--filter", "label=com.docker.swarm.service.name=clusterdrain"); strings.TrimSpace(ps) != "" {
		t.Errorf("the service's task still runs on node 3 after cluster-remove: %s", ps)
	}
	nodes = clusterList(t, must("scheduler-swarm:cluster-list", "--format", "json"))
	if len(nodes) != 2 {
		t.Fatalf("after cluster-remove: %d nodes, want 2: %+v", len(nodes), nodes)
	}
	for _, n := range nodes {
		if n.Addr == n3.Addr {
			t.Fatalf("node 3 is still listed: %+v", n)
		}
		if n.Tasks != 1 {
			t.Errorf("node %s (%s) has %d tasks after node 3 went, want its 1", n.ID, n.Addr, n.Tasks)
		}
	}
	if st, _ := n3.Docker(ctx, "info", "--format", "{{.Swarm.LocalNodeState}}"); strings.TrimSpace(st) != "inactive" {
		t.Errorf("node 3's engine is still in a swarm: %q", st)
	}
	if got := httpAnswer(ctx, n3.Addr+":80"); strings.HasPrefix(got, "HTTP ") {
		t.Errorf("node 3's node part still answers after cluster-remove: %s", got)
	}
	step("node 3 removed: 2 nodes left")
}

// clusterList decodes cluster-list --format json.
func clusterList(t *testing.T, out string) []api.ClusterNode {
	t.Helper()
	var nodes []api.ClusterNode
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &nodes); err != nil {
		t.Fatalf("cluster-list --format json: %v\n%s", err, out)
	}
	return nodes
}

// httpAnswer is "HTTP <status>" from a GET to addr, or the error.
func httpAnswer(ctx context.Context, addr string) string {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}}
	var last error
	for range 20 {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
		resp, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last.Error()
}

// lastNonEmpty is the last non-empty line of s.
func lastNonEmpty(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
