package swarmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Berth is a real Berth daemon running on a node as on a user's server:
// `berth serve` in the node's network namespace (nsenter --net), talking
// to that node's dockerd (DOCKER_HOST), with the proxy it starts in the
// same namespace, listening on every address of the node (:80, :443), so
// a client on the host reaches it at the node's address. Only the network
// is the node's: the data dir and the control socket are files on the
// host (under the node's directory), and the CLI reaches the daemon from
// the host through the socket, entering no namespace.
type Berth struct {
	Node    *Node
	Bin     string   // the berth binary
	DataDir string   // NODEDIR/berth
	Socket  string   // DATADIR/berth.sock
	Env     []string // the daemon's environment, also given to Run
	// ProxyAddr is where the host reaches the proxy: ADDR:80.
	ProxyAddr string
	// SSHAddr is the built-in ssh server: ADDR:2222.
	SSHAddr string

	cmd  *exec.Cmd
	done chan error
	log  *lockedBuf
}

// BerthOptions shape a node's Berth.
type BerthOptions struct {
	Bin string   // the berth binary (required)
	Env []string // more settings (NAME=value), after the defaults
}

// berthStartTimeout bounds `berth serve` until it answers with its proxy up.
const berthStartTimeout = 30 * time.Second

// Berth starts a Berth daemon on node n (see [Berth]) and waits until it
// answers through `berth version` with its proxy reachable from the host
// at n.Addr:80. t.Cleanup stops the daemon and its proxy (which outlives
// the daemon by design) before the rig goes; a crashed run's are killed
// by the next claim of the slot (cleanSlot).
//
// The settings it is given (opts.Env may override them): BERTH_DATA_DIR,
// DOCKER_HOST=n.Host, the proxy on :80 and :443 and ssh on :2222 (inside
// the namespace, so they clash with nothing on the host), and
// BERTH_OPENSSH=off: the namespace shares the host's files, users and
// /etc, and OpenSSH mode would create system users on the host.
func (r *Rig) Berth(t testing.TB, n *Node, opts BerthOptions) *Berth {
	t.Helper()
	if opts.Bin == "" {
		t.Fatal("swarmtest: Berth needs the berth binary (BerthOptions.Bin)")
	}
	b := &Berth{
		Node:      n,
		Bin:       opts.Bin,
		DataDir:   filepath.Join(n.Dir, "berth"),
		ProxyAddr: n.Addr + ":80",
		SSHAddr:   n.Addr + ":2222",
		log:       &lockedBuf{},
		done:      make(chan error, 1),
	}
	b.Socket = filepath.Join(b.DataDir, "berth.sock")
	if err := os.MkdirAll(b.DataDir, 0o700); err != nil {
		t.Fatalf("swarmtest: %v", err)
	}
	b.Env = append(cleanEnv(os.Environ()),
		"BERTH_DATA_DIR="+b.DataDir,
		"DOCKER_HOST="+n.Host,
		"BERTH_HTTP_ADDR=:80",
		"BERTH_HTTPS_ADDR=:443",
		"BERTH_SSH_ADDR=:2222",
		"BERTH_OPENSSH=off",
	)
	b.Env = append(b.Env, opts.Env...)
	// --data-dir on the command line too: cleanSlot recognises the
	// process by it.
	b.cmd = exec.Command("nsenter", "--net=/var/run/netns/"+n.NS, b.Bin, "serve", "--data-dir", b.DataDir)
	b.cmd.Env = b.Env
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("swarmtest: berth serve log of node %d (tail):\n%s", n.Index, b.log.tail(6000))
			if pl, err := os.ReadFile(filepath.Join(b.DataDir, "proxy.log")); err == nil {
				t.Logf("swarmtest: proxy log of node %d (tail):\n%s", n.Index, pl[max(0, len(pl)-3000):])
			}
		}
	})
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("swarmtest: node %d: start berth serve: %v", n.Index, err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	if err := b.wait(); err != nil {
		t.Fatalf("swarmtest: node %d: %v\n%s", n.Index, err, b.log.tail(4000))
	}
	return b
}

