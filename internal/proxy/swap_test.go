package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestZeroDropSwap deploys 50 times while clients keep sending requests,
// over kept-alive and over new connections, with and without bodies: each
// deploy starts new backends, swaps the route to them, drains the old ones
// and closes them. No request may fail.
func TestZeroDropSwap(t *testing.T) {
	const swaps = 50
	p := startProxy(t, "")
	ctx := context.Background()

	type gen struct {
		servers []*httptest.Server
		hits    atomic.Int64
	}
	start := func(n int) *gen {
		g := &gen{}
		for i := range 2 {
			name := fmt.Sprintf("gen%d.%d", n, i)
			g.servers = append(g.servers, httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				g.hits.Add(1)
				io.WriteString(w, name)
			})))
		}
		return g
	}
	route := func(g *gen) Route {
		r := Route{App: "shop", Hosts: []string{"shop.example.com"}}
		for i, s := range g.servers {
			r.Targets = append(r.Targets, target(s, fmt.Sprintf("shop.web.%d", i+1)))
		}
		return r
	}
	addrs := func(g *gen) []string {
		var out []string
		for _, s := range g.servers {
			out = append(out, addr(s))
		}
		return out
	}

	cur := start(0)
	p.set(route(cur))

	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		total    atomic.Int64
		failures atomic.Int64
		errMu    sync.Mutex
		errs     []string
	)
	fail := func(msg string) {
		failures.Add(1)
		errMu.Lock()
		if len(errs) < 10 {
			errs = append(errs, msg)
		}
		errMu.Unlock()
	}
	keepAlive := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 10}}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer keepAlive.CloseIdleConnections()
	client := func(c *http.Client, post bool) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			req := p.request("GET", "shop.example.com", "/", nil)
			if post {
				req = p.request("POST", "shop.example.com", "/", strings.NewReader("order=42"))
			}
			resp, err := c.Do(req)
			if err != nil {
				fail(err.Error())
				continue
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(body), "gen") {
				fail(fmt.Sprintf("%s: %d %q %v", req.Method, resp.StatusCode, body, err))
			}
			total.Add(1)
		}
	}
	for range 3 {
		wg.Add(2)
		go client(keepAlive, false)
		go client(keepAlive, true)
	}
	wg.Add(2)
	go client(fresh, false)
	go client(fresh, true)

	for n := 1; n <= swaps; n++ {
		next := start(n)
		// Let the old generation take some traffic first.
		eventually(t, "the live backends serve", func() bool { return cur.hits.Load() >= 5 })
		p.set(route(next))
		left, err := p.c.Drain(ctx, addrs(cur), 5*time.Second)
		if err != nil || left != 0 {
			t.Fatalf("swap %d: Drain: %d %v", n, left, err)
		}
		for _, s := range cur.servers {
			s.Close()
		}
		cur = next
	}
	eventually(t, "the last backends serve", func() bool { return cur.hits.Load() >= 5 })
	close(stop)
	wg.Wait()
	for _, s := range cur.servers {
		s.Close()
	}
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d requests failed; first ones:\n%s", n, total.Load(), strings.Join(errs, "\n"))
	}
	t.Logf("%d requests over %d swaps", total.Load(), swaps)
}
