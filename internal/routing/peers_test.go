package routing

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/proxy"
)

// peerFake is a node's proxy: a fakeProxy that reports its table's hash
// and can be stopped (every call fails) or slowed.
type peerFake struct {
	*fakeProxy
	slow atomic.Int64 // a time.Duration
}

func (p *peerFake) Status(ctx context.Context) (proxy.Status, error) {
	routes, err := p.Routes(ctx)
	if err != nil {
		return proxy.Status{}, err
	}
	return proxy.Status{Routes: len(routes), RoutesHash: proxy.RoutesHash(routes)}, nil
}

func (p *peerFake) SetRoute(ctx context.Context, r proxy.Route) error {
	if d := time.Duration(p.slow.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p.fakeProxy.SetRoute(ctx, r)
}

func (p *peerFake) down(err error) {
	p.mu.Lock()
	p.fail = err
	p.mu.Unlock()
}

// fakePeers lists the peers and dials them.
type fakePeers struct {
	mu    sync.Mutex
	self  string
	addrs []string
	nodes map[string]*peerFake
}

func (f *fakePeers) Nodes(context.Context) (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.self, slices.Clone(f.addrs), nil
}

func (f *fakePeers) Dial(addr string) (PeerProxy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes[addr], nil
}

func newTestFanout(t *testing.T, peers ...string) (*fanout, *fakeProxy, *fakePeers) {
	local := newFakeProxy()
	src := &fakePeers{self: "10.0.0.1", addrs: peers, nodes: map[string]*peerFake{}}
	for _, a := range peers {
		src.nodes[a] = &peerFake{fakeProxy: newFakeProxy()}
	}
	f := newFanout(local, src, 200*time.Millisecond, 50*time.Millisecond, slog.New(slog.NewTextHandler(t.Output(), nil)))
	f.start()
	t.Cleanup(f.close)
	return f, local, src
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sameTable(a, b *fakeProxy, self string) bool {
	ra, _ := a.Routes(context.Background())
	rb, err := b.Routes(context.Background())
	if err != nil {
		return false
	}
	for i := range ra {
		ra[i] = forPeers(ra[i], self)
	}
	return proxy.RoutesHash(ra) == proxy.RoutesHash(rb)
}

// TestFanoutKeepsPeersInStep: a route set, a route dropped and a
// challenge reach every peer, with loopback targets at this node's
// address; a peer that was down gets the whole table once it answers;
// a slow peer does not slow the change.
func TestFanoutKeepsPeersInStep(t *testing.T) {
	t.Parallel()
	f, local, src := newTestFanout(t, "10.0.0.2:7950", "10.0.0.3:7950")
	n2, n3 := src.nodes["10.0.0.2:7950"], src.nodes["10.0.0.3:7950"]
	ctx := context.Background()
	waitFor(t, "the peers are checked", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.peers) == 2 && !f.peers["10.0.0.2:7950"].stale.Load() && !f.peers["10.0.0.3:7950"].stale.Load()
	})
	shop := proxy.Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []proxy.Target{{Addr: "127.0.0.1:32768"}, {Addr: "10.0.0.3:30001"}}}
	if err := f.SetRoute(ctx, shop); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node 2 has the route", func() bool { _, ok := n2.route("shop"); return ok })
	r, _ := n2.route("shop")
	if r.Targets[0].Addr != "10.0.0.1:32768" || r.Targets[1].Addr != "10.0.0.3:30001" {
		t.Fatalf("node 2's targets %v: want the loopback one at this node's address, the other as it was", r.Targets)
	}
	if lr, _ := local.route("shop"); lr.Targets[0].Addr != "127.0.0.1:32768" {
		t.Fatalf("the local proxy's target was rewritten: %v", lr.Targets)
	}
	if err := f.SetChallenge(ctx, "tok", "tok.thumb"); err != nil {
		t.Fatal(err)
	}
	n3.mu.Lock()
	got := n3.challenges["tok"]
	n3.mu.Unlock()
	if got != "tok.thumb" {
		t.Fatalf("SetChallenge returned before node 3 had the challenge (%q)", got)
	}

	// Node 3 down: changes go on, node 3 catches up when back.
	n3.down(errors.New("connection refused"))
	blog := proxy.Route{App: "blog", Hosts: []string{"blog.test"}}
	if err := f.SetRoute(ctx, blog); err != nil {
		t.Fatalf("a change failed with a peer down: %v", err)
	}
	if err := f.DeleteRoute(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node 2 follows", func() bool { return sameTable(local, n2.fakeProxy, "10.0.0.1") })
	time.Sleep(150 * time.Millisecond) // a few checks fail meanwhile
	n3.down(nil)
	waitFor(t, "node 3 back in step", func() bool { return sameTable(local, n3.fakeProxy, "10.0.0.1") })

	// A slow peer: the change returns at once.
	n2.slow.Store(int64(time.Second))
	start := time.Now()
	if err := f.SetRoute(ctx, proxy.Route{App: "slow", Hosts: []string{"slow.test"}}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("a change took %s with a slow peer", d)
	}
	n2.slow.Store(0)
	waitFor(t, "node 2 back in step after its timeout", func() bool { return sameTable(local, n2.fakeProxy, "10.0.0.1") })
}