// cleanEnv drops the settings of the test's own environment that would
// point the node's daemon elsewhere.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "BERTH_") || strings.HasPrefix(k, "DOCKER_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// wait polls `berth version` until the daemon started here answers, then
// the proxy's port at the node's address.
func (b *Berth) wait() error {
	deadline := time.Now().Add(berthStartTimeout)
	want := fmt.Sprintf("(pid %d,", b.cmd.Process.Pid)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		out, _, _ := b.Run(ctx, nil, "version")
		cancel()
		last = out
		if strings.Contains(out, want) {
			if !strings.Contains(out, "proxy on ") {
				return fmt.Errorf("berth serve answers but reports no proxy:\n%s", out)
			}
			c, err := net.DialTimeout("tcp", b.ProxyAddr, time.Second)
			if err == nil {
				c.Close()
				return nil
			}
			last = err.Error()
		}
		select {
		case err := <-b.done:
			b.done <- err
			return fmt.Errorf("berth serve exited at start: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("berth serve did not answer (or its proxy at %s) within %s: %s", b.ProxyAddr, berthStartTimeout, last)
		}
	}
}

// Run runs the berth CLI on the host against this daemon (its socket),
// with stdin, and returns its combined output and exit code; err is set
// when it could not run at all or ctx ended.
func (b *Berth) Run(ctx context.Context, stdin io.Reader, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, b.Bin, args...)
	cmd.Env = b.Env
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return string(out), ee.ExitCode(), nil
	}
	if err != nil {
		return string(out), -1, err
	}
	return string(out), 0, nil
}

// Log is the tail of the daemon's output.
func (b *Berth) Log() string { return b.log.tail(8000) }

// stop stops the daemon (SIGTERM, SIGKILL after 20 s), then its proxy.
func (b *Berth) stop() {
	b.StopDaemon()
	killBerthProxy(b.DataDir)
}

// StopDaemon stops `berth serve` (SIGTERM, SIGKILL after 20 s) and leaves
// its proxy serving, as on a server whose daemon stopped.
func (b *Berth) StopDaemon() {
	if b.cmd.Process != nil {
		select {
		case err := <-b.done:
			b.done <- err
		default:
			_ = b.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-b.done:
				b.done <- err
			case <-time.After(stopTimeout):
				_ = b.cmd.Process.Kill()
			}
		}
	}
}

// killBerthProxy kills the proxy a daemon on dataDir started, if its pid
// file names a process whose environment has that data dir (the proxy's
// command line is only `berth serve-proxy`).
func killBerthProxy(dataDir string) {
	raw, err := os.ReadFile(filepath.Join(dataDir, "proxy.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		return
	}
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if bytes.Contains(env, []byte("BERTH_DATA_DIR="+dataDir+"\x00")) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// LoadImages copies images from the engine at from (unix://… or the
// host's) into the node's daemon (docker save | docker load): the nodes
// have no registry to pull from.
func (n *Node) LoadImages(ctx context.Context, from string, images ...string) error {
	for _, image := range images {
		save := exec.CommandContext(ctx, "docker", "-H", from, "save", image)
		load := exec.CommandContext(ctx, "docker", "-H", n.Host, "load", "-q")
		load.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(n.Dir, "cli"))
		pipe, err := save.StdoutPipe()
		if err != nil {
			return err
		}
		var saveErr bytes.Buffer
		save.Stderr = &saveErr
		load.Stdin = pipe
		if err := save.Start(); err != nil {
			return err
		}
		out, lerr := load.CombinedOutput()
		serr := save.Wait()
		if serr != nil || lerr != nil {
			return fmt.Errorf("node %d: copy image %s: save: %v %s; load: %v %s", n.Index, image, serr, bytes.TrimSpace(saveErr.Bytes()), lerr, bytes.TrimSpace(out))
		}
	}
	return nil
}
