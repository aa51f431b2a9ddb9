package routing

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthpaas/berth/internal/proxy"
)

// In a cluster every node that takes traffic runs a proxy holding the same
// routes and certificates as this node's (docs/cluster.md "Traffic"). The
// local proxy is the reference: every change goes to it first, as before,
// and its answer is the caller's; then the same change is queued for each
// other node's proxy (a peer), sent in order by one goroutine per peer,
// each call bounded by PeerTimeout. A peer that is down or slow never
// slows or fails the change: its call fails, is logged, and the peer is
// marked stale; a stale peer gets no more single changes.
//
// Every PeerResync the peers are listed again (new nodes, removed ones)
// and each is checked: its Status.RoutesHash against the hash of the
// local proxy's table as sent to peers (proxy.RoutesHash). A peer whose
// hash differs (stale, restarted from an older state, a new node, one
// that missed a change) gets the whole table (Replace) and is in step
// again. So a peer converges within one PeerResync of answering, and
// nothing else (no version numbers, no log of changes) is kept: the
// hash compares what matters, the tables.
//
// Targets the local proxy reaches on loopback (a docker-local app's
// containers publish on 127.0.0.1) are sent to peers as this node's
// address and the same port, and the local proxy relays that address's
// ports to loopback (proxy.Client.SetRelay).

// Peers lists the cluster's nodes for routing; the daemon fills it from
// the engine (the swarm's ready nodes).
type Peers interface {
	// Nodes returns this node's address and the control addresses
	// (HOST:PORT) of the other nodes' proxies; "" and none when the
	// engine is not a swarm manager.
	Nodes(ctx context.Context) (self string, peers []string, err error)
	// Dial returns the client of the proxy at addr (its certificate is
	// made at the first call).
	Dial(addr string) (PeerProxy, error)
}

// PeerProxy is another node's proxy (*proxy.Client over TCP is one).
type PeerProxy interface {
	Proxy
	Status(ctx context.Context) (proxy.Status, error)
}

// Relayer is a local proxy that relays this node's address's ports to
// its loopback targets (*proxy.Client is one).
type Relayer interface {
	SetRelay(ctx context.Context, addr string) error
}

// Defaults of PeerTimeout and PeerResync.
const (
	DefaultPeerTimeout = 2 * time.Second
	DefaultPeerResync  = 3 * time.Second
	// peerQueue is how many changes wait for a peer; a peer with more
	// is marked stale and gets the whole table at its next check.
	peerQueue = 256
)

// fanout is the Proxy the Manager uses in a cluster: the local proxy,
// and the peers kept in step with it.
type fanout struct {
	local   Proxy
	src     Peers
	timeout time.Duration
	every   time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	self    string
	peers   map[string]*peer
	relay   string // the relay address last set on the local proxy ("": none)
	lastErr string // of the last listing, logged once

	expMu    sync.Mutex
	expLocal string // the local hash the expectation was worked out from
	expSelf  string
	expHash  string
	expTable []proxy.Route

	stopMu sync.Mutex
	stop   context.CancelFunc
	done   chan struct{}
}

type peer struct {
	addr     string
	c        PeerProxy
	ops      chan peerOp
	stale    atomic.Bool // not known to hold the local table: single changes skip it
	checking atomic.Bool // a check is queued
	quit     chan struct{}
}

type peerOp struct {
	what  string
	check bool // runs on a stale peer too
	do    func(ctx context.Context, c PeerProxy) error
}

func newFanout(local Proxy, src Peers, timeout, every time.Duration, log *slog.Logger) *fanout {
	if timeout <= 0 {
		timeout = DefaultPeerTimeout
	}
	if every <= 0 {
		every = DefaultPeerResync
	}
	return &fanout{local: local, src: src, timeout: timeout, every: every, log: log, peers: map[string]*peer{}}
}

