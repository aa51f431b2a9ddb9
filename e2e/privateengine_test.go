package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// privateEngine is a dockerd of one test's own, so that the test may stop,
// restart or break it without touching the host's engine, which other
// tests use at the same time. It shares the host's network namespace, with
// its own data root, exec root (and so its own containerd), socket, pid
// file, containerd namespace and bridge:
//
//   - no iptables rules (--iptables=false): published 127.0.0.1 ports work
//     through docker-proxy, and containers on one bridge reach each other;
//   - its default bridge is a Linux bridge the helper creates (bpeK, with
//     10.212.K.1/24; K in 0..15 is claimed by creating the bridge, so
//     parallel private engines never share one).
//
// Two dockerd flags are never passed, because in the host's network
// namespace they delete the HOST engine's docker0 (Moby's
// removeDefaultBridgeInterface names docker0 whatever --bridge says):
// --bridge=none (at every start) and --default-address-pool (at every
// restart, when the stale default network is cleared). So the engine's
// user-defined networks (Berth's services network) come from dockerd's
// default pools, which skip ranges already routed on the host; tests that
// need many of them should run the engine in a network namespace of its
// own instead (issue 16).
//
// It starts empty: loadImages copies small local images into it from the
// host's engine. Stop, start and restart it on the same directories; at
// the end of the test t.Cleanup stops it (SIGTERM, then SIGKILL), removes
// what it left in containerd, its mounts and directories, and its bridge.
type privateEngine struct {
	t      *testing.T
	dir    string // data, exec, the socket, the pid file, the log
	bridge string
	slot   int
	ns     string // containerd namespace
	host   string // "unix://DIR/docker.sock", for DOCKER_HOST
	client *docker.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error
	log  *lockedBuf
}

// privateEngineStartTimeout bounds a start; stopTimeout a stop (the
// engine's own shutdown timeout for containers is 3 s).
const (
	privateEngineStartTimeout = 30 * time.Second
	privateEngineStopTimeout  = 20 * time.Second
)

// startPrivateEngine starts a private engine for t (see privateEngine) and
// loads images into it. It needs root and dockerd; it fails when
// BERTH_REQUIRE_DOCKER=1 and they are missing, and skips otherwise.
func startPrivateEngine(t *testing.T, hostEngine *docker.Client, images ...string) *privateEngine {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("dockerd"); err != nil {
		missing = "dockerd is not installed"
	} else if os.Geteuid() != 0 {
		missing = "a private dockerd needs root"
	}
	if missing != "" {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("private engine: %s (BERTH_REQUIRE_DOCKER=1)", missing)
		}
		t.Skipf("private engine: %s", missing)
	}
	dir, err := os.MkdirTemp("", "pe")
	if err != nil {
		t.Fatal(err)
	}
	e := &privateEngine{t: t, dir: dir, host: "unix://" + filepath.Join(dir, "docker.sock"), log: &lockedBuf{}}
	t.Cleanup(e.cleanup)
	if err := e.claimBridge(); err != nil {
		t.Fatal(err)
	}
	e.ns = fmt.Sprintf("berth-pe-%d-%d", os.Getpid(), e.slot)
	e.start()
	e.loadImages(hostEngine, images...)
	return e
}

// claimBridge creates the engine's bridge on the first free slot.
func (e *privateEngine) claimBridge() error {
	var lastErr error
	for k := range 16 {
		name := fmt.Sprintf("bpe%d", k)
		if out, err := exec.Command("ip", "link", "add", "name", name, "type", "bridge").CombinedOutput(); err != nil {
			lastErr = fmt.Errorf("ip link add %s: %v: %s", name, err, bytes.TrimSpace(out))
			continue
		}
		e.bridge, e.slot = name, k
		for _, args := range [][]string{
			{"addr", "add", fmt.Sprintf("10.212.%d.1/24", k), "dev", name},
			{"link", "set", name, "up"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
			}
		}
		return nil
	}
	return fmt.Errorf("no free bridge for a private engine (bpe0..bpe15 all exist): %v", lastErr)
}

