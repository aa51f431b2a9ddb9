package swarmtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// Node is one Docker daemon of a rig, in its own network namespace.
type Node struct {
	rig   *Rig
	Index int    // 1-based
	NS    string // network namespace (bswK-nI)
	Addr  string // its address on the cluster network (10.231.K.I)
	Dir   string // data root, exec root, socket, pid file
	Host  string // unix://DIR/docker.sock, for DOCKER_HOST or docker -H
	ID    string // its swarm node ID once joined

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan error
	client *client.Client
	log    *lockedBuf

	sshd     *exec.Cmd
	sshdDone chan error
}

// startTimeout bounds one dockerd start; stopTimeout one stop.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 20 * time.Second
)

// Client is the Engine API client of the node's daemon (nil while stopped).
func (n *Node) Client() *client.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.client
}

// Log is the tail of the daemon's output.
func (n *Node) Log() string { return n.log.tail(8000) }

// Docker runs the docker CLI against the node and returns its combined
// output.
func (n *Node) Docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", n.Host}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(n.Dir, "cli"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("node %d: docker %s: %v: %s", n.Index, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Start starts the node's dockerd in its namespace and waits until it
// answers (bounded by ctx and startTimeout).
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		return fmt.Errorf("node %d: already running", n.Index)
	}
	cmd := exec.Command("nsenter", "--net=/var/run/netns/"+n.NS, "dockerd",
		"--data-root", filepath.Join(n.Dir, "data"),
		"--exec-root", filepath.Join(n.Dir, "exec"),
		"-H", n.Host,
		"--pidfile", filepath.Join(n.Dir, "docker.pid"),
		"--bip", fmt.Sprintf("172.31.%d.1/24", n.Index),
		"--containerd-namespace", n.NS,
		"--containerd-plugins-namespace", n.NS+"-plugins",
		"--shutdown-timeout", "3",
		// Never the host's configuration file (/etc/docker/daemon.json).
		"--config-file", filepath.Join(n.Dir, "daemon.json"),
	)
	if err := os.WriteFile(filepath.Join(n.Dir, "daemon.json"), []byte("{}\n"), 0o600); err != nil {
		n.mu.Unlock()
		return err
	}
	cmd.Stdout, cmd.Stderr = n.log, n.log
	// Its own process group: a signal to the test's group does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		return fmt.Errorf("node %d: start dockerd: %v", n.Index, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	var last error
	for {
		c, err := client.New(client.WithHost(n.Host))
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
			cancel()
			if err == nil {
				n.mu.Lock()
				n.client = c
				n.mu.Unlock()
				return nil
			}
			_ = c.Close()
		}
		last = err
		select {
		case err := <-done:
			n.mu.Lock()
			n.cmd = nil
			n.mu.Unlock()
			return fmt.Errorf("node %d: dockerd exited at start: %v\n%s", n.Index, err, n.log.tail(3000))
		case <-ctx.Done():
			return fmt.Errorf("node %d: dockerd did not answer: %v (last: %v)\n%s", n.Index, ctx.Err(), last, n.log.tail(3000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d: dockerd did not answer within %s: %v\n%s", n.Index, startTimeout, last, n.log.tail(3000))
		}
	}
}

// Stop stops the node's dockerd with SIGTERM (its containers stop, as on
// a host shutdown), killing it after stopTimeout. The node stays in the
// swarm: the managers see it go down.
func (n *Node) Stop() error { return n.stop(syscall.SIGTERM) }

// Kill stops the node's dockerd with SIGKILL (a crash; its containerd and
// containers keep running until cleanup).
func (n *Node) Kill() error { return n.stop(syscall.SIGKILL) }

func (n *Node) stop(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.client != nil {
		_ = n.client.Close()
		n.client = nil
	}
	if n.cmd == nil {
		return nil
	}
	cmd, done := n.cmd, n.done
	n.cmd = nil
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
		return errors.New("node " + fmt.Sprint(n.Index) + ": dockerd did not stop within " + stopTimeout.String() + "; killed")
	}
}

// Disconnect takes the node off the cluster network (its veth's host end
// goes down), as a crashed machine or a cut cable looks to the others:
// its daemon and containers keep running, unreachable. Reconnect undoes it.
func (n *Node) Disconnect() error {
	return run("ip", "link", "set", fmt.Sprintf("%s-v%d", n.rig.Bridge, n.Index), "down")
}

// Reconnect puts a disconnected node back on the cluster network.
func (n *Node) Reconnect() error {
	return run("ip", "link", "set", fmt.Sprintf("%s-v%d", n.rig.Bridge, n.Index), "up")
}
