package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is what a backend received: the request as its server parsed it.
type seen struct {
	Method, URI, Proto, Host string
	Header                   http.Header
	ContentLength            int64
	TransferEncoding         []string
	Body                     string
	Trailer                  http.Header
}

// got is what the client received.
type got struct {
	Informational []string // 1xx responses
	Status        int
	Header        http.Header
	Body          string
	Trailer       http.Header
	Err           string // the body's read error: a cut response
}

// diffBackend answers by path; it records what each request looked like.
type diffBackend struct {
	*httptest.Server
	mu    sync.Mutex
	last  seen
	conns map[string]bool // client addresses seen: connections opened to it
}

func newDiffBackend(t *testing.T) *diffBackend {
	b := &diffBackend{conns: map[string]bool{}}
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Host: r.Host, Header: r.Header.Clone(),
			ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding, Body: string(body), Trailer: r.Trailer}
		b.mu.Lock()
		b.last = s
		b.conns[r.RemoteAddr] = true
		b.mu.Unlock()
		h := w.Header()
		switch r.URL.Path {
		case "/headers":
			h["X-Multi"] = []string{"a", "b"}
			h.Set("Connection", "X-Hop")
			h.Set("X-Hop", "dropped")
			h.Set("Keep-Alive", "timeout=5")
			h.Set("Strict-Transport-Security", "max-age=1")
			h.Set("X-Request-Id", "the-app-says")
			io.WriteString(w, "headers")
		case "/stream": // no Content-Length: chunked, flushed as it goes
			for i := 0; i < 16; i++ {
				io.WriteString(w, big[:64<<10])
				w.(http.Flusher).Flush()
			}
		case "/big":
			h.Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		case "/trailers":
			h.Set("Trailer", "X-Sum")
			io.WriteString(w, "part one, ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part two")
			h.Set("X-Sum", "42")
			h.Set(http.TrailerPrefix+"X-Late", "unannounced")
		case "/events":
			h.Set("Content-Type", "text/event-stream; charset=utf-8")
			h.Set("Content-Length", "12")
			io.WriteString(w, "data: hello\n")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			h.Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		case "/early":
			h.Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "after hints")
		case "/pause": // slower than the fast path's first wait, within the timeout
			time.Sleep(50 * time.Millisecond)
			io.WriteString(w, "paused")
		case "/hugeheaders": // over the 10 MiB the Transport allows
			h.Set("X-Big", strings.Repeat("a", 11<<20))
		case "/slow":
			select {
			case <-time.After(30 * time.Second): // past the route's timeout
			case <-r.Context().Done():
			}
			io.WriteString(w, "slow")
		case "/cut": // promises more than it sends, then drops the connection
			h.Set("Content-Length", "1000")
			io.WriteString(w, "only this")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/drop": // no response at all
			c, _, _ := http.NewResponseController(w).Hijack()
			c.Close()
		case "/close":
			h.Set("Connection", "close")
			io.WriteString(w, "closing")
		default:
			fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
		}
	}))
	b.Config.ErrorLog = nil
	t.Cleanup(b.Close)
	return b
}

func (b *diffBackend) take() (seen, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, n := b.last, len(b.conns)
	b.last, b.conns = seen{}, map[string]bool{}
	return s, n
}

// diffProxy is the proxy's handler on a real net/http server, with or
// without the fast path, or on the HTTP/1.1 loop (h1 set).
type diffProxy struct {
	s   *server
	srv *httptest.Server
	h1  *h1server
}

func newDiffProxy(t *testing.T, noFast bool, r Route) *diffProxy {
	return newDiffProxyOn(t, noFast, false, r)
}

// newLoopProxy is a diffProxy whose connections the HTTP/1.1 loop serves.
func newLoopProxy(t *testing.T, r Route) *diffProxy { return newDiffProxyOn(t, false, true, r) }

