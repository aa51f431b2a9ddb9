package e2e

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/registry"
	"github.com/berthpaas/berth/internal/swarmtest"
)

// What every Swarm test sets up the same way: its steps' timings, the
// berth CLI of a Berth on a rig node, and the node parts (a node's
// proxy with the cluster's TLS files, as cluster-add leaves them).

// stepper returns a function logging a step with the seconds since the
// test began (go test -v shows them).
func stepper(t *testing.T) func(what string) {
	began := time.Now()
	return func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
}

// rigCLI runs berth against a Berth on a rig node, for one test.
type rigCLI struct {
	t   *testing.T
	ctx context.Context
	b   *swarmtest.Berth
	// verbose logs each command with its time and output.
	verbose bool
}

func newRigCLI(t *testing.T, ctx context.Context, b *swarmtest.Berth) *rigCLI {
	return &rigCLI{t: t, ctx: ctx, b: b}
}

// run runs a command and returns its output and exit code; the test
// fails if it could not run at all.
func (c *rigCLI) run(stdin io.Reader, args ...string) (string, int) {
	c.t.Helper()
	began := time.Now()
	out, code, err := c.b.Run(c.ctx, stdin, args...)
	if c.verbose {
		c.t.Logf("berth %s (%s):\n%s", strings.Join(args, " "), time.Since(began).Round(time.Millisecond), out)
	}
	if err != nil {
		c.t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out, code
}

// must runs a command that must succeed; on failure the test stops with
// its output and the daemon's log.
func (c *rigCLI) must(stdin io.Reader, args ...string) string {
	c.t.Helper()
	out, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("berth %s: exit %d\n%s\n--- daemon log:\n%s", strings.Join(args, " "), code, out, c.b.Log())
	}
	return out
}

// startNodeParts starts Berth's node part (its proxy) on each node, with
// TLS files of the cluster's CA kept in manager's data dir, as
// cluster-add writes them: NODEDIR/tls/{ca.crt,node.crt,node.key}.
func startNodeParts(t *testing.T, rig *swarmtest.Rig, manager *swarmtest.Node, nodes ...*swarmtest.Node) (*registry.CA, []*swarmtest.NodeProxy) {
	t.Helper()
	ca, err := registry.LoadOrCreateCA(filepath.Join(manager.Dir, "berth", "registry"))
	if err != nil {
		t.Fatal(err)
	}
	var parts []*swarmtest.NodeProxy
	for _, n := range nodes {
		dir := filepath.Join(n.Dir, "tls")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca.PEM, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := ca.IssueServer(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key"), n.Addr); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, rig.NodeProxy(t, n, filepath.Join(binDir, "berth"), dir))
	}
	return ca, parts
}
