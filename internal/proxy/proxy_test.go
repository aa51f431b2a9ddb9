package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoutesByHostAndWildcard(t *testing.T) {
	p := startProxy(t, "")
	shop, blog, any, apex := newWeb(t, "shop"), newWeb(t, "blog"), newWeb(t, "wild"), newWeb(t, "apex")
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(shop.Server, "shop.web.1")}})
	p.set(Route{App: "blog", Hosts: []string{"Blog.Example.COM."}, Targets: []Target{target(blog.Server, "blog.web.1")}})
	p.set(Route{App: "wild", Hosts: []string{"*.example.com"}, Targets: []Target{target(any.Server, "wild.web.1")}})
	p.set(Route{App: "apex", Hosts: []string{"example.com"}, Targets: []Target{target(apex.Server, "apex.web.1")}})

	for host, want := range map[string]string{
		"shop.example.com":      "shop", // exact beats wildcard
		"SHOP.example.com:8080": "shop", // case and port do not matter
		"blog.example.com":      "blog", // the route's host was normalized
		"blog.example.com.":     "blog",
		"other.example.com":     "wild",
		"example.com":           "apex", // the wildcard does not cover the apex
	} {
		if code, body, _ := p.get(host, "/"); code != 200 || body != want {
			t.Errorf("%s: got %d %q, want 200 %q", host, code, body, want)
		}
	}
	// One label only: a.b.example.com is not *.example.com.
	if code, body, _ := p.get("a.b.example.com", "/"); code != 404 || !strings.Contains(body, "No app is configured for a.b.example.com") {
		t.Errorf("two labels deep: got %d %q", code, body)
	}
}

func TestPages(t *testing.T) {
	p := startProxy(t, "")
	p.set(Route{App: "idle", Hosts: []string{"idle.example.com"}})

	code, body, resp := p.get("nowhere.example.com", "/x")
	if code != 404 || body != "No app is configured for nowhere.example.com.\n" {
		t.Errorf("unknown host: got %d %q", code, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("unknown host: Content-Type %q, X-Request-Id %q", ct, resp.Header.Get("X-Request-Id"))
	}
	code, body, resp = p.get("idle.example.com", "/")
	if resp.Header.Get("Retry-After") != "5" {
		t.Errorf("no targets: Retry-After %q, want 5", resp.Header.Get("Retry-After"))
	}
	if code != 503 || body != "idle has no running web process (503 Service Unavailable): it is stopped, starting or restarting. Try again in a few seconds.\n" {
		t.Errorf("no targets: got %d %q", code, body)
	}

	// A target that fails names the app, never the address.
	dead := deadAddr(t)
	p.set(Route{App: "gone", Hosts: []string{"gone.example.com"}, Targets: []Target{{Addr: dead, Container: "gone.web.1"}}})
	code, body, _ = p.get("gone.example.com", "/")
	if code != 502 || !strings.Contains(body, "gone did not answer") || strings.Contains(body, dead) || strings.Contains(body, "127.0.0.1") {
		t.Errorf("dead target: got %d %q", code, body)
	}
}

func TestForwardedHeadersAndRequestID(t *testing.T) {
	p := startProxy(t, "")
	got := make(chan http.Header, 1)
	var gotHost string
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost = r.Host
		got <- r.Header.Clone()
		w.Header().Set("X-Request-Id", "backend-made-this-up") // replaced by the proxy's
	}))
	defer b.Close()
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(b, "shop.web.1")}})
	_, port, _ := strings.Cut(p.addr, ":")

	// Kept: a sane incoming id; X-Forwarded-For appended to.
	req := p.request("GET", "shop.example.com", "/", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Forwarded-Proto", "https") // a client cannot claim TLS
	req.Header.Set("X-Forwarded-Host", "evil.example.com")
	req.Header["X-Real-IP"] = []string{"203.0.113.9"} // the proxy's word, not the client's
	req.Header.Add("X-Real-Ip", "198.51.100.1")
	_, _, resp := p.do(req)
	h := <-got
	for k, want := range map[string]string{
		"X-Forwarded-For":   "203.0.113.7, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "shop.example.com",
		"X-Forwarded-Port":  port,
		"X-Request-Id":      "abc-123",
		"X-Real-Ip":         "127.0.0.1",
	} {
		if v := h.Values(k); len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if gotHost != "shop.example.com" {
		t.Errorf("backend saw Host %q", gotHost)
	}
	if v := resp.Header.Values("X-Request-Id"); len(v) != 1 || v[0] != "abc-123" {
		t.Errorf("response X-Request-Id = %q, want the request's", v)
	}

	// Generated: none, or one that does not look sane.
	hexID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, in := range []string{"", "has spaces in it", strings.Repeat("x", 200), "quote\"d"} {
		req := p.request("GET", "shop.example.com", "/", nil)
		if in != "" {
			req.Header.Set("X-Request-Id", in)
		}
		_, _, resp := p.do(req)
		sent := (<-got).Get("X-Request-Id")
		if !hexID.MatchString(sent) || resp.Header.Get("X-Request-Id") != sent {
			t.Errorf("incoming %q: backend got %q, client got %q", in, sent, resp.Header.Get("X-Request-Id"))
		}
	}
}

func TestLeastRequestsSpreadsLoad(t *testing.T) {
	p := startProxy(t, "")
	release := make(chan struct{})
	arrived := make(chan string, 100)
	var names []string
	var targets []Target
	for _, name := range []string{"a", "b", "c"} {
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				arrived <- name
				<-release
			}
			io.WriteString(w, name)
		}))
		defer b.Close()
		names = append(names, name)
		targets = append(targets, target(b, "shop.web."+name))
	}
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: targets})

	// Quick requests one after the other: all ties, so round robin.
	count := map[string]int{}
	for range 30 {
		_, body, _ := p.get("shop.example.com", "/")
		count[body]++
	}
	for _, n := range names {
		if count[n] != 10 {
			t.Errorf("round robin: %v, want 10 each", count)
			break
		}
	}

	// Slow requests, each started once the previous one arrived: each goes
	// to a backend with the fewest in flight.
	var wg sync.WaitGroup
	count = map[string]int{}
	for range 9 {
		wg.Go(func() { p.get("shop.example.com", "/slow") })
		count[<-arrived]++
	}
	for _, n := range names {
		if count[n] != 3 {
			t.Errorf("least requests: %v, want 3 each", count)
			break
		}
	}
	close(release)
	wg.Wait()
}

