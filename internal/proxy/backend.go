package proxy

import (
	"net/http"
	"sync/atomic"
)

// backend is what the proxy knows about one target address: requests in
// flight and, with liveness checks, its health. Every table that lists the
// address shares one backend, and a backend outlives its last table while
// requests to it are in flight, so Drain can wait for them.
//
// Each backend has its own connection pool: when it is forgotten its idle
// connections are closed, and a new container that gets the same port
// later never receives a connection opened to the old one.
type backend struct {
	addr     string
	tr       *http.Transport
	pool     connPool     // the fast path's idle connections (fastpath.go)
	fastSent atomic.Int64 // requests the fast path sent (tests)
	inflight atomic.Int64
	probe    atomic.Pointer[prober] // nil: not checked, counts as healthy
}

// closeIdle closes the idle connections of both pools; the fast path's
// stays closed: a connection handed back later is closed.
func (b *backend) closeIdle() {
	b.tr.CloseIdleConnections()
	b.pool.close()
}

func (b *backend) healthy() bool {
	p := b.probe.Load()
	return p == nil || p.healthy.Load()
}

// roundRobin is where a route's next pick starts scanning, so that ties
// between targets rotate.
type roundRobin struct{ n atomic.Uint32 }

// pick returns the index of the target a request should go to, or -1 if
// the route has none (besides skip). It prefers healthy targets, then the
// fewest requests in flight; ties go round robin. Unhealthy targets are used
// only when no healthy one is left: better than nothing.
func (rt *route) pick(skip string) int {
	n := len(rt.targets)
	switch {
	case n == 0:
		return -1
	case n == 1:
		if rt.targets[0].addr == skip {
			return -1
		}
		return 0
	}
	start := int(rt.next.n.Add(1) % uint32(n))
	best, bestLoad, bestHealthy := -1, int64(0), false
	for k := range n {
		i := start + k
		if i >= n {
			i -= n
		}
		b := rt.targets[i]
		if b.addr == skip {
			continue
		}
		h, load := b.healthy(), b.inflight.Load()
		if best < 0 || h && !bestHealthy || h == bestHealthy && load < bestLoad {
			best, bestLoad, bestHealthy = i, load, h
		}
	}
	return best
}

// acquire picks a target for a request and counts the request in on it.
// The route is found by app if app is set, else by host (a redirected host
// has none); skip is an address to avoid (a retry). It returns the route (nil: none for this host) and the
// target's index (-1: the route has no target).
//
// Counting in and re-reading the table close the race with a swap: if the
// table changed after the pick, Drain may already have seen the target idle,
// so the request picks again from the new table. Atomics are sequentially
// consistent, so a request either shows up in the count Drain reads after
// the swap, or sees the new table.
func (s *server) acquire(host, app, skip string) (*route, int) {
	t := s.table.Load()
	return s.acquireIn(t, t.find(host, app), host, app, skip)
}

// acquireIn is acquire with the route already found in table t.
func (s *server) acquireIn(t *table, rt *route, host, app, skip string) (*route, int) {
	for {
		if rt == nil {
			return nil, -1
		}
		i := rt.pick(skip)
		if i < 0 {
			return rt, -1
		}
		b := rt.targets[i]
		b.inflight.Add(1)
		now := s.table.Load()
		if now == t {
			return rt, i
		}
		b.inflight.Add(-1)
		t = now
		rt = t.find(host, app)
	}
}
