package swarmtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// SSHD is the path of OpenSSH's server.
const SSHD = "/usr/sbin/sshd"

// StartSSHD runs an OpenSSH server in the node's network namespace,
// listening on ADDR:22, that lets root in with the keys in authorizedKeys
// (for `scheduler-swarm:cluster-add ssh://root@ADDR`). It returns
// "ADDR:22". Only the network is the node's: a session sees the host's
// files and processes, so sshd sets DOCKER_HOST (the docker command talks
// to the node's daemon) and BERTH_NODE_DIR (NodeDir: where cluster-add
// installs Berth's node part, instead of the host's /var/lib/berth-node)
// in every session. The rig's cleanup stops it, and the node part left
// running in NodeDir.
func (n *Node) StartSSHD(authorizedKeys string) (string, error) {
	if _, err := os.Stat(SSHD); err != nil {
		return "", fmt.Errorf("node %d: no %s (install openssh-server)", n.Index, SSHD)
	}
	// sshd's privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return "", err
	}
	dir := filepath.Join(n.Dir, "sshd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	hostKey := filepath.Join(dir, "host_key")
	if _, err := os.Stat(hostKey); err != nil {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
			return "", fmt.Errorf("node %d: ssh-keygen: %v: %s", n.Index, err, out)
		}
	}
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `ListenAddress %s:22
HostKey %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile %s
X11Forwarding no
SetEnv DOCKER_HOST=%s BERTH_NODE_DIR=%s
`, n.Addr, hostKey, authorizedKeys, filepath.Join(n.Dir, "sshd.pid"), n.Host, n.NodeDir()), 0o600); err != nil {
		return "", err
	}
	cmd := exec.Command("nsenter", "--net=/var/run/netns/"+n.NS, SSHD, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = n.log, n.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("node %d: start sshd: %v", n.Index, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	n.mu.Lock()
	n.sshd, n.sshdDone = cmd, done
	n.mu.Unlock()
	addr := n.Addr + ":22"
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, nil
		}
		select {
		case err := <-done:
			return "", fmt.Errorf("node %d: sshd exited: %v\n%s", n.Index, err, n.log.tail(2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stopSSHD()
			return "", fmt.Errorf("node %d: sshd does not answer on %s: %v", n.Index, addr, err)
		}
	}
}

// NodeDir is where a session on the node (StartSSHD) is told Berth's node
// part lives (BERTH_NODE_DIR): NODEDIR/berth-node.
func (n *Node) NodeDir() string { return filepath.Join(n.Dir, "berth-node") }

// stopSSHD stops the node's sshd, if started.
func (n *Node) stopSSHD() {
	n.mu.Lock()
	cmd, done := n.sshd, n.sshdDone
	n.sshd, n.sshdDone = nil, nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}