func newDiffProxyOn(t *testing.T, noFast, loop bool, r Route) *diffProxy {
	cfg := Config{Log: slog.New(slog.NewTextHandler(t.Output(), nil)), NoFastPath: noFast}.withDefaults()
	s := newServer(t.Context(), cfg)
	s.mu.Lock()
	err := s.commit(map[string]Route{r.App: r})
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	e := &entry{s: s, port: "80"}
	srv := httptest.NewUnstartedServer(e)
	srv.Config.ErrorLog = newErrorLog(s.log)
	var h1 *h1server
	if loop {
		h1 = newH1Server(e, s.ho.track, cfg.IdleTimeout, cfg.ReadHeaderTimeout)
		srv.Listener = h1.listen(srv.Listener)
	}
	srv.Start()
	t.Cleanup(func() {
		if h1 != nil {
			srv.Listener.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			h1.shutdown(ctx)
			cancel()
		}
		srv.Close()
		s.closeIdle()
	})
	return &diffProxy{s: s, srv: srv, h1: h1}
}

// bothServers runs test with the proxy's handler on net/http's server
// and on the HTTP/1.1 loop.
func bothServers(t *testing.T, test func(t *testing.T, loop bool)) {
	t.Run("net-http", func(t *testing.T) { t.Parallel(); test(t, false) })
	t.Run("h1-loop", func(t *testing.T) { t.Parallel(); test(t, true) })
}

// served is how many requests the HTTP/1.1 loop served itself.
func (p *diffProxy) served() int64 { return p.h1.served.Load() }

func (p *diffProxy) fastSent() int64 {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	n := int64(0)
	for _, b := range p.s.backends {
		n += b.fastSent.Load()
	}
	return n
}

// send sends a raw HTTP/1.1 request (written as is: hop-by-hop headers,
// chunked bodies and all) on conn and reads the response.
func send(t *testing.T, br *bufio.Reader, c net.Conn, raw string, method string) got {
	t.Helper()
	// Past the route's timeout (8 s) by far: 11 MiB of headers through the
	// race detector on a loaded machine took over 10 s once.
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	var g got
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	for err == nil && resp.StatusCode < 200 { // informational: recorded, then the response
		g.Informational = append(g.Informational, fmt.Sprint(resp.StatusCode, resp.Header))
		resp, err = http.ReadResponse(br, &http.Request{Method: method})
	}
	if err != nil {
		t.Fatalf("%s: read response: %v", raw[:strings.IndexByte(raw, '\r')], err)
	}
	g.Status, g.Header = resp.StatusCode, resp.Header
	body, err := io.ReadAll(resp.Body)
	g.Body = string(body)
	if err != nil {
		g.Err = "cut"
	}
	g.Trailer = resp.Trailer
	delete(g.Header, "Date")
	return g
}