// start starts dockerd on the engine's directories and waits until it
// answers.
func (e *privateEngine) start() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd != nil {
		e.t.Fatal("private engine: already running")
	}
	cmd := exec.Command("dockerd",
		"--data-root", filepath.Join(e.dir, "data"),
		"--exec-root", filepath.Join(e.dir, "exec"),
		"--host", e.host,
		"--pidfile", filepath.Join(e.dir, "docker.pid"),
		"--containerd-namespace", e.ns,
		"--containerd-plugins-namespace", e.ns+"-plugins",
		"--iptables=false", "--ip6tables=false", "--ip-masq=false",
		"--bridge", e.bridge, // never "none", never --default-address-pool: see privateEngine
		"--shutdown-timeout", "3",
		"--userland-proxy=true",
	)
	cmd.Stdout, cmd.Stderr = e.log, e.log
	// Its own process group: a signal to the test's group does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start dockerd: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	e.cmd, e.done = cmd, done
	deadline := time.Now().Add(privateEngineStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := docker.NewHost(ctx, e.host)
		cancel()
		if err == nil {
			if e.client != nil {
				e.client.Close()
			}
			e.client = c
			return
		}
		select {
		case err := <-done:
			e.cmd = nil
			e.t.Fatalf("dockerd exited at start: %v\n%s", err, e.log.tail(4000))
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("private dockerd did not answer within %s: %v\n%s", privateEngineStartTimeout, err, e.log.tail(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop stops dockerd with SIGTERM (it stops its containers, as on a host
// shutdown) and waits for it, killing it after privateEngineStopTimeout.
func (e *privateEngine) stop() {
	e.t.Helper()
	if err := e.stopSignal(syscall.SIGTERM); err != nil {
		e.t.Fatal(err)
	}
}

func (e *privateEngine) stopSignal(sig syscall.Signal) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil {
		return nil
	}
	cmd, done := e.cmd, e.done
	e.cmd = nil
	cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(privateEngineStopTimeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("private dockerd did not stop within %s after %v; killed\n%s", privateEngineStopTimeout, sig, e.log.tail(4000))
	}
}

// restart stops dockerd and starts it again on the same directories.
func (e *privateEngine) restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

// loadImages copies images from the host's engine (docker save | load).
// Keep them small: the test app's base image is 2 MB.
func (e *privateEngine) loadImages(hostEngine *docker.Client, images ...string) {
	e.t.Helper()
	for _, img := range images {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		save := exec.CommandContext(ctx, "docker", "-H", hostEngine.Host(), "save", img)
		load := exec.CommandContext(ctx, "docker", "-H", e.host, "load", "-q")
		pr, pw := io.Pipe()
		save.Stdout = pw
		load.Stdin = pr
		var saveErr, loadOut bytes.Buffer
		save.Stderr = &saveErr
		load.Stdout, load.Stderr = &loadOut, &loadOut
		if err := load.Start(); err != nil {
			cancel()
			e.t.Fatal(err)
		}
		err := save.Run()
		pw.CloseWithError(err)
		lerr := load.Wait()
		cancel()
		if err != nil || lerr != nil {
			e.t.Fatalf("copy image %s into the private engine: save: %v %s; load: %v %s", img, err, saveErr.String(), lerr, loadOut.String())
		}
	}
}

// cleanup stops the engine, removes what it left in containerd (after a
// kill its containers' tasks may still run), its mounts and directories,
// and its bridge.
func (e *privateEngine) cleanup() {
	if err := e.stopSignal(syscall.SIGTERM); err != nil {
		e.t.Log(err)
	}
	if e.client != nil {
		e.client.Close()
	}
	if e.t.Failed() {
		e.t.Logf("private dockerd log (tail):\n%s", e.log.tail(6000))
	}
	// dockerd runs its own containerd unless the host's runs at the
	// default address; either way the engine's containers are in e.ns.
	addr := filepath.Join(e.dir, "exec", "containerd", "containerd.sock")
	if _, err := os.Stat(addr); err != nil {
		addr = "/run/containerd/containerd.sock"
	}
	if c, err := net.DialTimeout("unix", addr, time.Second); err == nil && e.ns != "" {
		// Its containerd still runs (dockerd was killed): its tasks go.
		c.Close()
		ctr := func(args ...string) string {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, _ := exec.CommandContext(ctx, "ctr", append([]string{"--address", addr, "-n", e.ns}, args...)...).Output()
			return string(out)
		}
		for _, id := range strings.Fields(ctr("containers", "list", "-q")) {
			ctr("tasks", "kill", "-s", "SIGKILL", id)
			time.Sleep(100 * time.Millisecond)
			ctr("tasks", "delete", "-f", id)
			ctr("containers", "delete", id)
		}
		ctr("namespaces", "remove", e.ns)
		ctr("namespaces", "remove", e.ns+"-plugins")
	}
	// The engine's own containerd outlives a killed dockerd.
	if b, err := os.ReadFile(filepath.Join(e.dir, "exec", "containerd", "containerd.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.Contains(cmdline, []byte(e.dir)) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	// Mounts left under the directory (overlay layers, shm) after a kill.
	if f, err := os.Open("/proc/self/mounts"); err == nil {
		var mounts []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fs := strings.Fields(sc.Text()); len(fs) > 1 && strings.HasPrefix(fs[1], e.dir+"/") {
				mounts = append(mounts, fs[1])
			}
		}
		f.Close()
		for i := len(mounts) - 1; i >= 0; i-- {
			syscall.Unmount(mounts[i], syscall.MNT_DETACH)
		}
	}
	os.RemoveAll(e.dir)
	if e.bridge != "" {
		exec.Command("ip", "link", "delete", e.bridge).Run()
	}
}

// lockedBuf is a bytes.Buffer safe for the engine's output and the test.
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

// TestPrivateEngine checks the helper itself: a container publishes a
// 127.0.0.1 port that answers, the engine restarts on its directories and
// keeps its images and containers, and the host's engine never sees any
// of it.
func TestPrivateEngine(t *testing.T) {
	t.Parallel()
	host := requireDocker(t)
	// The host engine's bridge must outlive the private engine's starts and
	// restarts (see privateEngine on the flags that would delete it).
	hostBridge, _ := net.InterfaceByName("docker0")
	e := startPrivateEngine(t, host, "berth-test/busybox:1")
	ctx := context.Background()
	id, err := e.client.CreateContainer(ctx, docker.ContainerSpec{Name: "pe-web", Image: "berth-test/busybox:1",
		// httpd in the background and a shell that exits on SIGTERM: the
		// engine's stop does not wait 10 s for a PID 1 that ignores it.
		Cmd: []string{"sh", "-c", "httpd -p 8080 -h /etc; trap 'exit 0' TERM; while :; do sleep 0.2; done"}, PublishPort: 8080})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	get := func() string {
		t.Helper()
		det, err := e.client.InspectContainer(ctx, id)
		if err != nil || det.HostPort == 0 {
			t.Fatalf("inspect: %v, port %d", err, det.HostPort)
		}
		var last error
		for range 50 {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", det.HostPort), time.Second)
			if err == nil {
				fmt.Fprintf(c, "GET /hostname HTTP/1.0\r\n\r\n")
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				b, _ := io.ReadAll(c)
				c.Close()
				if bytes.HasPrefix(b, []byte("HTTP/1.")) && bytes.Contains(b[:min(len(b), 16)], []byte(" 200")) {
					return string(b)
				}
				err = fmt.Errorf("answer %q", b)
			}
			last = err
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("GET through the published port: %v", last)
		return ""
	}
	get()
	if cs, _ := host.ListContainers(ctx, map[string]string{}, true); containsName(cs, "pe-web") {
		t.Fatal("the host's engine lists the private engine's container")
	}
	e.restart()
	if err := e.client.StartContainer(ctx, id); err != nil {
		t.Fatalf("start after the engine's restart: %v", err)
	}
	get()
	if hostBridge != nil {
		if now, err := net.InterfaceByName("docker0"); err != nil || now.Index != hostBridge.Index {
			t.Errorf("the host engine's docker0 was removed or replaced by the private engine: %v", err)
		}
	}
}

func containsName(cs []docker.ContainerInfo, name string) bool {
	for _, c := range cs {
		if c.Name == name {
			return true
		}
	}
	return false
}
