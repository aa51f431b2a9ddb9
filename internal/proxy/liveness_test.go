package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// checkedWeb answers its name, and "ok alive" on /up while up holds.
type checkedWeb struct {
	*httptest.Server
	up        atomic.Bool
	probeHost atomic.Value
}

func newCheckedWeb(t *testing.T, name string) *checkedWeb {
	w := &checkedWeb{}
	w.up.Store(true)
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/up" {
			w.probeHost.Store(r.Host)
			if !w.up.Load() {
				http.Error(rw, "down", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(rw, "ok alive")
			return
		}
		io.WriteString(rw, name)
	}))
	t.Cleanup(w.Close)
	return w
}

func (p *testProxy) health(addr string) (checked, healthy bool) {
	ts, err := p.c.Targets(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	for _, s := range ts {
		if s.Addr == addr && s.App != "" {
			return s.Checked, s.Healthy
		}
	}
	p.t.Fatalf("target %s not listed", addr)
	return false, false
}

func TestLivenessTakesTargetOutAndBackIn(t *testing.T) {
	p := startProxy(t, "")
	a, b := newCheckedWeb(t, "a"), newCheckedWeb(t, "b")
	live := &Liveness{Path: "/up", Host: "shop.internal", Content: "alive", Interval: 2 * time.Millisecond, Timeout: time.Second, Failures: 2, Successes: 2}
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(a.Server, "shop.web.1"), target(b.Server, "shop.web.2")}, Liveness: live})
	serves := func() map[string]int {
		got := map[string]int{}
		for range 10 {
			code, body, _ := p.get("shop.example.com", "/")
			if code != 200 {
				t.Fatalf("got %d %q", code, body)
			}
			got[body]++
		}
		return got
	}

	eventually(t, "a probe reached a", func() bool { return a.probeHost.Load() != nil })
	if h := a.probeHost.Load(); h != "shop.internal" {
		t.Errorf("probe Host = %q", h)
	}
	if checked, healthy := p.health(addr(a.Server)); !checked || !healthy {
		t.Fatalf("a: checked %v healthy %v", checked, healthy)
	}

	a.up.Store(false)
	eventually(t, "a leaves rotation", func() bool { _, h := p.health(addr(a.Server)); return !h })
	if got := serves(); got["b"] != 10 {
		t.Errorf("with a failing: %v", got)
	}

	a.up.Store(true)
	eventually(t, "a is back", func() bool { _, h := p.health(addr(a.Server)); return h })
	if got := serves(); got["a"] != 5 || got["b"] != 5 {
		t.Errorf("with a back: %v", got)
	}

	// All failing: use them anyway.
	a.up.Store(false)
	b.up.Store(false)
	eventually(t, "both leave rotation", func() bool {
		_, ha := p.health(addr(a.Server))
		_, hb := p.health(addr(b.Server))
		return !ha && !hb
	})
	if got := serves(); got["a"]+got["b"] != 10 {
		t.Errorf("with all failing: %v", got)
	}

	// Content must be there, not just a 200.
	a.up.Store(true)
	b.up.Store(true)
	eventually(t, "both are back", func() bool {
		_, ha := p.health(addr(a.Server))
		_, hb := p.health(addr(b.Server))
		return ha && hb
	})
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(a.Server, "shop.web.1"), target(b.Server, "shop.web.2")}, Liveness: &Liveness{Path: "/", Interval: 2 * time.Millisecond, Content: "alive", Failures: 1}})
	eventually(t, "a leaves rotation for lacking content", func() bool { _, h := p.health(addr(a.Server)); return !h })

	// Without Liveness the probes stop and the targets count as healthy.
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(a.Server, "shop.web.1"), target(b.Server, "shop.web.2")}})
	if checked, healthy := p.health(addr(a.Server)); checked || !healthy {
		t.Errorf("without liveness: checked %v healthy %v", checked, healthy)
	}
}