// TestFastPathBehavesAsReverseProxy sends the same requests through the
// proxy with the fast path and without it (httputil.ReverseProxy), and
// compares what the backend received and what the client got.
func TestFastPathBehavesAsReverseProxy(t *testing.T) {
	t.Parallel()
	be := newDiffBackend(t)
	route := Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(be.Server, "shop.web.1")},
		MaxBodyBytes: 100 << 10, UpstreamTimeout: 8 * time.Second} // time enough for 11 MiB of headers on a loaded machine with the race detector (1.5 s was not at load 15, 3 s not at load 11)
	fastP, slowP, loopP := newDiffProxy(t, false, route), newDiffProxy(t, true, route), newLoopProxy(t, route)

	const h = "Host: shop.example.com\r\nX-Request-Id: req-1\r\n"
	big := strings.Repeat("x", 50<<10)
	cases := []struct {
		name, method, raw string
		fast              bool // the fast path takes it
		backend           bool // the backend gets it (false: it may, or not)
	}{
		{"plain GET", "GET", "GET /plain HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"headers", "GET", "GET /headers?a=1&b=%20x HTTP/1.1\r\n" + h +
			"X-Multi: one\r\nX-Multi: two\r\nAccept: a, b\r\nUser-Agent: ua/1\r\n" +
			"Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic x\r\n" +
			"Te: trailers, deflate\r\nTrailer: X-T\r\nForwarded: for=1.2.3.4\r\n" +
			"X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nX-Forwarded-Proto: https\r\n" +
			"X-Forwarded-Host: evil\r\nX-Real-Ip: 6.6.6.6\r\nX-Forwarded-Port: 1\r\n\r\n", true, true},
		{"no User-Agent, encoded path", "GET", "GET /a%2Fb/c%20d HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"HTTP/1.0", "GET", "GET /old HTTP/1.0\r\nHost: shop.example.com\r\nX-Request-Id: req-1\r\nConnection: keep-alive\r\n\r\n", true, true},
		{"POST Content-Length", "POST", "POST /post HTTP/1.1\r\n" + h + "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world", true, true},
		{"POST empty", "POST", "POST /post HTTP/1.1\r\n" + h + "Content-Length: 0\r\n\r\n", true, true},
		{"DELETE empty", "DELETE", "DELETE /x HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"PUT 50 KiB", "PUT", "PUT /put HTTP/1.1\r\n" + h + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(big)) + big, true, true},
		{"POST chunked with trailer", "POST", "POST /post HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: v\r\n\r\n", false, true},
		{"semicolon query", "GET", "GET /q?a=1;b=2&c=3 HTTP/1.1\r\n" + h + "\r\n", false, true},
		{"Expect", "POST", "POST /post HTTP/1.1\r\n" + h + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", false, true},
		{"HEAD", "HEAD", "HEAD /big HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"big", "GET", "GET /big HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"stream", "GET", "GET /stream HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"trailers", "GET", "GET /trailers HTTP/1.1\r\n" + h + "Te: trailers\r\n\r\n", true, true},
		{"event stream", "GET", "GET /events HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"204", "GET", "GET /204 HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"304", "GET", "GET /304 HTTP/1.1\r\n" + h + "If-None-Match: \"v1\"\r\n\r\n", true, true},
		{"103 early hints", "GET", "GET /early HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"backend closes, no response: 502", "GET", "GET /drop HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"response headers over 10 MiB: 502", "GET", "GET /hugeheaders HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"backend takes 50 ms", "GET", "GET /pause HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"backend too slow: 504", "GET", "GET /slow HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"Connection: close from the backend", "GET", "GET /close HTTP/1.1\r\n" + h + "\r\n", true, true},
		{"Content-Length over the limit: 413", "POST", "POST /post HTTP/1.1\r\n" + h + fmt.Sprintf("Content-Length: %d\r\n\r\n", 101<<10) + strings.Repeat("z", 101<<10), false, false},
		{"chunked over the limit: 413", "POST", "POST /post HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 101<<10, strings.Repeat("y", 101<<10)), false, false},
		{"unknown host: 404", "GET", "GET / HTTP/1.1\r\nHost: nobody.example.com\r\nX-Request-Id: req-1\r\n\r\n", false, false},
	}
	type outcome struct {
		seen seen
		got  got
	}
	run := func(p *diffProxy, raw, method string) outcome {
		c, err := net.Dial("tcp", p.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		g := send(t, bufio.NewReader(c), c, raw, method)
		s, _ := be.take()
		return outcome{s, g}
	}
	for _, tc := range cases {
		before := fastP.fastSent()
		f := run(fastP, tc.raw, tc.method)
		took := fastP.fastSent() > before
		r := run(slowP, tc.raw, tc.method)
		if slowP.fastSent() != 0 {
			t.Fatalf("%s: the proxy without the fast path used it", tc.name)
		}
		// The HTTP/1.1 loop serves what the fast path takes (and the
		// proxy's own pages); the rest goes to net/http's server.
		before = loopP.served()
		l := run(loopP, tc.raw, tc.method)
		if inLoop, want := loopP.served() > before, tc.fast || tc.name == "unknown host: 404"; inLoop != want {
			t.Errorf("%s: served by the HTTP/1.1 loop %v, want %v", tc.name, inLoop, want)
		}
		if took != tc.fast {
			t.Errorf("%s: fast path taken %v, want %v", tc.name, took, tc.fast)
		}
		if tc.backend && f.seen.Method == "" {
			t.Errorf("%s: the backend did not get the request", tc.name)
		}
		// The proxies' ports differ, and so does the order in which the
		// trailer names are announced.
		for _, o := range []*outcome{&f, &r, &l} {
			if o.seen.Header != nil {
				o.seen.Header.Del("X-Forwarded-Port")
			}
			if !tc.backend { // cut short: what the backend read of it varies
				o.seen = seen{}
			}
			// How many 100 Continue the client gets depends on timing.
			o.got.Informational = slices.DeleteFunc(o.got.Informational, func(s string) bool { return strings.HasPrefix(s, "100 ") })
			if tr := o.got.Header["Trailer"]; len(tr) == 1 {
				names := strings.Split(tr[0], ", ")
				sort.Strings(names)
				o.got.Header["Trailer"] = []string{strings.Join(names, ", ")}
			}
		}
		if !reflect.DeepEqual(f.seen, r.seen) {
			t.Errorf("%s: the backend saw\nfast path:     %+v\nReverseProxy:  %+v", tc.name, shortSeen(f.seen), shortSeen(r.seen))
		}
		if !reflect.DeepEqual(f.got, r.got) {
			t.Errorf("%s: the client got\nfast path:     %+v\nReverseProxy:  %+v", tc.name, short(f.got), short(r.got))
		}
		if !reflect.DeepEqual(l.seen, r.seen) {
			t.Errorf("%s: the backend saw\nHTTP/1.1 loop: %+v\nReverseProxy:  %+v", tc.name, shortSeen(l.seen), shortSeen(r.seen))
		}
		if !reflect.DeepEqual(l.got, r.got) {
			t.Errorf("%s: the client got\nHTTP/1.1 loop: %+v\nReverseProxy:  %+v", tc.name, short(l.got), short(r.got))
		}
	}
}

func shortSeen(s seen) seen {
	if len(s.Body) > 200 {
		s.Body = s.Body[:200] + fmt.Sprintf("... (%d bytes)", len(s.Body))
	}
	return s
}

func short(g got) got {
	if len(g.Body) > 200 {
		g.Body = g.Body[:200] + fmt.Sprintf("... (%d bytes)", len(g.Body))
	}
	return g
}

// TestFastPathKeepAliveClosedByTarget: a target that closes each
// connection after one response, without saying so (Connection: close),
// leaves dead connections in the pool; requests that reuse one are sent
// again on a new one (GET: nothing came back), or find it closed before
// they are sent (POST, which cannot be sent twice). All are answered.
func TestFastPathKeepAliveClosedByTarget(t *testing.T) {
	t.Parallel()
	bothServers(t, testKeepAliveClosedByTarget)
}

func testKeepAliveClosedByTarget(t *testing.T, loop bool) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	conns := 0
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns++
			mu.Unlock()
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	route := Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{{Addr: l.Addr().String(), Container: "shop.web.1"}}}
	p := newDiffProxyOn(t, false, loop, route)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	const n = 20
	for i := range n {
		method, body := "GET", io.Reader(nil)
		if i%2 == 1 {
			method, body = "POST", strings.NewReader("payload")
		}
		req, _ := http.NewRequest(method, p.srv.URL+"/", body)
		req.Host = "shop.example.com"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d (%s): %v", i, method, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("request %d (%s): %d %q", i, method, resp.StatusCode, b)
		}
		time.Sleep(time.Millisecond) // the target's close arrives
	}
	if got := p.fastSent(); got < n {
		t.Errorf("the fast path sent %d requests, want at least %d", got, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if conns < n {
		t.Errorf("the target saw %d connections for %d requests", conns, n)
	}
}

// TestFastPathReusesConnections: sequential requests through the fast
// path reach the target over one kept-alive connection.
func TestFastPathReusesConnections(t *testing.T) {
	t.Parallel()
	be := newDiffBackend(t)
	route := Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(be.Server, "shop.web.1")}}
	p := newDiffProxy(t, false, route)
	for i := range 10 {
		c, err := net.Dial("tcp", p.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		g := send(t, bufio.NewReader(c), c, "GET /plain HTTP/1.1\r\nHost: shop.example.com\r\n\r\n", "GET")
		c.Close()
		if g.Status != 200 {
			t.Fatalf("request %d: %+v", i, g)
		}
	}
	if _, conns := be.take(); conns != 1 {
		t.Errorf("10 requests reached the target over %d connections, want 1", conns)
	}
	if p.fastSent() != 10 {
		t.Errorf("the fast path sent %d of 10", p.fastSent())
	}
}

// TestFastPathClientGoneEndsWait: a client that goes away while the
// target thinks ends the request to the target (its context is canceled)
// long before the route's timeout.
func TestFastPathClientGoneEndsWait(t *testing.T) {
	t.Parallel()
	bothServers(t, testClientGoneEndsWait)
}

func testClientGoneEndsWait(t *testing.T, loop bool) {
	canceled := make(chan time.Duration, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then its server watches the connection
		start := time.Now()
		select {
		case <-r.Context().Done():
			canceled <- time.Since(start)
		case <-time.After(10 * time.Second):
		}
	}))
	defer be.Close()
	route := Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(be, "shop.web.1")}, UpstreamTimeout: 30 * time.Second}
	p := newDiffProxyOn(t, false, loop, route)
	for _, req := range []string{
		"GET /wait HTTP/1.1\r\nHost: shop.example.com\r\n\r\n",
		"POST /wait HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 5\r\n\r\nhello",
	} {
		c, err := net.Dial("tcp", p.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, req)
		time.Sleep(200 * time.Millisecond)
		c.Close()
		select {
		case d := <-canceled:
			t.Logf("the target saw the request end after %v", d)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the target's request went on after the client left", req[:4])
		}
	}
	if p.fastSent() != 2 {
		t.Errorf("the fast path sent %d of 2", p.fastSent())
	}
}

