package swarmtest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRig builds a two-node rig and checks what it promises: both daemons
// ready in one swarm, the host reaches the nodes' swarm ports, a node's
// daemon restarts into the swarm, sshd in a node's namespace lets root in,
// and cleanup leaves nothing of the slot behind.
func TestRig(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("swarm rig unavailable (BERTH_REQUIRE_DOCKER=1): %v", err)
		}
		t.Skipf("swarm rig unavailable: %v", err)
	}
	var bridge, ns string
	t.Run("up", func(t *testing.T) {
		r := New(t, Options{Nodes: 2})
		bridge, ns = r.Bridge, r.Nodes[0].NS
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ready, err := r.ReadyNodes(ctx)
		if err != nil || len(ready) != 2 {
			t.Fatalf("ready nodes %v, %v; want 2", ready, err)
		}
		if r.NodeByID(r.Nodes[1].ID) != r.Nodes[1] || r.Nodes[1].ID == r.Nodes[0].ID {
			t.Fatalf("node IDs %q %q", r.Nodes[0].ID, r.Nodes[1].ID)
		}
		// The manager's port (2377) and a worker's gossip port (7946), from
		// the host's side of the bridge.
		for _, addr := range []string{r.Nodes[0].Addr + ":2377", r.Nodes[1].Addr + ":7946"} {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatalf("host -> %s: %v", addr, err)
			}
			c.Close()
		}
		// The host engine does not listen there: the address is node 2's.
		if _, err := net.DialTimeout("tcp", r.Nodes[1].Addr+":1", time.Second); err == nil {
			t.Fatal("a closed port answered")
		}

		// Node 2's daemon stopped and started on its directories rejoins
		// the swarm on its own.
		restartAt := time.Now()
		if err := r.Nodes[1].Stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("node 2's dockerd stopped in %s", time.Since(restartAt).Round(time.Millisecond))
		if err := r.Nodes[1].Start(ctx); err != nil {
			t.Fatal(err)
		}
		for {
			ready, err := r.ReadyNodes(ctx)
			if err == nil && len(ready) == 2 {
				t.Logf("node 2 ready again %s after the stop began", time.Since(restartAt).Round(time.Millisecond))
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("after node 2's restart, ready nodes %v, %v", ready, err)
			}
			time.Sleep(100 * time.Millisecond)
		}

		// sshd in node 2's namespace lets root in with a key; the session's
		// network is the node's.
		dir := t.TempDir()
		key := filepath.Join(dir, "id")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
		addr, err := r.Nodes[1].StartSSHD(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(addr)
		out, err := exec.CommandContext(ctx, "ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "root@"+host, "ip -o -4 addr show dev eth0; echo env=$DOCKER_HOST,$BERTH_NODE_DIR").CombinedOutput()
		if err != nil || !strings.Contains(string(out), " "+r.Nodes[1].Addr+"/24") || !strings.Contains(string(out), "env="+r.Nodes[1].Host+","+r.Nodes[1].NodeDir()+"\n") {
			t.Fatalf("ssh root@%s: %v\n%s", host, err, out)
		}
	})
	if bridge == "" {
		return
	}
	if _, err := net.InterfaceByName(bridge); err == nil {
		t.Errorf("bridge %s is still there after cleanup", bridge)
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); containsWord(string(out), ns) {
		t.Errorf("namespace %s is still there after cleanup", ns)
	}
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}
