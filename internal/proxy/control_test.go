package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPersistence(t *testing.T) {
	dir := shortDir(t)
	shop := newWeb(t, "shop")
	p := startProxy(t, dir)
	route := Route{
		App:             "shop",
		Hosts:           []string{"shop.example.com", "*.shop.example.com"},
		Targets:         []Target{target(shop.Server, "shop.web.1")},
		Liveness:        &Liveness{Path: "/", Interval: time.Hour, Timeout: time.Second, Failures: 3, Successes: 1},
		MaxBodyBytes:    1 << 20,
		UpstreamTimeout: 5 * time.Second,
	}
	p.set(route)
	p.set(Route{App: "gone", Hosts: []string{"gone.example.com"}})
	if err := p.c.DeleteRoute(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.c.Status(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Status of a stopped proxy: %v, want ErrNotRunning", err)
	}
	if fi, err := os.Stat(p.state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}

	// A new proxy serves the routes before anyone sets them.
	p2 := startProxy(t, dir)
	if code, body, _ := p2.get("shop.example.com", "/"); code != 200 || body != "shop" {
		t.Errorf("after restart: %d %q", code, body)
	}
	routes, err := p2.c.Routes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(routes, []Route{route}) {
		t.Errorf("routes after restart:\n%+v\nwant\n%+v", routes, []Route{route})
	}
	st, err := p2.c.Status(context.Background())
	if err != nil || st.Routes != 1 || st.HTTPAddr != p2.addr || st.PID != os.Getpid() || st.Version != "dev" {
		t.Errorf("Status: %+v %v", st, err)
	}
}

func TestFailedWriteChangesNothing(t *testing.T) {
	dir := shortDir(t)
	stateDir := filepath.Join(dir, "state")
	p := startProxy(t, dir, func(c *Config) { c.StateFile = filepath.Join(stateDir, "routes.json") })
	shop := newWeb(t, "shop")
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(shop.Server, "shop.web.1")}})
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err := p.c.SetRoute(ctx, Route{App: "blog", Hosts: []string{"blog.example.com"}, Targets: []Target{target(shop.Server, "blog.web.1")}})
	var perr *Error
	if !errors.As(err, &perr) || perr.Code != CodeInternal {
		t.Fatalf("SetRoute with the state dir gone: %v", err)
	}
	if err := p.c.DeleteRoute(ctx, "shop"); err == nil {
		t.Fatal("DeleteRoute with the state dir gone succeeded")
	}
	if err := p.c.Replace(ctx, nil); err == nil {
		t.Fatal("Replace with the state dir gone succeeded")
	}
	if code, _, _ := p.get("blog.example.com", "/"); code != 404 {
		t.Errorf("blog: %d, want 404", code)
	}
	if code, _, _ := p.get("shop.example.com", "/"); code != 200 {
		t.Errorf("shop: %d, want 200", code)
	}
	if routes, _ := p.c.Routes(ctx); len(routes) != 1 || routes[0].App != "shop" {
		t.Errorf("routes: %+v", routes)
	}
}

func TestCorruptStateIsMovedAside(t *testing.T) {
	dir := shortDir(t)
	state := filepath.Join(dir, "routes.json")
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, dir)
	if routes, err := p.c.Routes(context.Background()); err != nil || len(routes) != 0 {
		t.Errorf("routes: %v %v", routes, err)
	}
	if data, err := os.ReadFile(state + ".corrupt"); err != nil || string(data) != "{not json" {
		t.Errorf("moved aside: %q %v", data, err)
	}
}

func TestHostConflicts(t *testing.T) {
	p := startProxy(t, "")
	ctx := context.Background()
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com", "*.example.com"}})
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com", "*.example.com", "www.shop.example.com"}}) // its own hosts again
	for _, host := range []string{"shop.example.com", "SHOP.example.com", "*.example.com"} {
		err := p.c.SetRoute(ctx, Route{App: "blog", Hosts: []string{"blog.example.com", host}})
		if !errors.Is(err, ErrHostConflict) || !strings.Contains(err.Error(), "shop") {
			t.Errorf("%s: %v, want a conflict naming shop", host, err)
		}
	}
	err := p.c.Replace(ctx, []Route{{App: "a", Hosts: []string{"x.example.com"}}, {App: "b", Hosts: []string{"x.example.com"}}})
	if !errors.Is(err, ErrHostConflict) {
		t.Errorf("Replace with a conflict: %v", err)
	}
	err = p.c.Replace(ctx, []Route{{App: "a"}, {App: "a"}})
	if !errors.Is(err, ErrInvalidRoute) {
		t.Errorf("Replace with an app twice: %v", err)
	}
	// Nothing changed.
	routes, _ := p.c.Routes(ctx)
	if len(routes) != 1 || routes[0].App != "shop" || len(routes[0].Hosts) != 3 {
		t.Errorf("routes: %+v", routes)
	}
	// A host that moves from one app to another: one Replace does it.
	if err := p.c.Replace(ctx, []Route{{App: "shop", Hosts: []string{"*.example.com"}}, {App: "blog", Hosts: []string{"shop.example.com"}}}); err != nil {
		t.Errorf("Replace: %v", err)
	}
	// Invalid routes.
	for _, r := range []Route{
		{App: ""},
		{App: "a b"},
		{App: "a", Hosts: []string{"bad host"}},
		{App: "a", Hosts: []string{"a.*.example.com"}},
		{App: "a", Hosts: []string{"-a.example.com"}},
		{App: "a", Targets: []Target{{Addr: "nowhere"}}},
		{App: "a", Targets: []Target{{Addr: "127.0.0.1:0"}}},
		{App: "a", Targets: []Target{{Addr: "127.0.0.1:80"}, {Addr: "127.0.0.1:80"}}},
		{App: "a", Liveness: &Liveness{Path: "up"}},
		{App: "a", Liveness: &Liveness{Path: "/", Interval: -1}},
		{App: "a", MaxBodyBytes: -2},
	} {
		if err := p.c.SetRoute(ctx, r); !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("%+v: %v, want ErrInvalidRoute", r, err)
		}
	}
}