// TestFastPathBuffersSmallBodies: a small request body is read whole
// before the target hears of the request, so that a client sending it
// slowly holds no connection to the app.
func TestFastPathBuffersSmallBodies(t *testing.T) {
	t.Parallel()
	bothServers(t, testBuffersSmallBodies)
}

func testBuffersSmallBodies(t *testing.T, loop bool) {
	be := newDiffBackend(t)
	route := Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(be.Server, "shop.web.1")}}
	p := newDiffProxyOn(t, false, loop, route)
	c, err := net.Dial("tcp", p.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /post HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 10\r\n\r\nhello")
	time.Sleep(300 * time.Millisecond)
	if s, conns := be.take(); conns != 0 || s.Method != "" {
		t.Fatalf("the target got the request before its body: %d connections, %+v", conns, s)
	}
	g := send(t, bufio.NewReader(c), c, "world", "POST")
	if s, _ := be.take(); g.Status != 200 || s.Body != "helloworld" {
		t.Errorf("got %+v; the target saw %+v", g, s)
	}
	if p.fastSent() != 1 {
		t.Errorf("the fast path sent %d of 1", p.fastSent())
	}
}

// TestFastPathPoolClosesIdle: connections left idle past the pool's idle
// timeout are closed even when no request comes to reuse them.
func TestFastPathPoolClosesIdle(t *testing.T) {
	t.Parallel()
	p := &connPool{maxIdle: 50 * time.Millisecond}
	var far []net.Conn
	for range 3 {
		a, b := net.Pipe()
		defer b.Close()
		far = append(far, b)
		p.put(&upConn{c: a, pool: p})
	}
	for i, c := range far {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("connection %d: read %v, want EOF (closed by the pool)", i, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) != 0 || p.sweep != nil {
		t.Errorf("after the sweep: %d idle, sweep armed %v", len(p.idle), p.sweep != nil)
	}
}