func TestLeastRequestsAvoidsBusyTarget(t *testing.T) {
	p := startProxy(t, "")
	release := make(chan struct{})
	arrived := make(chan string, 1)
	var targets []Target
	for _, name := range []string{"a", "b"} {
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				arrived <- name
				<-release
			}
			io.WriteString(w, name)
		}))
		defer b.Close()
		targets = append(targets, target(b, "shop.web."+name))
	}
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: targets})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.get("shop.example.com", "/slow")
	}()
	busy := <-arrived
	for range 10 {
		if _, body, _ := p.get("shop.example.com", "/"); body == busy {
			t.Fatalf("a quick request went to the busy target %s", busy)
		}
	}
	close(release)
	<-done
}

func TestRetriesDeadTarget(t *testing.T) {
	p := startProxy(t, "")
	live := newWeb(t, "live")
	dead := deadAddr(t)
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{{Addr: dead, Container: "shop.web.1"}, target(live.Server, "shop.web.2")}})
	for i := range 20 {
		if code, body, _ := p.get("shop.example.com", "/"); code != 200 || body != "live" {
			t.Fatalf("GET %d: %d %q", i, code, body)
		}
		// Also HEAD and OPTIONS, and a POST without a body.
		for _, m := range []string{"HEAD", "OPTIONS", "POST"} {
			if code, _, _ := p.do(p.request(m, "shop.example.com", "/", nil)); code != 200 {
				t.Fatalf("%s %d: %d", m, i, code)
			}
		}
	}
	// Nothing counted in remains on either target (once the last handler
	// returned: the client may have its response a moment before).
	eventually(t, "no request is in flight", func() bool {
		targets, err := p.c.Targets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range targets {
			if ts.InFlight != 0 {
				return false
			}
		}
		return true
	})

	// All dead: a POST with a body is not retried (its body may be gone)
	// and fails with 502.
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{{Addr: dead}, {Addr: deadAddr(t)}}})
	code, body, _ := p.do(p.request("POST", "shop.example.com", "/", strings.NewReader("order=1")))
	if code != 502 || !strings.Contains(body, "shop did not answer") {
		t.Errorf("POST to dead targets: %d %q", code, body)
	}
	code, _, _ = p.get("shop.example.com", "/")
	if code != 502 {
		t.Errorf("GET to dead targets: %d", code)
	}
}

func TestMaxBody(t *testing.T) {
	p := startProxy(t, "", func(c *Config) { c.MaxBodyBytes = 1 << 20 })
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		w.Write([]byte(strings.Repeat("x", int(n%10))))
	}))
	defer echo.Close()
	p.set(Route{App: "small", Hosts: []string{"small.example.com"}, Targets: []Target{target(echo, "small.web.1")}, MaxBodyBytes: 1000})
	p.set(Route{App: "big", Hosts: []string{"big.example.com"}, Targets: []Target{target(echo, "big.web.1")}})
	p.set(Route{App: "free", Hosts: []string{"free.example.com"}, Targets: []Target{target(echo, "free.web.1")}, MaxBodyBytes: -1})

	post := func(host string, n int, chunked bool) (int, string) {
		var body io.Reader = strings.NewReader(strings.Repeat("a", n))
		if chunked {
			body = io.MultiReader(body) // unknown length: sent chunked
		}
		code, b, _ := p.do(p.request("POST", host, "/", body))
		return code, b
	}
	for _, chunked := range []bool{false, true} {
		if code, _ := post("small.example.com", 1000, chunked); code != 200 {
			t.Errorf("chunked=%v: 1000 bytes at the limit: %d", chunked, code)
		}
		if code, body := post("small.example.com", 1001, chunked); code != 413 || body != "Request body too large: the limit is 1000 bytes.\n" {
			t.Errorf("chunked=%v: 1001 bytes: %d %q", chunked, code, body)
		}
		if code, body := post("big.example.com", 1<<20+1, chunked); code != 413 || !strings.Contains(body, "1 MiB") {
			t.Errorf("chunked=%v: default limit: %d %q", chunked, code, body)
		}
		if code, _ := post("free.example.com", 2<<20, chunked); code != 200 {
			t.Errorf("chunked=%v: no limit: %d", chunked, code)
		}
	}
}

