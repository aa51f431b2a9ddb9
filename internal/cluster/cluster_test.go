package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
)

// fakeEngine is a swarm manager in memory; calls records what changed.
type fakeEngine struct {
	mu    sync.Mutex
	state docker.SwarmState
	nodes []docker.SwarmNode
	tasks []docker.SwarmTask
	calls []string
	init  docker.SwarmInitOptions
}

func (f *fakeEngine) call(s string) { f.calls = append(f.calls, s) }

func (f *fakeEngine) SwarmState(context.Context) (docker.SwarmState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, nil
}

func (f *fakeEngine) SwarmInit(_ context.Context, o docker.SwarmInitOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("init")
	f.init = o
	f.state = docker.SwarmState{State: "active", NodeID: "mgr", Addr: "10.0.0.1", Manager: true}
	f.nodes = []docker.SwarmNode{{ID: "mgr", Addr: "10.0.0.1", Role: "manager", State: "ready", Availability: "active", Leader: true}}
	return "mgr", nil
}

func (f *fakeEngine) SwarmJoinTokens(context.Context) (docker.JoinTokens, error) {
	return docker.JoinTokens{Worker: "SWMTKN-worker", Manager: "SWMTKN-manager"}, nil
}

func (f *fakeEngine) Nodes(context.Context) ([]docker.SwarmNode, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.nodes), nil
}

func (f *fakeEngine) setNode(id string, change func(*docker.SwarmNode)) {
	for i := range f.nodes {
		if f.nodes[i].ID == id {
			change(&f.nodes[i])
		}
	}
}

func (f *fakeEngine) NodeSetAvailability(_ context.Context, id, a string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("availability " + id + " " + a)
	f.setNode(id, func(n *docker.SwarmNode) { n.Availability = a })
	// The drained node's tasks stop.
	for i := range f.tasks {
		if f.tasks[i].NodeID == id {
			f.tasks[i].State = "shutdown"
		}
	}
	return nil
}

func (f *fakeEngine) NodeDemote(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("demote " + id)
	f.setNode(id, func(n *docker.SwarmNode) { n.Role = "worker" })
	return nil
}

func (f *fakeEngine) NodeRemove(_ context.Context, id string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if force {
		f.call("remove --force " + id)
	} else {
		f.call("remove " + id)
	}
	f.nodes = slices.DeleteFunc(f.nodes, func(n docker.SwarmNode) bool { return n.ID == id })
	return nil
}

func (f *fakeEngine) Tasks(_ context.Context, nodeID string) ([]docker.SwarmTask, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []docker.SwarmTask
	for _, t := range f.tasks {
		if nodeID == "" || t.NodeID == nodeID {
			out = append(out, t)
		}
	}
	return out, nil
}

// fakeSSH answers each script by what it does; runs records them.
type fakeSSH struct {
	mu      sync.Mutex
	runs    []string // the command, then the script (stdin) for bash -s
	stdin   [][]byte
	answer  func(script string) (string, error)
	keyLine string
}

func (f *fakeSSH) Run(_ context.Context, _ Target, command string, stdin io.Reader) (string, error) {
	b, _ := io.ReadAll(stdin)
	f.mu.Lock()
	f.runs = append(f.runs, command+"\n"+string(b))
	f.stdin = append(f.stdin, b)
	f.mu.Unlock()
	if command != "bash -s" {
		return "", nil // the binary's copy
	}
	return f.answer(string(b))
}

func (f *fakeSSH) PublicKey() (string, error) { return f.keyLine, nil }

// ran reports whether a script containing s was run.
func (f *fakeSSH) ran(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.runs, func(r string) bool { return strings.Contains(r, s) })
}

type fakeCA struct{}

func (fakeCA) CertPEM() []byte {
	return []byte("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n")
}
func (fakeCA) IssueServer(hosts ...string) ([]byte, []byte, error) {
	return []byte("CERT for " + strings.Join(hosts, ",")), []byte("KEY"), nil
}

