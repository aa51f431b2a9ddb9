package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/cluster"
	"github.com/berthpaas/berth/internal/deploy"
)

// fakeNodeSSH answers the reachability check with err, and runs the
// session's line locally with sh.
type fakeNodeSSH struct {
	err   error
	lines []string
}

func (f *fakeNodeSSH) Run(_ context.Context, _ cluster.Target, command string, _ io.Reader) (string, error) {
	return "", f.err
}

func (f *fakeNodeSSH) Command(ctx context.Context, _ cluster.Target, command string, _ bool) (*exec.Cmd, error) {
	f.lines = append(f.lines, command)
	return exec.CommandContext(ctx, "sh", "-c", "cat; echo ran; exit 4"), nil
}

func TestNodeShell(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nodes.json"), []byte(`{"n2": {"ssh": "ssh://root@10.0.0.2:22"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ssh := &fakeNodeSSH{}
	n := nodeShell{dir: dir, ssh: ssh}
	var out bytes.Buffer
	code, err := n.Run(context.Background(), "n2", "docker exec -i C sh", false, deploy.Streams{Stdin: strings.NewReader("typed\n"), Stdout: &out})
	if err != nil || code != 4 || out.String() != "typed\nran\n" || len(ssh.lines) != 1 || ssh.lines[0] != "docker exec -i C sh" {
		t.Fatalf("Run = %d, %v, output %q, lines %q; want exit 4, the input echoed, the line run", code, err, out.String(), ssh.lines)
	}
	// No record of the node: deploy says what to run there.
	if _, err := n.Run(context.Background(), "n3", "true", false, deploy.Streams{}); !errors.Is(err, deploy.ErrNoNodeShell) {
		t.Fatalf("a node without a record: %v, want ErrNoNodeShell", err)
	}
	// Unreachable: ssh's reason, and nothing run.
	ssh.err = &cluster.SSHError{Target: cluster.Target{User: "root", Host: "10.0.0.2", Port: 22}, Detail: "Connection timed out"}
	if _, err := n.Run(context.Background(), "n2", "true", false, deploy.Streams{}); err == nil || !strings.Contains(err.Error(), "cannot reach 10.0.0.2 over ssh") || len(ssh.lines) != 1 {
		t.Fatalf("an unreachable node: %v (lines run %q)", err, ssh.lines)
	}
}
