package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// readAnswer reads one response from br (the body whole).
func readAnswer(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// closedWithin fails unless the proxy closes c within d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d + 5*time.Second))
	start := time.Now()
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the connection is still open after %v", what, time.Since(start))
	}
	if took := time.Since(start); took > d+2*time.Second {
		t.Errorf("%s: closed after %v, want about %v", what, took, d)
	}
}

// TestH1LoopTimeouts: the loop keeps net/http's read-header timeout (a
// client sending its head slowly is cut off) and idle timeout (a kept
// connection nobody uses is closed).
func TestH1LoopTimeouts(t *testing.T) {
	t.Parallel()
	be := newWeb(t, "web")
	p := startProxy(t, "", func(c *Config) { c.ReadHeaderTimeout, c.IdleTimeout = 300*time.Millisecond, 500*time.Millisecond })
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(be.Server, "shop.web.1")}})

	slow, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET / HTTP/1.1\r\nHost: shop.exa")
	closedWithin(t, slow, 300*time.Millisecond, "a head never finished")

	idle, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
	if resp, body := readAnswer(t, bufio.NewReader(idle), "GET"); resp.StatusCode != 200 || body != "web" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	closedWithin(t, idle, 500*time.Millisecond, "an idle kept-alive connection")
}

// TestH1LoopPipelinedAndHandedOver: requests sent at once on one
// connection are answered in order, also when one in the middle (a
// chunked body) makes the loop hand the connection to net/http's server,
// and a head larger than the loop's buffer is served by net/http's
// server too (431 beyond its limit, as before).
func TestH1LoopPipelinedAndHandedOver(t *testing.T) {
	t.Parallel()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	}))
	defer be.Close()
	p := startProxy(t, "")
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(be, "shop.web.1")}})

	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const h = "Host: shop.example.com\r\n"
	io.WriteString(c, "GET /one HTTP/1.1\r\n"+h+"\r\n"+
		"POST /two HTTP/1.1\r\n"+h+"Content-Length: 3\r\n\r\nabc"+
		"POST /three HTTP/1.1\r\n"+h+"Transfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"+
		"GET /four HTTP/1.1\r\n"+h+"X-Big: "+strings.Repeat("b", 10<<10)+"\r\n\r\n"+
		"GET /five HTTP/1.1\r\n"+h+"\r\n")
	br := bufio.NewReader(c)
	for _, want := range []string{"GET /one ", "POST /two abc", "POST /three de", "GET /four ", "GET /five "} {
		resp, body := readAnswer(t, br, "GET")
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, want)
		}
	}

	huge, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer huge.Close()
	go io.WriteString(huge, "GET / HTTP/1.1\r\n"+h+"X-Huge: "+strings.Repeat("h", 2<<20)+"\r\n\r\n")
	if resp, _ := readAnswer(t, bufio.NewReader(huge), "GET"); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 2 MiB head: %d, want 431", resp.StatusCode)
	}
}

// TestH1LoopGracefulShutdown: when the proxy stops, a request in flight
// on the loop is answered (and its connection then closed), an idle
// kept-alive connection is closed, and Run returns.
func TestH1LoopGracefulShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			time.Sleep(300 * time.Millisecond)
		}
		io.WriteString(w, "done")
	}))
	defer be.Close()
	p := startProxy(t, "")
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(be, "shop.web.1")}})
	const h = "Host: shop.example.com\r\n"

	idle, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\n"+h+"\r\n")
	readAnswer(t, bufio.NewReader(idle), "GET")

	busy, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\n"+h+"\r\n")
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- p.stop() }()
	resp, body := readAnswer(t, bufio.NewReader(busy), "GET")
	if resp.StatusCode != 200 || body != "done" || !resp.Close {
		t.Errorf("the request in flight: %d %q, closing %v", resp.StatusCode, body, resp.Close)
	}
	closedWithin(t, busy, 0, "the connection after its last request")
	closedWithin(t, idle, 0, "an idle connection")
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}