// healthyNode answers a node that has Docker, is in no swarm and
// reaches every port; joined is called at the join.
func healthyNode(eng *fakeEngine, blocked ...string) func(string) (string, error) {
	return func(script string) (string, error) {
		switch {
		case strings.Contains(script, "echo \"node_dir="):
			out := "node_dir=/var/lib/berth-node\ndocker=/usr/bin/docker\napt=/usr/bin/apt-get\nswarm=inactive  false\n"
			for _, p := range blocked {
				out += "blocked=" + p + "\n"
			}
			return out + "checked=2377 7946\n", nil
		case strings.Contains(script, "docker swarm join"):
			eng.mu.Lock()
			eng.nodes = append(eng.nodes, docker.SwarmNode{ID: "w2", Addr: "10.0.0.2", Role: "worker", State: "ready", Availability: "active"})
			eng.mu.Unlock()
			return "node_id=w2\n", nil
		case strings.Contains(script, "trust="):
			return "trust=ok\nsha=\n", nil
		case strings.Contains(script, "serve-proxy"):
			return "started=pid 42\n", nil
		}
		return "", errors.New("unexpected script:\n" + script)
	}
}

func newTest(t *testing.T, eng *fakeEngine, ssh *fakeSSH) *Manager {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "berth")
	if err := os.WriteFile(bin, []byte("the berth binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ssh.keyLine == "" {
		ssh.keyLine = "ssh-ed25519 AAAAkey berth-cluster"
	}
	return New(Config{
		Engine:      func(context.Context) (Engine, error) { return eng, nil },
		SSH:         ssh,
		CA:          func() (CA, error) { return fakeCA{}, nil },
		DataDir:     t.TempDir(),
		Binary:      bin,
		Heartbeat:   time.Second,
		JoinTimeout: 2 * time.Second, DrainTimeout: 2 * time.Second,
	})
}

func manager() *fakeEngine {
	e := &fakeEngine{}
	e.SwarmInit(context.Background(), docker.SwarmInitOptions{})
	e.calls = nil
	return e
}

func TestParseTarget(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ssh://root@10.0.0.2":      "ssh://root@10.0.0.2:22",
		"ssh://10.0.0.2:2200":      "ssh://root@10.0.0.2:2200",
		"ssh://admin@node.example": "ssh://admin@node.example:22",
		"ssh://root@[fd00::2]:22/": "ssh://root@[fd00::2]:22",
	} {
		got, err := ParseTarget(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for in, why := range map[string]string{
		"":                         "No node specified",
		"root@10.0.0.2":            "not an ssh:// URL",
		"http://10.0.0.2":          "not an ssh:// URL",
		"ssh://root:pw@10.0.0.2":   "passwords",
		"ssh://root@":              "no host",
		"ssh://root@10.0.0.2:0":    "port",
		"ssh://root@10.0.0.2/x":    "path",
		"ssh://-oProxyCommand=x@h": "characters",
	} {
		if _, err := ParseTarget(in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseTarget(%q) = %v, want an error about %q", in, err, why)
		}
	}
}

func TestInitOnceThenSaysSo(t *testing.T) {
	t.Parallel()
	eng := &fakeEngine{state: docker.SwarmState{State: "inactive"}}
	m := newTest(t, eng, &fakeSSH{})
	var out bytes.Buffer
	res, err := m.init(context.Background(), api.ClusterInitRequest{}, api.Output{Stdout: &out})
	if err != nil || res.Already || res.NodeID != "mgr" || res.Addr != "10.0.0.1" {
		t.Fatalf("init = %+v, %v", res, err)
	}
	if eng.init.Heartbeat != time.Second || eng.init.TaskHistory != taskHistory || eng.init.AdvertiseAddr != "" {
		t.Errorf("swarm init options = %+v", eng.init)
	}
	if !strings.Contains(out.String(), "address 10.0.0.1") || !strings.Contains(out.String(), "ssh-ed25519 AAAAkey berth-cluster") {
		t.Errorf("init output:\n%s", out.String())
	}
	res, err = m.init(context.Background(), api.ClusterInitRequest{}, api.Output{})
	if err != nil || !res.Already || len(eng.calls) != 1 {
		t.Errorf("second init = %+v, %v; engine calls %v", res, err, eng.calls)
	}
	// A worker of another swarm is refused.
	eng.state = docker.SwarmState{State: "active", NodeID: "x", Managers: []string{"10.9.9.9:2377"}}
	if _, err := m.init(context.Background(), api.ClusterInitRequest{}, api.Output{}); err == nil || !strings.Contains(err.Error(), "docker swarm leave") {
		t.Errorf("init on a worker: %v", err)
	}
}

func TestAddBeforeInitChangesNothing(t *testing.T) {
	t.Parallel()
	eng := &fakeEngine{state: docker.SwarmState{State: "inactive"}}
	ssh := &fakeSSH{answer: func(string) (string, error) { return "", nil }}
	m := newTest(t, eng, ssh)
	_, err := m.add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2"}, api.Output{})
	if err == nil || !strings.Contains(err.Error(), "run scheduler-swarm:cluster-init first") {
		t.Fatalf("add before init: %v", err)
	}
	if len(ssh.runs) != 0 {
		t.Errorf("ssh was used: %v", ssh.runs)
	}
	if _, err := m.add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2", Role: "boss"}, api.Output{}); err == nil || !strings.Contains(err.Error(), "Invalid role") {
		t.Errorf("bad role: %v", err)
	}
}

