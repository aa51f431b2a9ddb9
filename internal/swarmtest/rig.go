// Package swarmtest builds a multi-node Docker Swarm on one machine for
// tests: N Docker daemons (default 3), each in its own network namespace,
// joined into one swarm through the Engine API. It is the rig of issue 16
// ("How to test it on one machine"); e2e/swarm_test.go uses it.
//
// The layout of a rig in slot K (0..31, claimed by creating the bridge):
//
//	bridge   bswK           10.231.K.254/24 (the host's side: a registry
//	                        bound here is reachable from every node)
//	node i   netns bswK-nI  eth0 10.231.K.I/24 (veth bswK-vI on the bridge),
//	                        lo, default route via 10.231.K.254
//	dockerd  nsenter --net=/var/run/netns/bswK-nI dockerd ...
//	         --bip 172.31.I.1/24 (in its own namespace, so it never clashes)
//	files    /tmp/berth-swarmtest/bswK/ (owner pid, nI/{data,exec,docker.sock})
//	iptables FORWARD -i bswK -o bswK -j ACCEPT (the host's FORWARD policy
//	         is DROP and bridged frames pass through it)
//
// Each dockerd starts its own containerd (under its exec root) when no
// system containerd listens at /run/containerd/containerd.sock; otherwise
// they share it, separated by --containerd-namespace. Inside its namespace
// each dockerd manages its own iptables rules, never the host's.
//
// `ip netns exec` is not used: it remounts /sys and dockerd then fails with
// "Devices cgroup isn't mounted"; nsenter --net only changes the network.
//
// Everything is undone by t.Cleanup, also when the test fails: daemons
// (SIGTERM, then SIGKILL), their containerd, mounts, namespaces, veths,
// the bridge, the iptables rule, the files. A rig left by a crashed run
// (its owner pid is gone) is cleaned when its slot is next claimed.
package swarmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Prefix starts the name of every object a rig creates on the host
// (bridges, veths, network namespaces, the state directory's entries).
const Prefix = "bsw"

// stateRoot holds one directory per claimed slot.
const stateRoot = "/tmp/berth-swarmtest"

// slots is how many rigs may exist at once (10.231.0..31.0/24).
const slots = 32

// Options shape a rig. The zero value is three nodes, one manager.
type Options struct {
	Nodes    int           // default 3
	Managers int           // default 1; the first Managers nodes are managers
	Timeout  time.Duration // bounds the whole set-up; default 90 s
	// NoSwarm leaves the daemons running but not joined.
	NoSwarm bool
}

// Rig is a running set of node daemons.
type Rig struct {
	t       testing.TB
	Slot    int
	Bridge  string // bswK
	HostIP  string // 10.231.K.254: the host's address on the cluster network
	Dir     string // /tmp/berth-swarmtest/bswK
	Nodes   []*Node
	SetupIn time.Duration // how long New took

	mu       sync.Mutex
	iptables bool
}

// HostAddr is addr:port on the host's side of the cluster network.
func (r *Rig) HostAddr(port int) string { return fmt.Sprintf("%s:%d", r.HostIP, port) }

// New builds a rig for t and tears it down in t.Cleanup. It needs root,
// ip, nsenter, iptables and dockerd; it fails the test when anything is
// missing or the set-up does not finish within opts.Timeout.
func New(t testing.TB, opts Options) *Rig {
	t.Helper()
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.Managers <= 0 {
		opts.Managers = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 90 * time.Second
	}
	if err := Available(); err != nil {
		t.Fatalf("swarmtest: %v", err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	r := &Rig{t: t}
	t.Cleanup(r.cleanup)
	if err := r.claim(); err != nil {
		t.Fatalf("swarmtest: %v", err)
	}
	if err := r.network(opts.Nodes); err != nil {
		t.Fatalf("swarmtest: %v", err)
	}
	// The daemons start in parallel: each takes seconds.
	errs := make(chan error, opts.Nodes)
	for _, n := range r.Nodes {
		go func() { errs <- n.Start(ctx) }()
	}
	for range r.Nodes {
		if err := <-errs; err != nil {
			t.Fatalf("swarmtest: %v", err)
		}
	}
	if !opts.NoSwarm {
		if err := r.formSwarm(ctx, opts.Managers); err != nil {
			t.Fatalf("swarmtest: %v", err)
		}
	}
	r.SetupIn = time.Since(start)
	t.Logf("swarmtest: rig %s with %d nodes up in %s", r.Bridge, len(r.Nodes), r.SetupIn.Round(time.Millisecond))
	return r
}

// Available says why a rig cannot be built on this machine, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("a swarm rig needs root (network namespaces, dockerd)")
	}
	for _, c := range []string{"ip", "nsenter", "iptables", "dockerd"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("a swarm rig needs %s: %v", c, err)
		}
	}
	return nil
}