func TestClientNotRunning(t *testing.T) {
	dir := shortDir(t)
	c := NewClient(filepath.Join(dir, "none.sock"))
	if _, err := c.Status(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no socket: %v", err)
	}
	// A stale socket file (a crash) is also "not running", and a new proxy
	// replaces it.
	p := startProxy(t, dir)
	p.stop()
	f, err := os.Create(p.socket)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := p.c.Status(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stale socket: %v", err)
	}
	p2 := startProxy(t, dir)
	fi, err := os.Stat(p2.socket)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket: %v %v", fi.Mode(), err)
	}
	// A second proxy on the same socket or state file is refused.
	cfg := testConfig(t, dir)
	if err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "another proxy") {
		t.Errorf("second proxy: %v", err)
	}
	cfg.StateFile = filepath.Join(shortDir(t), "routes.json")
	if err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "another proxy") {
		t.Errorf("second proxy on the same socket: %v", err)
	}
}

func TestDrainIdleTargets(t *testing.T) {
	p := startProxy(t, "")
	a := newWeb(t, "a")
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(a.Server, "shop.web.1")}})
	p.get("shop.example.com", "/")
	start := time.Now()
	n, err := p.c.Drain(context.Background(), []string{addr(a.Server), "127.0.0.1:1"}, 10*time.Second)
	if n != 0 || err != nil || time.Since(start) > time.Second {
		t.Errorf("Drain of idle targets: %d %v after %v", n, err, time.Since(start))
	}
}

// A request in flight to a target that a new route swaps out completes;
// Drain waits for it.
func TestDrainWaitsForRequestInFlight(t *testing.T) {
	p := startProxy(t, "")
	arrived, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		io.WriteString(w, "old")
		finished.Store(true)
	}))
	defer old.Close()
	next := newWeb(t, "new")
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(old, "shop.web.1")}})

	type result struct {
		code int
		body string
	}
	res := make(chan result, 1)
	go func() {
		code, body, _ := p.get("shop.example.com", "/slow")
		res <- result{code, body}
	}()
	<-arrived
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(next.Server, "shop.web.2")}})
	if _, body, _ := p.get("shop.example.com", "/"); body != "new" {
		t.Errorf("after the swap: %q", body)
	}
	ctx := context.Background()
	if n, err := p.c.Drain(ctx, []string{addr(old)}, 20*time.Millisecond); n != 1 || err != nil {
		t.Errorf("Drain timing out: %d %v, want 1", n, err)
	}
	drained := make(chan int, 1)
	go func() {
		n, err := p.c.Drain(ctx, []string{addr(old)}, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		drained <- n
	}()
	close(release)
	if r := <-res; r.code != 200 || r.body != "old" {
		t.Errorf("request in flight: %d %q", r.code, r.body)
	}
	if n := <-drained; n != 0 || !finished.Load() {
		t.Errorf("Drain: %d (request finished: %v)", n, finished.Load())
	}
	// The swapped-out target is forgotten once idle.
	ts, _ := p.c.Targets(ctx)
	if len(ts) != 1 || ts[0].Addr != addr(next.Server) {
		t.Errorf("targets: %+v", ts)
	}
}

// A Drain in progress is cut short when its caller gives up.
func TestDrainContext(t *testing.T) {
	p := startProxy(t, "")
	arrived, release := make(chan struct{}), make(chan struct{})
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
	}))
	defer b.Close()
	defer close(release)
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(b, "shop.web.1")}})
	go p.client.Do(p.request("GET", "shop.example.com", "/", nil))
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := p.c.Drain(ctx, []string{addr(b)}, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Drain: %v", err)
	}
}