func TestAddSaysWhichPortIsBlocked(t *testing.T) {
	t.Parallel()
	eng := manager()
	ssh := &fakeSSH{}
	ssh.answer = healthyNode(eng, "2377")
	m := newTest(t, eng, ssh)
	_, err := m.add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2"}, api.Output{})
	if err == nil || !strings.Contains(err.Error(), "port 2377/tcp (swarm management)") || strings.Contains(err.Error(), "7946") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("blocked 2377: %v", err)
	}
	if ssh.ran("docker swarm join") || ssh.ran("trust=") || len(eng.nodes) != 1 || len(ssh.runs) != 1 {
		t.Errorf("the node was changed after a failed port check: %v", ssh.runs)
	}
	// The check asked about the manager's address.
	if !ssh.ran("MANAGER='10.0.0.1'") {
		t.Errorf("the port check does not name the manager's address: %v", ssh.runs)
	}
}

func TestAddRefusedKeyGivesTheKey(t *testing.T) {
	t.Parallel()
	eng := manager()
	ssh := &fakeSSH{answer: func(string) (string, error) {
		return "", &SSHError{Target: Target{User: "root", Host: "10.0.0.2", Port: 22}, Auth: true, Detail: "Permission denied (publickey)."}
	}}
	m := newTest(t, eng, ssh)
	_, err := m.add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2"}, api.Output{})
	if err == nil || !strings.Contains(err.Error(), "/root/.ssh/authorized_keys") || !strings.Contains(err.Error(), "ssh-ed25519 AAAAkey berth-cluster") {
		t.Fatalf("refused key: %v", err)
	}
}

func TestAddJoinsTrustsAndStartsTheNodePart(t *testing.T) {
	t.Parallel()
	eng := manager()
	ssh := &fakeSSH{}
	ssh.answer = healthyNode(eng)
	m := newTest(t, eng, ssh)
	var out bytes.Buffer
	n, err := m.add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2"}, api.Output{Stdout: &out})
	if err != nil {
		t.Fatalf("add: %v\n%s", err, out.String())
	}
	if n.ID != "w2" || n.State != "ready" || n.SSH != "ssh://root@10.0.0.2:22" {
		t.Errorf("added node = %+v", n)
	}
	for _, want := range []string{
		"TOKEN='SWMTKN-worker'", "ADVERTISE='10.0.0.2'", // the join
		"DIR='/etc/docker/certs.d/10.0.0.1:5000'",                            // the registry's trust
		"CONTROL='10.0.0.2:7950'", "CERT='CERT for 10.0.0.2'", "RESTART='1'", // the node part
	} {
		if !ssh.ran(want) {
			t.Errorf("no script with %s", want)
		}
	}
	// The binary went over ssh's stdin to the node dir.
	if !slices.ContainsFunc(ssh.stdin, func(b []byte) bool { return string(b) == "the berth binary" }) || !ssh.ran("cat > '/var/lib/berth-node'/berth.new") {
		t.Errorf("the binary was not copied: %v", ssh.runs)
	}
	recs, _ := m.records()
	if recs["w2"].SSH != "ssh://root@10.0.0.2:22" || recs["w2"].NodeDir != DefaultNodeDir {
		t.Errorf("record = %+v", recs)
	}
	// A manager joins with the manager token.
	eng2 := manager()
	ssh2 := &fakeSSH{}
	ssh2.answer = healthyNode(eng2)
	if _, err := newTest(t, eng2, ssh2).add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2", Role: "manager"}, api.Output{}); err != nil || !ssh2.ran("TOKEN='SWMTKN-manager'") {
		t.Errorf("manager join: %v", err)
	}
}

