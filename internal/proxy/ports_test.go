package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// freePort returns a port nothing listens on at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// getOn sends GET / for host to 127.0.0.1:port; status 0 means no answer
// (nothing listens).
func getOn(t *testing.T, port int, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestExtraPorts: a route's extra port is listened on while some route asks
// for it, serves only the routes that list it, and is let go when none does.
func TestExtraPorts(t *testing.T) {
	t.Parallel()
	p := startProxy(t, "")
	shop, blog := newWeb(t, "shop"), newWeb(t, "blog")
	port := freePort(t)
	p.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(shop.Server, "shop.web.1")}, Ports: []Port{{Port: port}}})
	p.set(Route{App: "blog", Hosts: []string{"blog.test"}, Targets: []Target{target(blog.Server, "blog.web.1")}})

	eventually(t, "the extra port serves shop", func() bool { code, body := getOn(t, port, "shop.test"); return code == 200 && body == "shop" })
	if code, _ := getOn(t, port, "blog.test"); code != http.StatusNotFound {
		t.Errorf("blog (not on the port) = %d, want 404", code)
	}
	if code, body, _ := p.get("shop.test", "/"); code != 200 || body != "shop" {
		t.Errorf("shop on the main port = %d %q", code, body)
	}

	// Another app may share the port (by Host), but not as HTTPS.
	if err := p.c.SetRoute(t.Context(), Route{App: "blog", Hosts: []string{"blog.test"}, Targets: []Target{target(blog.Server, "blog.web.1")}, Ports: []Port{{Port: port, TLS: true}}}); err == nil {
		t.Error("a port served as HTTP and HTTPS was accepted")
	}
	p.set(Route{App: "blog", Hosts: []string{"blog.test"}, Targets: []Target{target(blog.Server, "blog.web.1")}, Ports: []Port{{Port: port}}})
	if code, body := getOn(t, port, "blog.test"); code != 200 || body != "blog" {
		t.Errorf("blog on the shared port = %d %q", code, body)
	}

	// No route asks for it any more: the port is let go.
	p.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(shop.Server, "shop.web.1")}})
	p.set(Route{App: "blog", Hosts: []string{"blog.test"}, Targets: []Target{target(blog.Server, "blog.web.1")}})
	eventually(t, "the extra port is closed", func() bool { code, _ := getOn(t, port, "shop.test"); return code == 0 })
}

// TestExtraPortTaken: a port another program holds is retried until it is
// free, while the rest is served.
func TestExtraPortTaken(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := held.Addr().(*net.TCPAddr).Port
	p := startProxy(t, "")
	shop := newWeb(t, "shop")
	p.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(shop.Server, "shop.web.1")}, Ports: []Port{{Port: port}}})
	if code, body, _ := p.get("shop.test", "/"); code != 200 || body != "shop" {
		t.Errorf("shop on the main port = %d %q", code, body)
	}
	held.Close()
	eventually(t, "the freed port serves shop", func() bool { code, body := getOn(t, port, "shop.test"); return code == 200 && body == "shop" })
}

func TestRoutePortsValidated(t *testing.T) {
	t.Parallel()
	for _, r := range []Route{
		{App: "a", Ports: []Port{{Port: 0}}},
		{App: "a", Ports: []Port{{Port: 70000}}},
		{App: "a", Ports: []Port{{Port: 8080}, {Port: 8080}}},
		{App: "a", Ports: []Port{{Port: 8443, TLS: true}}}, // no certificate
	} {
		if _, err := normalizeRoute(r); err == nil {
			t.Errorf("%+v accepted", r.Ports)
		}
	}
}

// TestHandoverExtraPorts: after a hand-over the new proxy serves the
// routes' extra ports, once the old one let them go.
func TestHandoverExtraPorts(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	old := startProxy(t, dir)
	shop := newWeb(t, "shop")
	port := freePort(t)
	old.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(shop.Server, "shop.web.1")}, Ports: []Port{{Port: port}}})
	eventually(t, "the old proxy serves the extra port", func() bool { code, _ := getOn(t, port, "shop.test"); return code == 200 })
	next, err := takeOverProxy(t, dir, "2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.done:
		close(old.done)
	case <-time.After(10 * time.Second):
		t.Fatal("the old proxy did not stop")
	}
	eventually(t, "the new proxy serves the extra port", func() bool { code, body := getOn(t, port, "shop.test"); return code == 200 && body == "shop" })
	if code, body, _ := next.get("shop.test", "/"); code != 200 || body != "shop" {
		t.Errorf("main port after the hand-over: %d %q", code, body)
	}
}

// TestExtraPortsIdleWithoutTimer: with every wanted port open (or none
// wanted) the extra ports' loop sets no timer: an idle proxy does not wake
// up; a port that cannot be bound is retried on a timer.
func TestExtraPortsIdleWithoutTimer(t *testing.T) {
	t.Parallel()
	var timers atomic.Int32
	fired := make(chan time.Time)
	x := &extraPorts{after: func(time.Duration) <-chan time.Time { timers.Add(1); return fired }}
	x.init(&server{log: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { x.run(ctx, "127.0.0.1:0"); close(done) }()
	defer func() { cancel(); <-done; x.stop(context.Background()) }()

	x.want(map[int]bool{})
	x.want(map[int]bool{freePort(t): false})
	eventually(t, "the free port is open", func() bool { x.mu.Lock(); defer x.mu.Unlock(); return len(x.open) == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := timers.Load(); n != 0 {
		t.Fatalf("%d retry timers set with every port open; want none", n)
	}

	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	x.want(map[int]bool{held.Addr().(*net.TCPAddr).Port: false})
	eventually(t, "a retry timer for the taken port", func() bool { return timers.Load() > 0 })
}
