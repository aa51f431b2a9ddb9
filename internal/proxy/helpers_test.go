package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testProxy is a proxy started by Run for one test.
type testProxy struct {
	t      testing.TB
	addr   string // HTTP listener, 127.0.0.1:port
	socket string
	state  string
	c      *Client
	cancel context.CancelFunc
	done   chan error
	client *http.Client // keep-alive client to the proxy
}

// shortDir returns a temporary directory with a short path: unix socket
// paths are limited to about 100 bytes.
func shortDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "bp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func testConfig(t testing.TB, dir string) Config {
	return Config{
		HTTPAddr:        "127.0.0.1:0",
		ControlSocket:   filepath.Join(dir, "proxy.sock"),
		StateFile:       filepath.Join(dir, "routes.json"),
		Log:             slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
		ShutdownTimeout: 5 * time.Second,
	}
}

// startProxy runs a proxy in dir (a new one if empty) until the test ends.
func startProxy(t testing.TB, dir string, mods ...func(*Config)) *testProxy {
	t.Helper()
	if dir == "" {
		dir = shortDir(t)
	}
	cfg := testConfig(t, dir)
	for _, m := range mods {
		m(&cfg)
	}
	ready := make(chan string, 1)
	cfg.Ready = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	p := &testProxy{t: t, socket: cfg.ControlSocket, state: cfg.StateFile, c: NewClient(cfg.ControlSocket), cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- Run(ctx, cfg) }()
	select {
	case p.addr = <-ready:
	case err := <-p.done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("the proxy did not start")
	}
	p.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return p
}

// stop ends Run and returns its error; it may be called more than once.
func (p *testProxy) stop() error {
	p.cancel()
	p.client.CloseIdleConnections()
	select {
	case err, ok := <-p.done:
		if ok {
			close(p.done)
		}
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("Run did not return after its context ended")
	}
}

func (p *testProxy) set(r Route) {
	p.t.Helper()
	if err := p.c.SetRoute(context.Background(), r); err != nil {
		p.t.Fatalf("SetRoute: %v", err)
	}
}

// request sends a request for host to the proxy.
func (p *testProxy) request(method, host, path string, body io.Reader) *http.Request {
	p.t.Helper()
	req, err := http.NewRequest(method, "http://"+p.addr+path, body)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Host = host
	return req
}

// get sends GET path for host and returns status, body and response.
func (p *testProxy) get(host, path string) (int, string, *http.Response) {
	p.t.Helper()
	return p.do(p.request(http.MethodGet, host, path, nil))
}

func (p *testProxy) do(req *http.Request) (int, string, *http.Response) {
	p.t.Helper()
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", req.Method, req.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, string(b), resp
}

// backend is a test web process that answers with its name.
type web struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

func newWeb(t testing.TB, name string) *web {
	b := &web{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		io.WriteString(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

func addr(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

func target(s *httptest.Server, name string) Target {
	return Target{Addr: addr(s), Container: name}
}

// deadAddr returns an address nothing listens on (a closed listener).
func deadAddr(t testing.TB) string {
	s := httptest.NewServer(http.NotFoundHandler())
	a := addr(s)
	s.Close()
	return a
}

// eventually polls cond every millisecond until it holds or 5 s passed.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