func TestUpstreamTimeout(t *testing.T) {
	p := startProxy(t, "")
	release := make(chan struct{})
	defer close(release)
	const timeout = 150 * time.Millisecond
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			// Headers at once, the body after the timeout: only headers
			// are timed.
			w.WriteHeader(200)
			http.NewResponseController(w).Flush()
			time.Sleep(2 * timeout)
			io.WriteString(w, "done")
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	p.set(Route{App: "slow", Hosts: []string{"slow.example.com"}, Targets: []Target{target(slow, "slow.web.1")}, UpstreamTimeout: 20 * time.Millisecond})
	p.set(Route{App: "stream", Hosts: []string{"stream.example.com"}, Targets: []Target{target(slow, "stream.web.1")}, UpstreamTimeout: timeout})
	start := time.Now()
	code, body, _ := p.get("slow.example.com", "/")
	if code != 504 || body != "slow did not answer in time (504 Gateway Timeout).\n" {
		t.Errorf("got %d %q", code, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	if code, body, _ := p.get("stream.example.com", "/stream"); code != 200 || body != "done" {
		t.Errorf("slow body: %d %q", code, body)
	}
}

func TestGracefulShutdown(t *testing.T) {
	p := startProxy(t, "")
	arrived := make(chan struct{})
	release := make(chan struct{})
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "finished")
	}))
	defer b.Close()
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(b, "shop.web.1")}})
	type result struct {
		code int
		body string
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(p.request("GET", "shop.example.com", "/", nil))
		if err != nil {
			res <- result{0, err.Error()}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(body)}
	}()
	<-arrived
	stopped := make(chan error, 1)
	go func() { stopped <- p.stop() }()
	// New connections are refused once the listener is closed.
	eventually(t, "the listener is closed", func() bool {
		resp, err := http.Get("http://" + p.addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if r := <-res; r.code != 200 || r.body != "finished" {
		t.Errorf("request in flight: %d %q", r.code, r.body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestKeepAliveToBackends(t *testing.T) {
	p := startProxy(t, "")
	var conns atomic.Int64
	b := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	b.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	b.Start()
	defer b.Close()
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(b, "shop.web.1")}})
	for range 20 {
		if code, _, _ := p.get("shop.example.com", "/"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 requests opened %d connections to the backend, want 1", n)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (logs).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAccessLog(t *testing.T) {
	var logs syncBuffer
	p := startProxy(t, "", func(c *Config) {
		c.AccessLog = true
		c.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	shop := newWeb(t, "shop")
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(shop.Server, "shop.web.1")}})
	req := p.request("GET", "shop.example.com", "/cart?token=secret", nil)
	req.Header.Set("X-Request-Id", "req-1")
	p.do(req)
	p.get("nowhere.example.com", "/")
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("access log lines: %v", lines)
	}
	l := lines[0]
	for k, want := range map[string]any{"method": "GET", "host": "shop.example.com", "path": "/cart", "status": 200.0, "bytes": 4.0, "app": "shop", "target": addr(shop.Server), "container": "shop.web.1", "request_id": "req-1"} {
		if l[k] != want {
			t.Errorf("%s = %v, want %v", k, l[k], want)
		}
	}
	if _, ok := l["duration"]; !ok || strings.Contains(logs.String(), "secret") {
		t.Errorf("line %v", l)
	}
	if lines[1]["status"] != 404.0 || lines[1]["host"] != "nowhere.example.com" {
		t.Errorf("404 line %v", lines[1])
	}
}

// A client whose chunked body is malformed gets 400, and the log blames the
// client, not the app (it used to be a 502, "target failed").
func TestMalformedChunkedBodyIsClientError(t *testing.T) {
	var logs syncBuffer
	p := startProxy(t, "", func(c *Config) { c.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "read it all")
	}))
	defer b.Close()
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(b, "shop.web.1")}})

	for name, body := range map[string]string{
		"bad chunk size":   "5\r\nhello\r\nzz\r\nxx\r\n0\r\n\r\n",
		"bad chunk ending": "5\r\nhelloXX\r\n0\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, "POST / HTTP/1.1\r\nHost: shop.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), "Malformed request body") {
			t.Errorf("%s: got %d %q, want 400", name, resp.StatusCode, got)
		}
	}
	if l := logs.String(); strings.Contains(l, "target failed") || !strings.Contains(l, "client sent a malformed request body") {
		t.Errorf("log:\n%s", l)
	}
	// A good chunked body still goes through.
	code, body, _ := p.do(p.request("POST", "shop.example.com", "/", io.MultiReader(strings.NewReader("hello"))))
	if code != 200 || body != "read it all" {
		t.Errorf("good body: %d %q", code, body)
	}
}
