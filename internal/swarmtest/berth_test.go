package swarmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestCleanSlotStopsNodeBerth checks that a crashed run's Berth on a node
// (Rig.Berth) is stopped with the rest of its slot: the daemon, found by
// the pid in its data dir's berth.lock and its --data-dir on the command
// line, and the proxy it started, found by proxy.pid and its environment
// (its command line is only `berth serve-proxy`). A process a pid file
// names that is not that data dir's is left alone. So is Berth's node
// part a cluster-add started (NODEDIR/berth-node/proxy.pid). Stand-in processes
// play the two, so the test needs no berth binary and no dockerd.
func TestCleanSlotStopsNodeBerth(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("swarm rig unavailable (BERTH_REQUIRE_DOCKER=1): %v", err)
		}
		t.Skipf("swarm rig unavailable: %v", err)
	}
	r := &Rig{t: t}
	if err := r.claim(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanSlot(r.Slot) })
	data := filepath.Join(r.Dir, "n1", "berth")
	other := filepath.Join(r.Dir, "n2", "berth")
	for _, d := range []string{data, other} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	start := func(env []string, args ...string) *exec.Cmd {
		cmd := exec.Command("sh", append([]string{"-c", "while :; do sleep 1; done"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-done })
		return cmd
	}
	write := func(path string, pid int) {
		if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	nodePart := filepath.Join(r.Dir, "n3", "berth-node")
	if err := os.MkdirAll(nodePart, 0o700); err != nil {
		t.Fatal(err)
	}
	daemon := start(nil, "berth", "serve", "--data-dir", data)
	proxy := start([]string{"BERTH_DATA_DIR=" + data})
	// Berth's node part a cluster-add started on node 3 (Node.NodeDir).
	part := start([]string{"BERTH_DATA_DIR=" + nodePart})
	write(filepath.Join(nodePart, "proxy.pid"), part.Process.Pid)
	// Named by n2's proxy.pid, but its environment is not n2's data dir.
	bystander := start([]string{"BERTH_DATA_DIR=/elsewhere"})
	write(filepath.Join(data, "berth.lock"), daemon.Process.Pid)
	write(filepath.Join(data, "proxy.pid"), proxy.Process.Pid)
	write(filepath.Join(other, "proxy.pid"), bystander.Process.Pid)

	cleanSlot(r.Slot)

	deadline := time.Now().Add(5 * time.Second)
	for (alive(daemon.Process.Pid) || alive(proxy.Process.Pid) || alive(part.Process.Pid)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(daemon.Process.Pid) {
		t.Error("the node's berth serve (by berth.lock) still runs")
	}
	if alive(proxy.Process.Pid) {
		t.Error("the node's proxy (by proxy.pid) still runs")
	}
	if alive(part.Process.Pid) {
		t.Error("node 3's node part (by berth-node/proxy.pid) still runs")
	}
	if !alive(bystander.Process.Pid) {
		t.Error("a process whose environment names another data dir was killed")
	}
}