func TestAddRefusesANodeOfAnotherSwarm(t *testing.T) {
	t.Parallel()
	eng := manager()
	ssh := &fakeSSH{answer: func(s string) (string, error) {
		return "node_dir=/var/lib/berth-node\ndocker=/usr/bin/docker\nswarm=active other true\n", nil
	}}
	_, err := newTest(t, eng, ssh).add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2"}, api.Output{})
	if err == nil || !strings.Contains(err.Error(), "already in another swarm") || len(ssh.runs) != 1 {
		t.Errorf("node of another swarm: %v (%d scripts)", err, len(ssh.runs))
	}
}

func TestFindNode(t *testing.T) {
	t.Parallel()
	nodes := []docker.SwarmNode{
		{ID: "abcd1111", Hostname: "vm", Addr: "10.0.0.1"},
		{ID: "abcd2222", Hostname: "vm", Addr: "10.0.0.2"},
		{ID: "ef003333", Hostname: "db", Addr: "10.0.0.3"},
	}
	recs := map[string]record{"ef003333": {SSH: "ssh://root@db.example:22"}}
	for name, want := range map[string]string{"abcd2222": "abcd2222", "10.0.0.1": "abcd1111", "db": "ef003333", "db.example": "ef003333", "ef00": "ef003333"} {
		if n, err := findNode(nodes, recs, name); err != nil || n.ID != want {
			t.Errorf("findNode(%q) = %s, %v; want %s", name, n.ID, err, want)
		}
	}
	for name, why := range map[string]string{"vm": "names 2 nodes", "abcd": "names 2 nodes", "ab": "No node", "10.0.0.9": "No node"} {
		if _, err := findNode(nodes, recs, name); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("findNode(%q) = %v, want %q", name, err, why)
		}
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	eng := manager()
	eng.nodes = append(eng.nodes, docker.SwarmNode{ID: "m2", Addr: "10.0.0.2", Role: "manager", State: "ready", Availability: "active"})
	eng.tasks = []docker.SwarmTask{{ID: "t1", NodeID: "m2", State: "running", DesiredState: "running"}}
	ssh := &fakeSSH{answer: func(s string) (string, error) {
		if strings.Contains(s, "docker swarm leave") {
			eng.mu.Lock()
			eng.setNode("m2", func(n *docker.SwarmNode) { n.State = "down" })
			eng.mu.Unlock()
			return "left=yes\nnode_part=stopped\n", nil
		}
		return "", errors.New("unexpected")
	}}
	m := newTest(t, eng, ssh)
	if err := m.setRecord("m2", record{SSH: "ssh://admin@10.0.0.2:2200", NodeDir: "/srv/node"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.remove(context.Background(), api.ClusterRemoveRequest{Node: "10.0.0.1"}, api.Output{}); err == nil || !strings.Contains(err.Error(), "cannot remove itself") || len(eng.calls) != 0 {
		t.Fatalf("removing the manager itself: %v, calls %v", err, eng.calls)
	}
	var out bytes.Buffer
	if _, err := m.remove(context.Background(), api.ClusterRemoveRequest{Node: "10.0.0.2"}, api.Output{Stdout: &out}); err != nil {
		t.Fatalf("remove: %v\n%s", err, out.String())
	}
	want := []string{"demote m2", "availability m2 drain", "remove m2"}
	if !slices.Equal(eng.calls, want) {
		t.Errorf("engine calls = %v, want %v", eng.calls, want)
	}
	if !ssh.ran("DIR='/srv/node'") {
		t.Errorf("leave did not use the recorded node dir: %v", ssh.runs)
	}
	if recs, _ := m.records(); len(recs) != 0 {
		t.Errorf("record kept: %v", recs)
	}
}

func TestRemoveUnreachableNodeIsForced(t *testing.T) {
	t.Parallel()
	eng := manager()
	eng.nodes = append(eng.nodes, docker.SwarmNode{ID: "w3", Addr: "10.0.0.3", Role: "worker", State: "down", Availability: "active"})
	ssh := &fakeSSH{answer: func(string) (string, error) {
		return "", &SSHError{Target: Target{Host: "10.0.0.3", Port: 22}, Detail: "No route to host"}
	}}
	var out bytes.Buffer
	if _, err := newTest(t, eng, ssh).remove(context.Background(), api.ClusterRemoveRequest{Node: "w3"}, api.Output{Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(eng.calls, []string{"availability w3 drain", "remove --force w3"}) || !strings.Contains(out.String(), "run `docker swarm leave` on it later") {
		t.Errorf("calls %v\n%s", eng.calls, out.String())
	}
}

func TestAddChangedHostKeySaysWhatToDo(t *testing.T) {
	t.Parallel()
	eng := manager()
	ssh := &fakeSSH{answer: func(string) (string, error) {
		return "", &SSHError{Target: Target{User: "root", Host: "10.0.0.2", Port: 2200}, HostKey: true, Detail: "Host key verification failed."}
	}}
	_, err := newTest(t, eng, ssh).add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2:2200"}, api.Output{})
	if err == nil || !strings.Contains(err.Error(), "ssh-keygen -R '[10.0.0.2]:2200'") {
		t.Fatalf("changed host key: %v", err)
	}
}

func TestAddRefusesTheManagerItself(t *testing.T) {
	t.Parallel()
	eng := manager()
	ssh := &fakeSSH{answer: func(string) (string, error) {
		return "node_dir=/var/lib/berth-node\ndocker=/usr/bin/docker\nswarm=active mgr true\n", nil
	}}
	_, err := newTest(t, eng, ssh).add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.1"}, api.Output{})
	if err == nil || !strings.Contains(err.Error(), "is this server") || len(ssh.runs) != 1 {
		t.Errorf("adding the manager: %v (%d scripts)", err, len(ssh.runs))
	}
}

func TestAddInstallsDockerWithAptOrSaysSo(t *testing.T) {
	t.Parallel()
	// Neither docker nor apt-get: refused, nothing run after the look.
	eng := manager()
	ssh := &fakeSSH{answer: func(string) (string, error) { return "node_dir=/var/lib/berth-node\ndocker=\napt=\n", nil }}
	_, err := newTest(t, eng, ssh).add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2"}, api.Output{})
	if err == nil || !strings.Contains(err.Error(), "no Docker and no apt-get") || len(ssh.runs) != 1 {
		t.Errorf("no docker, no apt-get: %v (%d scripts)", err, len(ssh.runs))
	}
	// apt-get: docker.io is installed, then the node is looked at again.
	eng = manager()
	installed := false
	healthy := healthyNode(eng)
	ssh = &fakeSSH{answer: func(s string) (string, error) {
		switch {
		case strings.Contains(s, "apt-get install -y -q docker.io"):
			installed = true
			return "docker=ok\n", nil
		case strings.Contains(s, "echo \"node_dir=") && !installed:
			return "node_dir=/var/lib/berth-node\ndocker=\napt=/usr/bin/apt-get\n", nil
		}
		return healthy(s)
	}}
	var out bytes.Buffer
	if _, err := newTest(t, eng, ssh).add(context.Background(), api.ClusterAddRequest{URL: "ssh://root@10.0.0.2"}, api.Output{Stdout: &out}); err != nil || !installed || !strings.Contains(out.String(), "Installing Docker on 10.0.0.2") {
		t.Errorf("docker.io install: %v, installed %v\n%s", err, installed, out.String())
	}
}
