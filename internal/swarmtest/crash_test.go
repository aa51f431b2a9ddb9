package swarmtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crashEnv makes the test binary a rig owner that is then killed.
const crashEnv = "BERTH_SWARMTEST_CRASH_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) == "1" {
		crashHelper()
		return
	}
	os.Exit(m.Run())
}

// crashHelper builds a one-node rig, prints "SLOT DOCKERD-PID" and waits
// to be killed, so its cleanup never runs.
func crashHelper() {
	t := &testing.T{}
	defer func() {
		if r := recover(); r != nil {
			fmt.Println("helper failed:", r)
			os.Exit(1)
		}
	}()
	r := &Rig{t: t}
	if err := r.claim(); err != nil {
		fmt.Println("helper failed:", err)
		os.Exit(1)
	}
	if err := r.network(1); err != nil {
		fmt.Println("helper failed:", err)
		os.Exit(1)
	}
	if err := r.Nodes[0].Start(context.Background()); err != nil {
		fmt.Println("helper failed:", err)
		os.Exit(1)
	}
	fmt.Println(r.Slot, r.Nodes[0].cmd.Process.Pid)
	time.Sleep(time.Hour)
}

// TestRigCleansCrashedRun kills a rig's owner (its cleanup never runs:
// dockerd, containerd, namespace, bridge, iptables rule all stay), and
// checks CleanStale, which New calls, removes all of it.
func TestRigCleansCrashedRun(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("swarm rig unavailable (BERTH_REQUIRE_DOCKER=1): %v", err)
		}
		t.Skipf("swarm rig unavailable: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	var slot, pid int
	if _, serr := fmt.Sscan(line, &slot, &pid); err != nil || serr != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q %v %v", line, err, serr)
	}
	name := Prefix + strconv.Itoa(slot)
	// Whatever happens, nothing of it outlives the test.
	t.Cleanup(func() { cleanSlot(slot) })
	if _, err := net.InterfaceByName(name); err != nil {
		t.Fatalf("the helper's bridge %s is not there: %v", name, err)
	}
	if !alive(pid) {
		t.Fatalf("the helper's dockerd (pid %d) is not running", pid)
	}
	// Killed, the helper leaves it all (another run's New may clean it
	// from here on: the checks below hold either way).
	cmd.Process.Kill()
	cmd.Wait()

	CleanStale()

	if _, err := net.InterfaceByName(name); err == nil {
		t.Errorf("bridge %s left", name)
	}
	if alive(pid) {
		t.Errorf("dockerd %d still running", pid)
	}
	if nsOut, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(nsOut), name+"-n1") {
		t.Errorf("namespace %s-n1 left", name)
	}
	if rules, _ := exec.Command("iptables", "-S", "FORWARD").Output(); strings.Contains(string(rules), "-i "+name+" -o "+name+" ") {
		t.Errorf("FORWARD rule for %s left", name)
	}
	if _, err := os.Stat(filepath.Join(stateRoot, name)); err == nil {
		t.Errorf("state directory of %s left", name)
	}
}

// alive reports whether pid runs (a zombie, dead but not yet reaped by
// its new parent, does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}
