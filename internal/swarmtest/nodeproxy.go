package swarmtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// NodeProxy is Berth's node part on a rig node, started as
// scheduler-swarm:cluster-add starts it on a server: `berth serve-proxy`
// in the node's network namespace (nsenter --net), its data dir
// NODEDIR/nodepart, listening on :80 and :443 of the node, with its
// control API over TCP with mutual TLS at ADDR:7950
// (BERTH_PROXY_CONTROL_ADDR, BERTH_PROXY_CONTROL_TLS_DIR).
type NodeProxy struct {
	Node    *Node
	Bin     string
	TLSDir  string // ca.crt, node.crt, node.key
	DataDir string // NODEDIR/nodepart
	// ControlAddr is ADDR:7950; HTTPAddr ADDR:80, HTTPSAddr ADDR:443.
	ControlAddr, HTTPAddr, HTTPSAddr string

	cmd  *exec.Cmd
	done chan error
	log  *lockedBuf
}

// nodeProxyStartTimeout bounds a node part's start.
const nodeProxyStartTimeout = 15 * time.Second

// NodeProxy starts the node part on n (see [NodeProxy]) and waits until
// its HTTP port and control port accept connections from the host.
// t.Cleanup stops it (a crashed run's is killed by the next claim of the
// slot).
func (r *Rig) NodeProxy(t testing.TB, n *Node, bin, tlsDir string) *NodeProxy {
	t.Helper()
	p := &NodeProxy{Node: n, Bin: bin, TLSDir: tlsDir, DataDir: filepath.Join(n.Dir, "nodepart"),
		ControlAddr: n.Addr + ":7950", HTTPAddr: n.Addr + ":80", HTTPSAddr: n.Addr + ":443", log: &lockedBuf{}}
	if err := os.MkdirAll(p.DataDir, 0o700); err != nil {
		t.Fatalf("swarmtest: %v", err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("swarmtest: node part of node %d (tail):\n%s", n.Index, p.log.tail(4000))
		}
	})
	if err := p.Start(); err != nil {
		t.Fatalf("swarmtest: node %d: %v", n.Index, err)
	}
	return p
}

// Start starts the node part again (after Stop); it keeps its data dir,
// so it serves its last routes at once.
func (p *NodeProxy) Start() error {
	if p.cmd != nil {
		return fmt.Errorf("the node part runs already")
	}
	cmd := exec.Command("nsenter", "--net=/var/run/netns/"+p.Node.NS, p.Bin, "serve-proxy")
	cmd.Env = append(cleanEnv(os.Environ()),
		"BERTH_DATA_DIR="+p.DataDir,
		"BERTH_HTTP_ADDR=:80",
		"BERTH_HTTPS_ADDR=:443",
		"BERTH_PROXY_CONTROL_ADDR="+p.ControlAddr,
		"BERTH_PROXY_CONTROL_TLS_DIR="+p.TLSDir,
	)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start berth serve-proxy: %v", err)
	}
	p.cmd, p.done = cmd, make(chan error, 1)
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(nodeProxyStartTimeout)
	for {
		if up(p.HTTPAddr) && up(p.ControlAddr) {
			return nil
		}
		select {
		case err := <-p.done:
			p.cmd = nil
			return fmt.Errorf("berth serve-proxy exited at start: %v\n%s", err, p.log.tail(2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return fmt.Errorf("berth serve-proxy did not listen on %s and %s within %s\n%s", p.HTTPAddr, p.ControlAddr, nodeProxyStartTimeout, p.log.tail(2000))
		}
	}
}

func up(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// Stop stops the node part (SIGTERM, SIGKILL after 10 s).
func (p *NodeProxy) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// Log is the tail of the node part's output.
func (p *NodeProxy) Log() string { return p.log.tail(8000) }
