package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/registry"
	"github.com/berthpaas/berth/internal/swarmtest"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// requireSwarmRig fails (BERTH_REQUIRE_DOCKER=1) or skips when this machine
// cannot build a swarm rig or run the registry.
func requireSwarmRig(t *testing.T) {
	t.Helper()
	err := swarmtest.Available()
	if err == nil {
		if _, lerr := exec.LookPath(registry.DefaultBinary); lerr != nil {
			err = fmt.Errorf("%s is not installed (apt-get install docker-registry)", registry.DefaultBinary)
		}
	}
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("the swarm rig is required (BERTH_REQUIRE_DOCKER=1): %v", err)
		}
		t.Skipf("no swarm rig on this machine (set BERTH_REQUIRE_DOCKER=1 to fail instead): %v", err)
	}
}

// TestSwarmImagesReachEveryNode is issue 16's foundation end to end: three
// daemons in network namespaces form a swarm; Berth's registry runs on the
// cluster network with TLS from Berth's CA, trusted by the nodes through
// certs.d; an image built on the manager is pushed and a 3-replica service
// runs it by digest, one task on each node, each answering HTTP over the
// overlay network; a worker's daemon is stopped and its task runs again
// elsewhere; the other worker is cut off the network and its tasks run on
// the manager. The steps' timings are logged (go test -v).
func TestSwarmImagesReachEveryNode(t *testing.T) {
	t.Parallel()
	host := requireDocker(t)
	requireSwarmRig(t)
	// Bounded: about 35 s on a quiet 2-CPU machine, 100 s at a load of 28.
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	step := stepper(t)

	rig := swarmtest.New(t, swarmtest.Options{Nodes: 3})
	step(fmt.Sprintf("rig of %d nodes up (set-up took %s)", len(rig.Nodes), rig.SetupIn.Round(time.Millisecond)))
	manager := rig.Manager()

	// The registry on the host's side of the cluster network, TLS from a
	// CA kept in the test's data dir; the nodes trust it through certs.d.
	data := t.TempDir()
	ca, err := registry.LoadOrCreateCA(filepath.Join(data, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", rig.HostAddr(0))
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	reg, err := registry.Start(ctx, registry.Config{Dir: filepath.Join(data, "registry"), Addr: addr, CA: ca, Log: t.Output()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	trust, err := registry.InstallTrust(registry.DefaultCertsDir, reg.Addr(), reg.CAPEM())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(trust)) })
	step("registry up at https://" + reg.Addr())

	// An image built on the manager (its base copied in: the nodes have no
	// registry access), pushed to the registry.
	if err := manager.LoadImages(ctx, host.Host(), "berth-test/busybox:1"); err != nil {
		t.Fatal(err)
	}
	build := t.TempDir()
	if err := os.WriteFile(filepath.Join(build, "Dockerfile"), []byte("FROM berth-test/busybox:1\n"+
		"RUN mkdir /www\n"+
		// The page names the task's node: the hostname is a template below.
		"CMD [\"sh\", \"-c\", \"hostname > /www/index.html && exec httpd -f -p 8080 -h /www\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := reg.Addr() + "/berth-swarm/web:1"
	if _, err := manager.Docker(ctx, "build", "-q", "-t", tag, build); err != nil {
		t.Fatal(err)
	}
	out, err := manager.Docker(ctx, "push", tag)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := reg.Digest(ctx, "berth-swarm/web", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "digest: "+digest) {
		t.Fatalf("the registry's digest %s is not the one the push reported:\n%s", digest, out)
	}
	ref := reg.Ref("berth-swarm/web", digest)
	step("built on the manager and pushed: " + ref)

	// An overlay network (attachable, so a probe container can join it)
	// and a service of 3 replicas by digest, spread over the nodes. DNS
	// round robin, not a virtual IP: VIPs and the ingress mesh need IPVS,
	// which this machine's kernel lacks (see docs/cluster.md).
	if _, err := manager.Client().NetworkCreate(ctx, "berth-swarm", client.NetworkCreateOptions{Driver: "overlay", Attachable: true}); err != nil {
		t.Fatal(err)
	}
	replicas, grace, restartDelay := uint64(3), time.Second, 500*time.Millisecond
	svc, err := manager.Client().ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "web"},
		TaskTemplate: swarm.TaskSpec{
			// httpd as PID 1 ignores SIGTERM: a short grace period, or a
			// node's stop waits swarm's default 10 s for each task.
			ContainerSpec: &swarm.ContainerSpec{Image: ref, Hostname: "{{.Node.ID}}", StopGracePeriod: &grace},
			Placement:     &swarm.Placement{Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.id"}}}},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: "berth-swarm"}},
			// Swarm waits 5 s before replacing a task by default.
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &restartDelay},
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tasks := waitTasks(t, ctx, rig, svc.ID, 3, "")
	if !slices.Equal(sorted(nodeIDs(tasks)), sorted([]string{rig.Nodes[0].ID, rig.Nodes[1].ID, rig.Nodes[2].ID})) {
		t.Fatalf("running tasks on nodes %v, want one on each of the 3 nodes", nodeIDs(tasks))
	}
	step("3 tasks running, one on each node")

	// From a container on the manager, on the overlay network, every task
	// answers at its address with its own node's ID (across nodes: VXLAN
	// between the namespaces), and the service's name resolves.
	probe(t, ctx, manager, tasks)
	step("HTTP over the overlay network reached every task")

	// A worker's daemon stops: its task runs again on another node.
	gone := rig.Nodes[2]
	stopAt := time.Now()
	if err := gone.Stop(); err != nil {
		t.Fatal(err)
	}
	step(fmt.Sprintf("node 3's dockerd stopped (in %s)", time.Since(stopAt).Round(time.Millisecond)))
	waitNodeDown(t, ctx, rig, gone.ID)
	step(fmt.Sprintf("the manager sees node 3 down %s after the stop began", time.Since(stopAt).Round(time.Millisecond)))
	tasks = waitTasks(t, ctx, rig, svc.ID, 3, gone.ID)
	step(fmt.Sprintf("its task rescheduled %s after the stop began: tasks on %v", time.Since(stopAt).Round(time.Millisecond), nodeIDs(tasks)))
	probe(t, ctx, manager, tasks)
	step("the rescheduled task answers")

	// The other worker drops off the network (a crash, seen from the
	// manager): after the heartbeat timeout its tasks run on the manager.
	cut := rig.Nodes[1]
	cutAt := time.Now()
	if err := cut.Disconnect(); err != nil {
		t.Fatal(err)
	}
	waitNodeDown(t, ctx, rig, cut.ID)
	step(fmt.Sprintf("the manager sees node 2 down %s after it was cut off", time.Since(cutAt).Round(time.Millisecond)))
	tasks = waitTasks(t, ctx, rig, svc.ID, 3, cut.ID)
	step(fmt.Sprintf("its tasks rescheduled %s after the cut: tasks on %v", time.Since(cutAt).Round(time.Millisecond), nodeIDs(tasks)))
	probe(t, ctx, manager, tasks)
	step("the manager's tasks answer")
}

// waitNodeDown waits until the manager no longer lists node id ready.
func waitNodeDown(t *testing.T, ctx context.Context, rig *swarmtest.Rig, id string) {
	t.Helper()
	for {
		ready, err := rig.ReadyNodes(ctx)
		if err == nil && !slices.Contains(ready, id) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the manager still lists node %s ready: %v", id, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// task is a running task: its node and its address on the overlay network.
type task struct{ node, ip string }

func nodeIDs(ts []task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.node)
	}
	return out
}

// probe runs a container on node n, on the service's overlay network, that
// GETs every task's page by address and the service by name; each page
// must be its task's node ID.
func probe(t *testing.T, ctx context.Context, n *swarmtest.Node, tasks []task) {
	t.Helper()
	// nc, not wget: busybox-static's wget crashes (SIGSEGV) in this image.
	var script strings.Builder
	script.WriteString(`get() { printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 "$1" 8080 | tail -n 1; }; `)
	for _, tk := range tasks {
		fmt.Fprintf(&script, "echo %s=$(get %s); ", tk.ip, tk.ip)
	}
	script.WriteString("echo name=$(get web); echo mtu=$(cat /sys/class/net/eth0/mtu)")
	var out string
	var err error
	for range 20 { // the network's peers may take a moment to learn a new task
		out, err = n.Docker(ctx, "run", "--rm", "--network", "berth-swarm", "berth-test/busybox:1", "sh", "-c", script.String())
		if err == nil && allAnswered(out, tasks) {
			// The overlay's MTU leaves room for VXLAN's 50 bytes inside the
			// cluster network's 1500, or full-size packets would be lost.
			_, mtu, _ := strings.Cut(out, "mtu=")
			if m, err := strconv.Atoi(strings.TrimSpace(mtu)); err != nil || m <= 0 || m+50 > 1500 {
				t.Fatalf("overlay MTU in the container: %q, want at most 1450", mtu)
			}
			t.Logf("overlay network MTU in a container: %s", strings.TrimSpace(mtu))
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("probe: %v", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("probe from node %d over the overlay network: %v\n%s\nwant each task's node ID: %v", n.Index, err, out, tasks)
}

func allAnswered(out string, tasks []task) bool {
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	for _, tk := range tasks {
		if got[tk.ip] != tk.node {
			return false
		}
	}
	return slices.Contains(nodeIDs(tasks), got["name"])
}

// waitTasks waits until service has want running tasks (and no more
// wanted), none on the node notOn, and returns their node IDs.
func waitTasks(t *testing.T, ctx context.Context, rig *swarmtest.Rig, service string, want int, notOn string) []task {
	t.Helper()
	var last []task
	var lastErr error
	for {
		res, err := rig.Manager().Client().TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", service)})
		lastErr = err
		if err == nil {
			var running []task
			desired := 0
			for _, tk := range res.Items {
				if tk.DesiredState != swarm.TaskStateRunning {
					continue
				}
				desired++
				if tk.Status.State != swarm.TaskStateRunning {
					continue
				}
				for _, a := range tk.NetworksAttachments {
					if a.Network.Spec.Name == "berth-swarm" && len(a.Addresses) > 0 {
						running = append(running, task{node: tk.NodeID, ip: a.Addresses[0].Addr().String()})
					}
				}
			}
			last = running
			if len(running) == want && desired == want && !slices.Contains(nodeIDs(running), notOn) {
				return running
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d running tasks (not on %q): running on %v (%v)\n%s", want, notOn, last, lastErr, rig.Manager().Log())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