// claim takes the first free slot. Creating the slot's state directory
// is the lock (its owner file names the process); the bridge and the rest
// are made after it and removed before it. Slots left by crashed runs
// (their owner is gone) are cleaned first.
func (r *Rig) claim() error {
	if err := os.MkdirAll(stateRoot, 0o700); err != nil {
		return err
	}
	CleanStale()
	for k := range slots {
		name := fmt.Sprintf("%s%d", Prefix, k)
		dir := filepath.Join(stateRoot, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			return err
		}
		r.Slot, r.Bridge, r.Dir = k, name, dir
		r.HostIP = fmt.Sprintf("10.231.%d.254", k)
		// Whatever a crash left of this slot's network goes first.
		cleanNetwork(k)
		return run("ip", "link", "add", "name", name, "type", "bridge")
	}
	return fmt.Errorf("no free rig slot (%s/%s0..%d all in use)", stateRoot, Prefix, slots-1)
}

// CleanStale removes what crashed runs left: slots whose owner process is
// gone, and network objects of slots that have no state directory (the
// directory is made before them and removed after them). Live rigs, and
// anything not named with Prefix, are left alone.
func CleanStale() {
	leftover := networkSlots()
	for k := range slots {
		dir := filepath.Join(stateRoot, fmt.Sprintf("%s%d", Prefix, k))
		if _, err := os.Stat(dir); err != nil {
			if leftover[k] {
				cleanNetwork(k)
			}
			continue
		}
		if stale(dir) {
			cleanSlot(k)
		}
	}
}

// networkSlots is the set of slots that have a namespace, a link or a
// FORWARD rule on the host.
func networkSlots() map[int]bool {
	found := map[int]bool{}
	var names []string
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if fs := strings.Fields(line); len(fs) > 0 {
				names = append(names, fs[0])
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if fs := strings.Fields(line); len(fs) > 1 {
				ifname, _, _ := strings.Cut(strings.TrimSuffix(fs[1], ":"), "@")
				names = append(names, ifname)
			}
		}
	}
	if out, err := exec.Command("iptables", "-S", "FORWARD").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			fs := strings.Fields(line)
			for i, f := range fs {
				if f == "-i" && i+1 < len(fs) {
					names = append(names, fs[i+1])
				}
			}
		}
	}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, Prefix)
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, "-")
		if k, err := strconv.Atoi(num); err == nil && k >= 0 && k < slots && strconv.Itoa(k) == num {
			found[k] = true
		}
	}
	return found
}