// start runs the resync loop until stop.
func (f *fanout) start() {
	f.stopMu.Lock()
	defer f.stopMu.Unlock()
	if f.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.stop, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		t := time.NewTicker(f.every)
		defer t.Stop()
		for {
			f.resync(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// close stops the loop and the peers' goroutines.
func (f *fanout) close() {
	f.stopMu.Lock()
	stop, done := f.stop, f.done
	f.stop = nil
	f.stopMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	f.mu.Lock()
	for addr, p := range f.peers {
		close(p.quit)
		delete(f.peers, addr)
	}
	f.mu.Unlock()
}

// resync lists the nodes again and queues a check of each peer.
func (f *fanout) resync(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, f.timeout)
	self, addrs, err := f.src.Nodes(lctx)
	cancel()
	f.mu.Lock()
	if err != nil {
		if ctx.Err() == nil && err.Error() != f.lastErr {
			f.log.Warn("list the cluster's nodes for their proxies: keeping the last list", "err", err)
		}
		f.lastErr = err.Error()
		f.mu.Unlock()
		return
	}
	f.lastErr = ""
	f.self = self
	for addr, p := range f.peers {
		if !slices.Contains(addrs, addr) {
			f.log.Info("node proxy left the cluster: no longer kept in step", "addr", addr)
			close(p.quit)
			delete(f.peers, addr)
		}
	}
	for _, addr := range addrs {
		if _, ok := f.peers[addr]; ok {
			continue
		}
		c, err := f.src.Dial(addr)
		if err != nil {
			f.log.Warn("node proxy: cannot make its client", "addr", addr, "err", err)
			continue
		}
		p := &peer{addr: addr, c: c, ops: make(chan peerOp, peerQueue), quit: make(chan struct{})}
		p.stale.Store(true) // until its first check
		f.peers[addr] = p
		go f.run(p)
		f.log.Info("node proxy joined: kept in step from now on", "addr", addr)
	}
	peers := f.peerList()
	relay := f.relay
	f.mu.Unlock()

	// The relay only while other nodes' proxies need it; set every time
	// then: a local proxy started anew has none until told.
	want := ""
	if len(peers) > 0 {
		want = self
	}
	if r, ok := f.local.(Relayer); ok && (want != "" || relay != "") {
		rctx, cancel := context.WithTimeout(ctx, f.timeout)
		if err := r.SetRelay(rctx, want); err != nil {
			f.log.Warn("local proxy: relay of this node's address to its loopback targets", "addr", want, "err", err)
		} else {
			f.mu.Lock()
			f.relay = want
			f.mu.Unlock()
		}
		cancel()
	}
	for _, p := range peers {
		if p.checking.CompareAndSwap(false, true) {
			f.enqueue(p, peerOp{what: "check", check: true, do: func(ctx context.Context, c PeerProxy) error {
				p.checking.Store(false)
				return f.check(ctx, p)
			}})
		}
	}
}

// peerList is the peers, under f.mu.
func (f *fanout) peerList() []*peer {
	out := make([]*peer, 0, len(f.peers))
	for _, p := range f.peers {
		out = append(out, p)
	}
	return out
}

// run sends a peer's changes in order until it leaves.
func (f *fanout) run(p *peer) {
	for {
		select {
		case <-p.quit:
			return
		case op := <-p.ops:
			if !op.check && p.stale.Load() {
				continue // its next check sends the whole table
			}
			timeout := f.timeout
			if op.check {
				timeout *= 4 // a whole table may be sent
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := op.do(ctx, p.c)
			cancel()
			if err != nil && !op.check {
				p.stale.Store(true)
				f.log.Warn("node proxy missed a change: it gets the whole table once it answers", "addr", p.addr, "change", op.what, "err", err)
			}
		}
	}
}

func (f *fanout) enqueue(p *peer, op peerOp) {
	select {
	case p.ops <- op:
	default:
		if !op.check && !p.stale.Swap(true) {
			f.log.Warn("node proxy falls behind: it gets the whole table at its next check", "addr", p.addr)
		}
		if op.check {
			p.checking.Store(false)
		}
	}
}

// each queues op for every peer.
func (f *fanout) each(what string, do func(ctx context.Context, self string, c PeerProxy) error) {
	f.mu.Lock()
	self := f.self
	peers := f.peerList()
	f.mu.Unlock()
	for _, p := range peers {
		f.enqueue(p, peerOp{what: what, do: func(ctx context.Context, c PeerProxy) error { return do(ctx, self, c) }})
	}
}

// check compares a peer's table with the local one and sends the whole
// table when they differ.
func (f *fanout) check(ctx context.Context, p *peer) error {
	st, err := p.c.Status(ctx)
	if err != nil {
		if !p.stale.Swap(true) {
			f.log.Warn("node proxy does not answer: it gets the whole table once it does", "addr", p.addr, "err", err)
		}
		return err
	}
	f.mu.Lock()
	self := f.self
	f.mu.Unlock()
	hash, table, err := f.expected(ctx, self)
	if err != nil {
		f.log.Warn("read the local proxy's table for the node proxies", "err", err)
		return err
	}
	if st.RoutesHash == hash {
		if p.stale.Swap(false) {
			f.log.Info("node proxy in step", "addr", p.addr, "routes", st.Routes)
		}
		return nil
	}
	if err := p.c.Replace(ctx, table); err != nil {
		p.stale.Store(true)
		f.log.Warn("node proxy: send the whole table", "addr", p.addr, "err", err)
		return err
	}
	p.stale.Store(false)
	f.log.Info("node proxy brought in step: sent the whole table", "addr", p.addr, "routes", len(table))
	return nil
}

// statuser is a local proxy that reports its table's hash.
type statuser interface {
	Status(ctx context.Context) (proxy.Status, error)
}

// expected is the local table as peers get it, and its hash; worked out
// again only when the local table (its hash) or this node's address
// changed.
func (f *fanout) expected(ctx context.Context, self string) (string, []proxy.Route, error) {
	localHash := ""
	if s, ok := f.local.(statuser); ok {
		st, err := s.Status(ctx)
		if err != nil {
			return "", nil, err
		}
		localHash = st.RoutesHash
	}
	f.expMu.Lock()
	defer f.expMu.Unlock()
	if localHash != "" && localHash == f.expLocal && self == f.expSelf {
		return f.expHash, f.expTable, nil
	}
	routes, err := f.local.Routes(ctx)
	if err != nil {
		return "", nil, err
	}
	table := make([]proxy.Route, len(routes))
	for i, r := range routes {
		table[i] = forPeers(r, self)
	}
	f.expLocal, f.expSelf, f.expHash, f.expTable = localHash, self, proxy.RoutesHash(table), table
	return f.expHash, table, nil
}

// forPeers is a route as the other nodes get it: targets on loopback are
// at this node's address.
func forPeers(r proxy.Route, self string) proxy.Route {
	if self == "" {
		return r
	}
	r.Targets = slices.Clone(r.Targets)
	for i, t := range r.Targets {
		r.Targets[i].Addr = peerAddr(t.Addr, self)
	}
	return r
}

// peerAddr is addr as another node reaches it.
func peerAddr(addr, self string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || self == "" {
		return addr
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return net.JoinHostPort(self, port)
	}
	return addr
}

// The Proxy methods: the local proxy's answer, then the peers.

func (f *fanout) SetRoute(ctx context.Context, r proxy.Route) error {
	if err := f.local.SetRoute(ctx, r); err != nil {
		return err
	}
	f.each("route of "+r.App, func(ctx context.Context, self string, c PeerProxy) error {
		return c.SetRoute(ctx, forPeers(r, self))
	})
	return nil
}

func (f *fanout) DeleteRoute(ctx context.Context, app string) error {
	if err := f.local.DeleteRoute(ctx, app); err != nil {
		return err
	}
	f.each("drop route of "+app, func(ctx context.Context, _ string, c PeerProxy) error {
		return c.DeleteRoute(ctx, app)
	})
	return nil
}

func (f *fanout) Replace(ctx context.Context, routes []proxy.Route) error {
	if err := f.local.Replace(ctx, routes); err != nil {
		return err
	}
	f.each("whole table", func(ctx context.Context, self string, c PeerProxy) error {
		table := make([]proxy.Route, len(routes))
		for i, r := range routes {
			table[i] = forPeers(r, self)
		}
		return c.Replace(ctx, table)
	})
	return nil
}

func (f *fanout) Routes(ctx context.Context) ([]proxy.Route, error) { return f.local.Routes(ctx) }

// Drain waits for the requests in flight to addrs on this node's proxy
// and, at the same time, on the peers in step (their requests to this
// node's containers come through the relay): the most still in flight
// anywhere. A peer that fails is logged and left out.
func (f *fanout) Drain(ctx context.Context, addrs []string, timeout time.Duration) (int, error) {
	f.mu.Lock()
	self := f.self
	peers := f.peerList()
	f.mu.Unlock()
	var mu sync.Mutex
	most := 0
	var wg sync.WaitGroup
	for _, p := range peers {
		if p.stale.Load() {
			continue
		}
		wg.Go(func() {
			pa := make([]string, len(addrs))
			for i, a := range addrs {
				pa[i] = peerAddr(a, self)
			}
			pctx, cancel := context.WithTimeout(ctx, timeout+f.timeout)
			defer cancel()
			n, err := p.c.Drain(pctx, pa, timeout)
			if err != nil {
				f.log.Warn("node proxy: drain", "addr", p.addr, "err", err)
				return
			}
			mu.Lock()
			most = max(most, n)
			mu.Unlock()
		})
	}
	n, err := f.local.Drain(ctx, addrs, timeout)
	wg.Wait()
	return max(n, most), err
}

// SetChallenge waits for the peers in step too (bounded by PeerTimeout):
// the ACME server may ask any node that the domain's DNS names. A peer
// that fails is logged; the order goes on (the validation fails only if
// the ACME server asks that node).
func (f *fanout) SetChallenge(ctx context.Context, token, keyAuth string) error {
	if err := f.local.SetChallenge(ctx, token, keyAuth); err != nil {
		return err
	}
	f.onPeersNow(ctx, "ACME challenge", func(ctx context.Context, c PeerProxy) error { return c.SetChallenge(ctx, token, keyAuth) })
	return nil
}

func (f *fanout) ClearChallenge(ctx context.Context, token string) error {
	if err := f.local.ClearChallenge(ctx, token); err != nil {
		return err
	}
	f.each("clear ACME challenge", func(ctx context.Context, _ string, c PeerProxy) error { return c.ClearChallenge(ctx, token) })
	return nil
}

func (f *fanout) SetALPNCert(ctx context.Context, name, certPEM, keyPEM string) error {
	if err := f.local.SetALPNCert(ctx, name, certPEM, keyPEM); err != nil {
		return err
	}
	f.onPeersNow(ctx, "ACME TLS-ALPN certificate", func(ctx context.Context, c PeerProxy) error { return c.SetALPNCert(ctx, name, certPEM, keyPEM) })
	return nil
}

func (f *fanout) ClearALPNCert(ctx context.Context, name string) error {
	if err := f.local.ClearALPNCert(ctx, name); err != nil {
		return err
	}
	f.each("clear ACME TLS-ALPN certificate", func(ctx context.Context, _ string, c PeerProxy) error { return c.ClearALPNCert(ctx, name) })
	return nil
}

// onPeersNow calls do on every peer in step at once and waits, each call
// bounded by PeerTimeout.
func (f *fanout) onPeersNow(ctx context.Context, what string, do func(ctx context.Context, c PeerProxy) error) {
	f.mu.Lock()
	peers := f.peerList()
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range peers {
		if p.stale.Load() {
			f.log.Warn("node proxy not in step: it does not get the "+what, "addr", p.addr)
			continue
		}
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.timeout)
			defer cancel()
			if err := do(pctx, p.c); err != nil && !errors.Is(err, context.Canceled) {
				f.log.Warn("node proxy: "+what, "addr", p.addr, "err", err)
			}
		})
	}
	wg.Wait()
}