// TestFanoutNewNodeAndLeaving: a node that joins gets the whole table; one
// that leaves is no longer sent anything.
func TestFanoutNewNodeAndLeaving(t *testing.T) {
	t.Parallel()
	f, local, src := newTestFanout(t)
	ctx := context.Background()
	if err := f.SetRoute(ctx, proxy.Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []proxy.Target{{Addr: "127.0.0.1:1234"}}}); err != nil {
		t.Fatal(err)
	}
	n4 := &peerFake{fakeProxy: newFakeProxy()}
	src.mu.Lock()
	src.nodes["10.0.0.4:7950"] = n4
	src.addrs = []string{"10.0.0.4:7950"}
	src.mu.Unlock()
	waitFor(t, "the new node has the table", func() bool { return sameTable(local, n4.fakeProxy, "10.0.0.1") })
	src.mu.Lock()
	src.addrs = nil
	src.mu.Unlock()
	waitFor(t, "the node left", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.peers) == 0 })
	if err := f.SetRoute(ctx, proxy.Route{App: "blog", Hosts: []string{"blog.test"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, ok := n4.route("blog"); ok {
		t.Fatal("a node that left still gets changes")
	}
}

// TestFanoutLocalFailure: a change the local proxy refuses is not sent to
// the peers, and its error is the caller's.
func TestFanoutLocalFailure(t *testing.T) {
	t.Parallel()
	f, local, src := newTestFanout(t, "10.0.0.2:7950")
	n2 := src.nodes["10.0.0.2:7950"]
	waitFor(t, "the peer is checked", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		p := f.peers["10.0.0.2:7950"]
		return p != nil && !p.stale.Load()
	})
	local.mu.Lock()
	local.fail = proxy.ErrHostConflict
	local.mu.Unlock()
	if err := f.SetRoute(context.Background(), proxy.Route{App: "x", Hosts: []string{"x.test"}}); !errors.Is(err, proxy.ErrHostConflict) {
		t.Fatalf("SetRoute: %v, want the local proxy's error", err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, ok := n2.route("x"); ok {
		t.Fatal("a change the local proxy refused reached a peer")
	}
}

func TestPeerAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:80":    "10.0.0.1:80",
		"[::1]:80":        "10.0.0.1:80",
		"localhost:8080":  "10.0.0.1:8080",
		"10.0.0.3:30001":  "10.0.0.3:30001",
		"not an address":  "not an address",
		"172.17.0.2:5000": "172.17.0.2:5000",
	} {
		if got := peerAddr(in, "10.0.0.1"); got != want {
			t.Errorf("peerAddr(%q) = %q, want %q", in, got, want)
		}
	}
	if got := peerAddr("127.0.0.1:80", ""); got != "127.0.0.1:80" {
		t.Errorf("outside a cluster: %q", got)
	}
}

// relayFake is a local proxy that records its relay address.
type relayFake struct {
	*fakeProxy
	relay atomic.Value // string
}

func (p *relayFake) SetRelay(_ context.Context, addr string) error {
	p.relay.Store(addr)
	return nil
}

// TestFanoutRelay: the local proxy relays this node's address while other
// nodes' proxies need it, and stops when none is left.
func TestFanoutRelay(t *testing.T) {
	t.Parallel()
	local := &relayFake{fakeProxy: newFakeProxy()}
	src := &fakePeers{self: "10.0.0.1", addrs: []string{"10.0.0.2:7950"}, nodes: map[string]*peerFake{"10.0.0.2:7950": {fakeProxy: newFakeProxy()}}}
	f := newFanout(local, src, 200*time.Millisecond, 50*time.Millisecond, slog.New(slog.DiscardHandler))
	f.start()
	defer f.close()
	waitFor(t, "the relay is set", func() bool { v, _ := local.relay.Load().(string); return v == "10.0.0.1" })
	src.mu.Lock()
	src.addrs = nil
	src.mu.Unlock()
	waitFor(t, "the relay is off", func() bool { v, _ := local.relay.Load().(string); return v == "" })
}
