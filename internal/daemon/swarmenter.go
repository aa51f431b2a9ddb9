package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	"github.com/berthpaas/berth/internal/cluster"
	"github.com/berthpaas/berth/internal/deploy"
)

// nodeShell is enter's way to a task on another node of the swarm
// (deploy.NodeShell): the ssh cluster-add set up, with the same key and
// known hosts (DATA/cluster) and the node's recorded ssh:// target.
type nodeShell struct {
	dir string // DATA/cluster
	ssh interface {
		Run(ctx context.Context, t cluster.Target, command string, stdin io.Reader) (string, error)
		Command(ctx context.Context, t cluster.Target, command string, tty bool) (*exec.Cmd, error)
	}
}

func newNodeShell(dataDir string) nodeShell {
	dir := filepath.Join(dataDir, "cluster")
	return nodeShell{dir: dir, ssh: &cluster.OpenSSH{KeyFile: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}}
}

var _ deploy.NodeShell = nodeShell{}

// Run implements deploy.NodeShell.
func (n nodeShell) Run(ctx context.Context, nodeID, line string, tty bool, s deploy.Streams) (int, error) {
	t, ok, err := cluster.NodeTarget(n.dir, nodeID)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, deploy.ErrNoNodeShell
	}
	// Reach the node first: a failure after is the command's, not ssh's.
	if _, err := n.ssh.Run(ctx, t, "docker version --format '{{.Server.Version}}' >/dev/null", nil); err != nil {
		var re *cluster.RemoteError
		if errors.As(err, &re) {
			return 0, fmt.Errorf("its engine does not answer over ssh %s: %v", t, err)
		}
		return 0, err
	}
	cmd, err := n.ssh.Command(ctx, t, line, tty)
	if err != nil {
		return 0, err
	}
	cmd.Stdout, cmd.Stderr = s.Stdout, s.Stderr
	if s.Stdin != nil {
		// A pipe fed here, not cmd.Stdin: Wait must not wait for the
		// session's input to end once the command has.
		in, err := cmd.StdinPipe()
		if err != nil {
			return 0, err
		}
		go func() {
			io.Copy(in, s.Stdin)
			in.Close()
		}()
	}
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}
