package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/loadgen"
)

// takeOverProxy runs a second proxy on old's socket and state file with
// TakeOver, as the daemon does after an upgrade. It returns once Run
// called Ready, or with Run's error.
func takeOverProxy(t *testing.T, dir, version string, mods ...func(*Config)) (*testProxy, error) {
	t.Helper()
	cfg := testConfig(t, dir)
	cfg.HTTPSAddr = "127.0.0.1:0"
	cfg.Version = version
	cfg.TakeOver = true
	for _, m := range mods {
		m(&cfg)
	}
	ready := make(chan string, 1)
	cfg.Ready = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	p := &testProxy{t: t, socket: cfg.ControlSocket, state: cfg.StateFile, c: NewClient(cfg.ControlSocket), cancel: cancel, done: make(chan error, 1)}
	p.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	go func() { p.done <- Run(ctx, cfg) }()
	select {
	case p.addr = <-ready:
	case err := <-p.done:
		cancel()
		return nil, err
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatal("the new proxy did not start")
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return p, nil
}

// handoverLoad runs steady load on both listeners: keep-alive and fresh
// connections, HTTP and HTTPS.
func handoverLoad(httpAddr, httpsAddr string) (*loadgen.Run, *loadgen.Run, *loadgen.Run) {
	plain := loadgen.Start(loadgen.Config{Addr: httpAddr, Host: "shop.test", KeepAlive: 2, Fresh: 2, Interval: time.Millisecond, Timeout: 5 * time.Second})
	secure := loadgen.Start(loadgen.Config{Addr: httpsAddr, Host: "shop.test", KeepAlive: 1, Fresh: 1, Interval: time.Millisecond, Timeout: 5 * time.Second,
		TLS: &tls.Config{RootCAs: pki().roots, ServerName: "shop.test"}})
	h2 := loadgen.Start(loadgen.Config{Addr: httpsAddr, Host: "shop.test", KeepAlive: 2, Interval: time.Millisecond, Timeout: 5 * time.Second,
		TLS: &tls.Config{RootCAs: pki().roots, ServerName: "shop.test"}, HTTP2: true})
	return plain, secure, h2
}

func checkLoad(t *testing.T, what string, r *loadgen.Run) {
	t.Helper()
	st := r.Stop()
	t.Logf("%s: %s", what, st)
	if st.Failed() != 0 || st.OK < 5 {
		t.Errorf("%s: %d of %d requests failed (%d ok): %v", what, st.Failed(), st.Sent, st.OK, st.Errors)
	}
}

// TestHandoverDropsNothing: a new proxy takes the listening sockets (the
// same ports), the routes and the certificates over from the running one
// under steady HTTP and HTTPS load, with no request failing; the old one
// stops, the new one answers the control socket and persists changes.
func TestHandoverDropsNothing(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	old, httpsAddr := startTLSProxy(t, dir, func(c *Config) { c.Version = "1.0.0" })
	web := newWeb(t, "shop-v1")
	old.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(web.Server, "shop.web.1")}, TLS: pki().shop.tls()})
	plain, secure, h2 := handoverLoad(old.addr, httpsAddr)
	time.Sleep(200 * time.Millisecond)

	started := time.Now()
	next, err := takeOverProxy(t, dir, "2.0.0")
	if err != nil {
		t.Fatalf("take over: %v", err)
	}
	t.Logf("hand-over took %v", time.Since(started))
	if next.addr != old.addr {
		t.Errorf("the new proxy listens on %s, not the inherited %s", next.addr, old.addr)
	}
	// The old proxy stops by itself once requests in flight are done.
	select {
	case err := <-old.done:
		close(old.done)
		if err != nil {
			t.Errorf("old Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the old proxy did not stop after the hand-over")
	}
	time.Sleep(500 * time.Millisecond) // load served by the new proxy alone
	checkLoad(t, "HTTP", plain)
	checkLoad(t, "HTTPS", secure)
	checkLoad(t, "HTTP/2", h2)

	st, err := next.c.Status(context.Background())
	if err != nil || st.Version != "2.0.0" || st.Routes != 1 || st.HTTPAddr != old.addr || st.HTTPSAddr != httpsAddr {
		t.Fatalf("Status after the hand-over: %+v %v", st, err)
	}
	// The table is the new proxy's: changes go there and are persisted.
	web2 := newWeb(t, "shop-v2")
	next.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(web2.Server, "shop.web.2")}, TLS: pki().shop.tls()})
	if code, body, _ := next.get("shop.test", "/"); code != 200 || body != "shop-v2" {
		t.Errorf("after a route change: %d %q", code, body)
	}
	routes, err := loadState(filepath.Join(dir, "routes.json"))
	if err != nil || len(routes) != 1 || routes[0].Targets[0].Addr != addr(web2.Server) {
		t.Errorf("state file after the hand-over: %+v %v", routes, err)
	}
	resp, body := fetch(t, tlsClient(t, httpsAddr, false), http.MethodGet, "https://shop.test/", "")
	if resp.StatusCode != 200 || body != "shop-v2" {
		t.Errorf("HTTPS after the hand-over: %d %q", resp.StatusCode, body)
	}
}

