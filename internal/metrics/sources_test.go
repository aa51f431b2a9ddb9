package metrics

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/proxy"
)

// fakeNodes is a cluster's other nodes' proxies.
type fakeNodes struct {
	mu    sync.Mutex
	nodes map[string]Proxy
	err   error
}

func (f *fakeNodes) NodeProxies(context.Context) (map[string]Proxy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.nodes), f.err
}

// TestNodesCountForTheirApps: requests answered by another node's proxy
// count for the app; each node's restart resets its own counters only; a
// node that fails to answer keeps its last counts; a node that leaves is
// forgotten.
func TestNodesCountForTheirApps(t *testing.T) {
	t.Parallel()
	local := &fakeProxy{snap: proxy.Snapshot{Epoch: "l", Enabled: true}}
	n1 := &fakeProxy{snap: proxy.Snapshot{Epoch: "n1", Enabled: true}}
	n2 := &fakeProxy{snap: proxy.Snapshot{Epoch: "n2", Enabled: true}}
	local.count("shop", 3, 2, 10, time.Millisecond)
	n1.count("shop", 3, 2, 100, time.Millisecond)
	nodes := &fakeNodes{nodes: map[string]Proxy{"10.0.0.2": n1, "10.0.0.3": n2}}
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := New(Config{Proxy: local, Nodes: nodes, Interval: 10 * time.Second, Now: clk.now})
	c.Sample(context.Background())
	if got := c.App("shop", 60); got.Releases[0].Requests != 110 || got.Release != 3 {
		t.Fatalf("first sample, both nodes' counts in the totals: %+v", got)
	}

	step := func() api.AppMetrics {
		clk.t = clk.t.Add(10 * time.Second)
		c.Sample(context.Background())
		return c.App("shop", 60)
	}
	local.count("shop", 3, 2, 20, time.Millisecond)
	n1.count("shop", 3, 2, 30, time.Millisecond)
	n2.count("shop", 3, 5, 50, time.Millisecond)
	got := step()
	if pt := got.Points[len(got.Points)-1]; pt.RequestRate != 10 || pt.ErrorRate != 5 {
		t.Fatalf("rate over three nodes: %+v", pt)
	}
	if got.Releases[0].Requests != 210 || got.Releases[0].Status[4] != 50 {
		t.Fatalf("totals over three nodes: %+v", got.Releases)
	}

	// Node 1's proxy restarts: its count starts again at 0; the others'
	// are still subtracted from as before.
	n1.mu.Lock()
	n1.snap = proxy.Snapshot{Epoch: "n1b", Enabled: true}
	n1.mu.Unlock()
	n1.count("shop", 3, 2, 40, time.Millisecond)
	local.count("shop", 3, 2, 10, time.Millisecond)
	got = step()
	if pt := got.Points[len(got.Points)-1]; pt.RequestRate != 5 || got.Releases[0].Requests != 260 {
		t.Fatalf("after node 1's restart: %+v %+v", pt, got.Releases)
	}

	// Node 2 does not answer: no loss, no double count when it is back.
	n2.mu.Lock()
	n2.err = errors.New("unreachable")
	n2.mu.Unlock()
	n2.count("shop", 3, 2, 70, time.Millisecond)
	if got = step(); got.Releases[0].Requests != 260 {
		t.Fatalf("node 2 unreachable: %+v", got.Releases)
	}
	n2.mu.Lock()
	n2.err = nil
	n2.mu.Unlock()
	if got = step(); got.Releases[0].Requests != 330 {
		t.Fatalf("node 2 back: %+v", got.Releases)
	}

	// Node 2 leaves the cluster: forgotten; the listing failing forgets
	// nobody.
	nodes.mu.Lock()
	delete(nodes.nodes, "10.0.0.3")
	nodes.mu.Unlock()
	step()
	c.mu.Lock()
	_, kept := c.sources["10.0.0.3"]
	c.mu.Unlock()
	if kept {
		t.Fatal("a node that left is still a source")
	}
	nodes.mu.Lock()
	nodes.err = errors.New("swarm not ready")
	nodes.mu.Unlock()
	step()
	c.mu.Lock()
	n := len(c.sources)
	c.mu.Unlock()
	if n != 2 {
		t.Fatalf("sources after a failed listing: %d, want 2 (this node, node 1)", n)
	}
}