// stale reports whether the slot's owner process is gone.
func stale(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		// No owner file: a claim in progress, or a crash right after the
		// directory was made.
		st, err := os.Stat(dir)
		return err == nil && time.Since(st.ModTime()) > time.Minute
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return true
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// network makes the bridge, the FORWARD rule and one namespace per node.
func (r *Rig) network(n int) error {
	if err := batch(
		[]string{"ip", "addr", "add", r.HostIP + "/24", "dev", r.Bridge},
		[]string{"ip", "link", "set", r.Bridge, "up"},
	); err != nil {
		return err
	}
	if err := run("iptables", "-I", "FORWARD", "-i", r.Bridge, "-o", r.Bridge, "-j", "ACCEPT"); err != nil {
		return err
	}
	r.mu.Lock()
	r.iptables = true
	r.mu.Unlock()
	for i := 1; i <= n; i++ {
		node := &Node{
			rig:   r,
			Index: i,
			NS:    fmt.Sprintf("%s-n%d", r.Bridge, i),
			Addr:  fmt.Sprintf("10.231.%d.%d", r.Slot, i),
			Dir:   filepath.Join(r.Dir, fmt.Sprintf("n%d", i)),
			log:   &lockedBuf{},
		}
		node.Host = "unix://" + filepath.Join(node.Dir, "docker.sock")
		veth := fmt.Sprintf("%s-v%d", r.Bridge, i)
		if err := batch(
			[]string{"ip", "netns", "add", node.NS},
			[]string{"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", node.NS},
			[]string{"ip", "link", "set", veth, "master", r.Bridge, "up"},
			[]string{"ip", "-n", node.NS, "addr", "add", node.Addr + "/24", "dev", "eth0"},
			[]string{"ip", "-n", node.NS, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", node.NS, "link", "set", "lo", "up"},
			[]string{"ip", "-n", node.NS, "route", "add", "default", "via", r.HostIP},
		); err != nil {
			return err
		}
		if err := os.MkdirAll(node.Dir, 0o700); err != nil {
			return err
		}
		r.Nodes = append(r.Nodes, node)
	}
	return nil
}

// cleanup stops every node and removes what the rig made.
func (r *Rig) cleanup() {
	if r.Bridge == "" {
		return
	}
	var wg sync.WaitGroup
	for _, n := range r.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.stopSSHD()
			if err := n.stop(syscall.SIGTERM); err != nil {
				r.t.Log(err)
			}
		}()
	}
	wg.Wait()
	if r.t.Failed() {
		for _, n := range r.Nodes {
			r.t.Logf("swarmtest: dockerd log of node %d (tail):\n%s", n.Index, n.log.tail(3000))
		}
	}
	r.mu.Lock()
	if r.iptables {
		_ = run("iptables", "-D", "FORWARD", "-i", r.Bridge, "-o", r.Bridge, "-j", "ACCEPT")
		r.iptables = false
	}
	r.mu.Unlock()
	cleanSlot(r.Slot)
}

// cleanSlot removes everything of slot k: processes recorded in its state
// directory, mounts under it, its network objects, then the directory.
func cleanSlot(k int) {
	dir := filepath.Join(stateRoot, fmt.Sprintf("%s%d", Prefix, k))
	// Each node's Berth, dockerd, containerd and sshd, by pid file, only
	// if their command line names this directory.
	// A node's Berth (Rig.Berth) and the proxy it started go first.
	for _, pattern := range []string{"n*/berth/berth.lock", "n*/docker.pid", "n*/exec/containerd/containerd.pid", "n*/sshd.pid"} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range files {
			killOwned(f, dir)
		}
	}
	// Berth's node part a cluster-add started over ssh (Node.NodeDir):
	// the same pid file and environment as a daemon's proxy.
	berths, _ := filepath.Glob(filepath.Join(dir, "n*/berth"))
	parts, _ := filepath.Glob(filepath.Join(dir, "n*/nodepart"))       // Rig.NodeProxy's
	nodeParts, _ := filepath.Glob(filepath.Join(dir, "n*/berth-node")) // cluster-add's
	for _, d := range append(append(berths, parts...), nodeParts...) {
		killBerthProxy(d)
	}
	unmountUnder(dir)
	cleanNetwork(k)
	_ = os.RemoveAll(dir)
}

// cleanNetwork removes slot k's namespaces, veths, FORWARD rules and bridge.
func cleanNetwork(k int) {
	name := fmt.Sprintf("%s%d", Prefix, k)
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			fs := strings.Fields(line)
			if len(fs) > 0 && strings.HasPrefix(fs[0], name+"-n") {
				_ = run("ip", "netns", "delete", fs[0])
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			fs := strings.Fields(line)
			if len(fs) > 1 {
				ifname, _, _ := strings.Cut(strings.TrimSuffix(fs[1], ":"), "@")
				if strings.HasPrefix(ifname, name+"-v") || ifname == name {
					_ = run("ip", "link", "delete", ifname)
				}
			}
		}
	}
	for run("iptables", "-D", "FORWARD", "-i", name, "-o", name, "-j", "ACCEPT") == nil {
	}
}

// killOwned SIGKILLs the process in pidfile if its command line mentions
// dir (a reused pid belongs to someone else).
func killOwned(pidfile, dir string) {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if bytes.Contains(cmdline, []byte(dir)) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for range 50 {
			if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || bytes.Contains(st, []byte(") Z ")) {
				return // gone, or a zombie its new parent has not reaped
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		if fs := strings.Fields(line); len(fs) > 1 && strings.HasPrefix(fs[1], dir+"/") {
			mounts = append(mounts, fs[1])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
}

func run(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func batch(cmds ...[]string) error {
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// lockedBuf is a bytes.Buffer safe for a daemon's output and the test.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	return s[max(0, len(s)-n):]
}