// TestHandoverFailedNewProxyLeavesOldServing: a new proxy that fails after
// it got the sockets, before it is ready, changes nothing for clients: the
// old one keeps serving and its table thaws; a later hand-over works.
func TestHandoverFailedNewProxyLeavesOldServing(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	old, httpsAddr := startTLSProxy(t, dir, func(c *Config) { c.Version = "1.0.0" })
	web := newWeb(t, "shop-v1")
	old.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(web.Server, "shop.web.1")}, TLS: pki().shop.tls()})
	plain, secure, h2 := handoverLoad(old.addr, httpsAddr)
	time.Sleep(100 * time.Millisecond)

	_, err := takeOverProxy(t, dir, "2.0.0", func(c *Config) {
		c.afterInherit = func() error { return errors.New("injected: the new proxy dies") }
	})
	if err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("take over with a failing new proxy: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	st, err := old.c.Status(context.Background())
	if err != nil || st.Version != "1.0.0" {
		t.Fatalf("the old proxy after a failed hand-over: %+v %v", st, err)
	}
	// Its table takes changes again.
	web2 := newWeb(t, "shop-v2")
	old.set(Route{App: "shop", Hosts: []string{"shop.test"}, Targets: []Target{target(web2.Server, "shop.web.2")}, TLS: pki().shop.tls()})
	select {
	case err := <-old.done:
		t.Fatalf("the old proxy stopped: %v", err)
	default:
	}

	// A new proxy that works then takes over.
	next, err := takeOverProxy(t, dir, "2.0.1")
	if err != nil {
		t.Fatalf("second take over: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	checkLoad(t, "HTTP", plain)
	checkLoad(t, "HTTPS", secure)
	checkLoad(t, "HTTP/2", h2)
	if st, err := next.c.Status(context.Background()); err != nil || st.Version != "2.0.1" {
		t.Errorf("Status: %+v %v", st, err)
	}
	if code, body, _ := next.get("shop.test", "/"); code != 200 || body != "shop-v2" {
		t.Errorf("the new proxy lost the change made after the failed hand-over: %d %q", code, body)
	}
}

// TestHandoverKeepsWebSockets: an upgraded connection open on the old
// proxy at the hand-over keeps working until it ends (the old proxy waits
// for it, up to ShutdownTimeout), then the old proxy exits.
func TestHandoverKeepsWebSockets(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	old := startProxy(t, dir)
	b := httptest.NewServer(http.HandlerFunc(wsEcho))
	defer b.Close()
	old.set(Route{App: "chat", Hosts: []string{"chat.test"}, Targets: []Target{target(b, "chat.web.1")}})
	conn, err := net.Dial("tcp", old.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	next, err := takeOverProxy(t, dir, "2.0.0", func(c *Config) { c.HTTPSAddr = "" })
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := next.get("chat.test", "/plain"); code == 0 {
		t.Fatal("the new proxy does not answer")
	}
	for i := range 3 {
		msg := fmt.Sprintf("after the hand-over %d", i)
		if err := wsWrite(conn, wsText, []byte(msg), true); err != nil {
			t.Fatal(err)
		}
		if op, got, err := wsRead(br); err != nil || op != wsText || string(got) != msg {
			t.Fatalf("echo on the old proxy's WebSocket: op %d %q %v", op, got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-old.done:
		t.Fatalf("the old proxy exited with a WebSocket open: %v", err)
	default:
	}
	wsWrite(conn, wsClose, []byte{3, 232}, true)
	wsRead(br)
	conn.Close()
	select {
	case err := <-old.done:
		close(old.done)
		if err != nil {
			t.Errorf("old Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the old proxy did not exit once the WebSocket closed")
	}
}

// TestHandoverUnsupported: taking over from a proxy without the hand-over
// (an older Berth) fails with a clear error and changes nothing.
func TestHandoverUnsupported(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	sock := filepath.Join(dir, "proxy.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	defer srv.Close()
	cfg := testConfig(t, dir)
	cfg.TakeOver = true
	err = Run(context.Background(), cfg)
	if !errors.Is(err, errHandoverUnsupported) {
		t.Fatalf("Run against an old proxy: %v", err)
	}
}

// TestExecutableID: the ID of this test binary is stable and not empty.
func TestExecutableID(t *testing.T) {
	id := ExecutableID()
	if id == "" || id != ExecutableID() {
		t.Fatalf("ExecutableID = %q", id)
	}
}

// TestHandoverChangedAddress: a listener whose address the new proxy is
// not configured with (here HTTPS turned off) is not kept: once the old
// proxy is gone nothing listens there, while HTTP is inherited.
func TestHandoverChangedAddress(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	old, httpsAddr := startTLSProxy(t, dir)
	next, err := takeOverProxy(t, dir, "2.0.0", func(c *Config) { c.HTTPSAddr = "" })
	if err != nil {
		t.Fatal(err)
	}
	if next.addr != old.addr {
		t.Errorf("HTTP on %s, want the inherited %s", next.addr, old.addr)
	}
	select {
	case <-old.done:
		close(old.done)
	case <-time.After(10 * time.Second):
		t.Fatal("the old proxy did not stop")
	}
	if c, err := net.DialTimeout("tcp", httpsAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after HTTPS was turned off", httpsAddr)
	}
	if st, err := next.c.Status(context.Background()); err != nil || st.HTTPSAddr != "" {
		t.Errorf("Status: %+v %v", st, err)
	}
}
