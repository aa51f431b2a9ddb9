package health

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/appfile"
)

// unit is the scaled "second" of the tests.
const unit = 20 * time.Millisecond

func ip(n int) *int { return &n }

// fake is a Container whose state the test controls.
type fake struct {
	name string
	port int

	mu         sync.Mutex
	running    bool
	restarts   int
	startedAt  time.Time
	stateErr   error
	stateCalls int
	execCalls  [][]string
	exec       func(ctx context.Context, cmd []string) (int, string, error)
}

func newFake(port int) *fake {
	return &fake{name: "web.1", port: port, running: true, startedAt: time.Now()}
}

func (f *fake) Name() string  { return f.name }
func (f *fake) HostPort() int { return f.port }

func (f *fake) State(ctx context.Context) (bool, int, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stateCalls++
	return f.running, f.restarts, f.startedAt, f.stateErr
}

func (f *fake) Exec(ctx context.Context, cmd []string) (int, string, error) {
	f.mu.Lock()
	f.execCalls = append(f.execCalls, cmd)
	ex := f.exec
	f.mu.Unlock()
	if ex == nil {
		return 0, "", nil
	}
	return ex(ctx, cmd)
}

func (f *fake) set(fn func(f *fake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// server starts an httptest server on 127.0.0.1 and a fake container
// publishing it.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *fake) {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s, newFake(portOf(t, s.URL))
}

func portOf(t *testing.T, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sentTo is how a failed path check's message ends when it sent no Host of
// its own.
func sentTo(c *fake, path string) string {
	addr := "127.0.0.1:" + strconv.Itoa(c.port)
	return " (sent to http://" + addr + path + " with Host: " + addr + ")"
}

func opts() RunOptions { return RunOptions{Second: unit} }

// run runs checks with the test unit, returning results, error and output.
//
//lint:ignore ST1008 the output comes last, after what it explains
func run(t *testing.T, c Container, checks ...appfile.Healthcheck) ([]Result, error, string) {
	t.Helper()
	return runOpts(t, c, opts(), checks...)
}

//lint:ignore ST1008 as run
func runOpts(t *testing.T, c Container, o RunOptions, checks ...appfile.Healthcheck) ([]Result, error, string) {
	t.Helper()
	var out strings.Builder
	res, err := RunWith(context.Background(), c, checks, o, &out)
	return res, err, out.String()
}

func pathCheck(path string) appfile.Healthcheck {
	return appfile.Healthcheck{Path: path, Attempts: ip(3), Wait: ip(0), Timeout: ip(25)}
}

func TestPathPass(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.URL.RawQuery != "full=1" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "all ok")
	})
	h := pathCheck("/health?full=1")
	h.Content = "ok"
	res, err, out := run(t, c, h)
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if len(res) != 1 || !res[0].Passed || res[0].Warned || res[0].Attempts != 1 {
		t.Fatalf("results = %+v", res)
	}
	if res[0].Detail != "GET /health?full=1: 200 OK" {
		t.Errorf("Detail = %q", res[0].Detail)
	}
	if res[0].Check.Type != appfile.HealthcheckStartup || res[0].Check.Scheme != "http" {
		t.Errorf("Check lacks defaults: %+v", res[0].Check)
	}
	if want := "       web.1: checking /health?full=1\n"; out != want {
		t.Errorf("output = %q, want %q", out, want)
	}
}

func TestPathAny2xx(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	if _, err, _ := run(t, c, pathCheck("/")); err != nil {
		t.Fatal(err)
	}
}

func TestPathRetriesThenPasses(t *testing.T) {
	var hits atomic.Int32
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	h := pathCheck("/health")
	h.Wait = ip(1)
	start := time.Now()
	res, err, out := run(t, c, h)
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if hits.Load() != 3 || res[0].Attempts != 3 || !res[0].Passed {
		t.Fatalf("hits = %d, results = %+v", hits.Load(), res)
	}
	if el := time.Since(start); el < 2*unit {
		t.Errorf("took %v, want >= 2 waits of %v", el, unit)
	}
	for i := 1; i <= 2; i++ {
		line := "       web.1: /health (attempt " + strconv.Itoa(i) + "/3): 503 Service Unavailable\n"
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	if strings.Contains(out, "attempt 3/3") {
		t.Errorf("output reports the passing attempt:\n%s", out)
	}
}

func TestPathExhaustedMessage(t *testing.T) {
	var hits atomic.Int32
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "broken\nbadly", http.StatusInternalServerError)
	})
	next := pathCheck("/never")
	res, err, out := run(t, c, pathCheck("/health"), next)
	if err == nil {
		t.Fatalf("no error\n%s", out)
	}
	want := "web.1: check /health failed after 3 attempts: 500 Internal Server Error" + sentTo(c, "/health")
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	var he *Error
	if !errors.As(err, &he) || he.Container != "web.1" || he.Attempts != 3 || he.Check != "/health" {
		t.Errorf("err = %#v", err)
	}
	if hits.Load() != 3 {
		t.Errorf("hits = %d, want 3 (the later check must not run)", hits.Load())
	}
	if len(res) != 1 || res[0].Passed || res[0].Warned || res[0].Detail != "GET /health: 500 Internal Server Error" {
		t.Errorf("results = %+v", res)
	}
	if n := strings.Count(out, "\n"); n != 4 {
		t.Errorf("want 4 output lines (start + 3 attempts), got %d:\n%s", n, out)
	}
}

func TestPathNamedCheckMessage(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", http.StatusBadGateway) })
	h := pathCheck("/health")
	h.Name = "check-1"
	h.Attempts = ip(1)
	_, err, out := run(t, c, h)
	addr := "127.0.0.1:" + strconv.Itoa(c.port)
	sent := " (sent to http://" + addr + "/health with Host: " + addr + ")"
	want := `web.1: check "check-1" failed: GET /health: 502 Bad Gateway` + sent
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if !strings.Contains(out, `web.1: "check-1" (attempt 1/1): GET /health: 502 Bad Gateway`+sent) {
		t.Errorf("output:\n%s", out)
	}
}

// hostOnly is an app that, like Django with ALLOWED_HOSTS, answers 400
// unless the Host is one of hosts; it records the hosts it got.
func hostOnly(t *testing.T, hosts ...string) (*fake, func() []string) {
	var mu sync.Mutex
	var got []string
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Host)
		mu.Unlock()
		for _, h := range hosts {
			if r.Host == h {
				io.WriteString(w, "ok")
				return
			}
		}
		http.Error(w, "Bad Request (400)", http.StatusBadRequest)
	})
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func TestPathSendsRunOptionsHost(t *testing.T) {
	// A relative path is sent with RunOptions.Host, the app's domain.
	c, got := hostOnly(t, "www.example.com")
	o := opts()
	o.Host = "www.example.com"
	if _, err, out := runOpts(t, c, o, pathCheck("/")); err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if g := got(); !slices.Equal(g, []string{"www.example.com"}) {
		t.Errorf("hosts = %q", g)
	}

	// Without one, the address connected to; a failure says what was sent.
	c, _ = hostOnly(t, "www.example.com")
	_, err, out := run(t, c, pathCheck("/"))
	addr := "127.0.0.1:" + strconv.Itoa(c.port)
	want := "web.1: check / failed after 3 attempts: 400 Bad Request (sent to http://" + addr + "/ with Host: " + addr + ")"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if !strings.Contains(out, "web.1: / (attempt 3/3): 400 Bad Request (sent to http://"+addr+"/ with Host: "+addr+")") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Contains(out, "(attempt 1/3): 400 Bad Request (sent") {
		t.Errorf("earlier attempts should stay short:\n%s", out)
	}
}

func TestPathOwnHostWins(t *testing.T) {
	// CHECKS lines: "//host/path" and "http://host/path" keep their host,
	// "/path" gets RunOptions.Host.
	c, got := hostOnly(t, "api.example.com", "admin.example.com", "www.example.com")
	checks, err := appfile.ParseChecks([]byte("WAIT=0\n//api.example.com/\nhttp://admin.example.com/x\n/\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := opts()
	o.Host = "www.example.com"
	if _, err, out := runOpts(t, c, o, checks.ToHealthchecks()...); err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if g, want := got(), []string{"api.example.com", "admin.example.com", "www.example.com"}; !slices.Equal(g, want) {
		t.Errorf("hosts = %q, want %q", g, want)
	}

	// An app.json check's own Host header too.
	c, _ = hostOnly(t, "www.example.com")
	h := pathCheck("/")
	h.Attempts = ip(1)
	h.HTTPHeaders = []appfile.HTTPHeader{{Name: "host", Value: "other.example.com"}}
	_, err, _ = runOpts(t, c, o, h)
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request (sent to http://127.0.0.1:"+strconv.Itoa(c.port)+"/ with Host: other.example.com)") {
		t.Errorf("err = %v", err)
	}
}

func TestPathContentMissing(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "not yet") })
	h := pathCheck("/")
	h.Content = "ready"
	h.Attempts = ip(1)
	res, err, _ := run(t, c, h)
	if err == nil {
		t.Fatal("passed without the content")
	}
	if want := `GET /: 200 OK, body lacks "ready"`; res[0].Detail != want {
		t.Errorf("Detail = %q, want %q", res[0].Detail, want)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), `body lacks "ready"`) {
		t.Errorf("err = %q", err)
	}
}

func TestPathHeaders(t *testing.T) {
	var got http.Header
	var host string
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		got, host = r.Header.Clone(), r.Host
	})
	h := pathCheck("/")
	h.HTTPHeaders = []appfile.HTTPHeader{{Name: "Host", Value: "app.example.com"}, {Name: "X-Forwarded-Proto", Value: "https"}}
	if _, err, _ := run(t, c, h); err != nil {
		t.Fatal(err)
	}
	if host != "app.example.com" {
		t.Errorf("Host = %q", host)
	}
	if got.Get("X-Forwarded-Proto") != "https" || got.Get("User-Agent") != userAgent {
		t.Errorf("headers = %v", got)
	}
}

func TestPathHTTPS(t *testing.T) {
	var sni string
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni = r.TLS.ServerName
		io.WriteString(w, "secure ok")
	}))
	s.StartTLS()
	t.Cleanup(s.Close)
	c := newFake(portOf(t, s.URL))
	h := pathCheck("/")
	h.Scheme = "https"
	h.Content = "secure"
	h.HTTPHeaders = []appfile.HTTPHeader{{Name: "host", Value: "app.example.com:443"}}
	if _, err, out := run(t, c, h); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sni != "app.example.com" {
		t.Errorf("TLS server name = %q", sni)
	}
}

func TestPathTimeout(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	h := pathCheck("/slow")
	h.Timeout, h.Attempts = ip(2), ip(2)
	start := time.Now()
	res, err, _ := run(t, c, h)
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v", el)
	}
	want := "web.1: check /slow failed after 2 attempts: timed out after 40ms" + sentTo(c, "/slow")
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if res[0].Detail != "GET /slow: timed out after 40ms" {
		t.Errorf("Detail = %q", res[0].Detail)
	}
}

func TestPathConnectionRefused(t *testing.T) {
	s, c := server(t, func(w http.ResponseWriter, r *http.Request) {})
	s.Close()
	h := pathCheck("/")
	h.Attempts = ip(1)
	res, err, _ := run(t, c, h)
	if err == nil || res[0].Detail != "GET /: connection refused" {
		t.Errorf("err = %v, results = %+v", err, res)
	}
}

func TestPathRedirects(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/here":
			http.Redirect(w, r, "/there", http.StatusFound)
		case "/away":
			http.Redirect(w, r, "http://example.invalid/", http.StatusMovedPermanently)
		case "/there":
			io.WriteString(w, "ok")
		}
	})
	h := pathCheck("/here")
	h.Content = "ok"
	if _, err, _ := run(t, c, h); err != nil {
		t.Errorf("same-host redirect: %v", err)
	}
	h = pathCheck("/away")
	h.Attempts = ip(1)
	res, err, _ := run(t, c, h)
	if err == nil || res[0].Detail != "GET /away: 301 Moved Permanently (redirect to http://example.invalid/)" {
		t.Errorf("err = %v, results = %+v", err, res)
	}
}

func TestWarn(t *testing.T) {
	var hits atomic.Int32
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/optional" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	opt := pathCheck("/optional")
	opt.Warn, opt.Attempts = true, ip(2)
	res, err, out := run(t, c, opt, pathCheck("/health"))
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if len(res) != 2 || res[0].Passed || !res[0].Warned || !res[1].Passed || res[1].Warned {
		t.Fatalf("results = %+v", res)
	}
	if res[0].Detail != "GET /optional: 500 Internal Server Error" {
		t.Errorf("Detail = %q", res[0].Detail)
	}
	if !strings.Contains(out, "/optional (attempt 2/2): 500 Internal Server Error"+sentTo(c, "/optional")+" (warn only)") {
		t.Errorf("output:\n%s", out)
	}
	if hits.Load() != 3 {
		t.Errorf("hits = %d", hits.Load())
	}
}

func TestCommand(t *testing.T) {
	c := newFake(0)
	c.exec = func(ctx context.Context, cmd []string) (int, string, error) {
		if cmd[len(cmd)-1] == "good" {
			return 0, "fine\n", nil
		}
		return 3, "starting\n\nerror: db unreachable\n", nil
	}
	good := appfile.Healthcheck{Command: []string{"/bin/sh", "-c", "good"}, Attempts: ip(2), Wait: ip(0)}
	res, err, _ := run(t, c, good)
	if err != nil || !res[0].Passed || res[0].Detail != "exited 0" {
		t.Fatalf("err = %v, results = %+v", err, res)
	}

	bad := appfile.Healthcheck{Command: []string{"./bin/check", "bad"}, Attempts: ip(2), Wait: ip(0)}
	res, err, out := run(t, c, bad)
	want := `web.1: check "./bin/check bad" failed after 2 attempts: exited 3: starting | error: db unreachable`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if res[0].Detail != "exited 3: starting | error: db unreachable" || res[0].Attempts != 2 {
		t.Errorf("results = %+v", res)
	}
	if !strings.Contains(out, `web.1: "./bin/check bad" (attempt 1/2): exited 3: starting | error: db unreachable`) {
		t.Errorf("output:\n%s", out)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.execCalls) != 3 || strings.Join(c.execCalls[2], " ") != "./bin/check bad" {
		t.Errorf("exec calls = %q", c.execCalls)
	}
}

func TestCommandTimeoutIgnoredByExec(t *testing.T) {
	c := newFake(0)
	release := make(chan struct{})
	defer close(release)
	c.exec = func(ctx context.Context, cmd []string) (int, string, error) {
		<-release // does not honour ctx
		return 0, "", nil
	}
	h := appfile.Healthcheck{Command: []string{"sleep"}, Attempts: ip(1), Timeout: ip(1)}
	start := time.Now()
	res, err, _ := run(t, c, h)
	if time.Since(start) > time.Second || err == nil || res[0].Detail != "timed out after 20ms" {
		t.Errorf("err = %v, results = %+v", err, res)
	}
}

func TestUptime(t *testing.T) {
	t.Run("long enough", func(t *testing.T) {
		c := newFake(0)
		c.startedAt = time.Now().Add(-time.Hour)
		res, err, out := run(t, c, appfile.Healthcheck{Uptime: 10})
		if err != nil || !res[0].Passed {
			t.Fatalf("err = %v, results = %+v", err, res)
		}
		if !strings.Contains(out, "web.1: waiting for 200ms of uptime") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("waits", func(t *testing.T) {
		c := newFake(0)
		start := time.Now()
		c.startedAt = start
		res, err, _ := run(t, c, appfile.Healthcheck{Uptime: 4})
		if err != nil || !res[0].Passed {
			t.Fatalf("err = %v, results = %+v", err, res)
		}
		if el := time.Since(start); el < 4*unit {
			t.Errorf("passed after %v, want >= %v", el, 4*unit)
		}
		if c.stateCalls < 2 {
			t.Errorf("State polled %d times", c.stateCalls)
		}
	})
	t.Run("restarts", func(t *testing.T) {
		c := newFake(0)
		c.restarts = 2
		c.startedAt = time.Now().Add(-time.Hour)
		res, err, _ := run(t, c, appfile.Healthcheck{Name: "up", Uptime: 10})
		want := `web.1: check "up" failed: restarted 2 times`
		if err == nil || err.Error() != want || res[0].Detail != "restarted 2 times" {
			t.Errorf("err = %v, results = %+v", err, res)
		}
	})
	t.Run("restarts while waiting", func(t *testing.T) {
		c := newFake(0)
		go func() {
			time.Sleep(2 * unit)
			c.set(func(f *fake) { f.restarts = 1 })
		}()
		start := time.Now()
		res, err, _ := run(t, c, appfile.Healthcheck{Uptime: 50})
		if time.Since(start) > 25*unit || err == nil || res[0].Detail != "restarted 1 time" {
			t.Errorf("err = %v, results = %+v", err, res)
		}
	})
	t.Run("started again", func(t *testing.T) {
		c := newFake(0)
		go func() {
			time.Sleep(2 * unit)
			c.set(func(f *fake) { f.startedAt = time.Now() })
		}()
		res, err, _ := run(t, c, appfile.Healthcheck{Uptime: 50})
		if err == nil || !strings.HasPrefix(res[0].Detail, "restarted (started again at ") {
			t.Errorf("err = %v, results = %+v", err, res)
		}
	})
	t.Run("not running", func(t *testing.T) {
		c := newFake(0)
		c.running = false
		c.restarts = 3
		res, err, _ := run(t, c, appfile.Healthcheck{Uptime: 1, Warn: true})
		if err == nil || res[0].Warned || res[0].Detail != "container not running (restarted 3 times)" {
			t.Errorf("err = %v, results = %+v", err, res)
		}
	})
	t.Run("state error", func(t *testing.T) {
		c := newFake(0)
		c.stateErr = errors.New("daemon\ngone")
		res, err, _ := run(t, c, appfile.Healthcheck{Uptime: 1})
		if err == nil || res[0].Detail != "cannot inspect the container: daemon gone" {
			t.Errorf("err = %v, results = %+v", err, res)
		}
	})
}

func TestListening(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {})
	h := appfile.Healthcheck{Listening: true, Attempts: ip(2), Wait: ip(0), Timeout: ip(25)}
	if res, err, out := run(t, c, h); err != nil || !res[0].Passed {
		t.Fatalf("err = %v, results = %+v\n%s", err, res, out)
	}

	s, c := server(t, func(w http.ResponseWriter, r *http.Request) {})
	s.Close()
	res, err, _ := run(t, c, h)
	if err == nil || res[0].Detail != "connection refused" {
		t.Errorf("closed port: err = %v, results = %+v", err, res)
	}
	if !strings.Contains(err.Error(), "check listening failed after 2 attempts: connection refused") {
		t.Errorf("err = %q", err)
	}
}

func TestListeningBehindProxy(t *testing.T) {
	// A proxy accepting on the published port with nothing behind it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	c := newFake(ln.Addr().(*net.TCPAddr).Port)
	h := appfile.Healthcheck{Listening: true, Attempts: ip(1), Timeout: ip(10)}
	res, err, _ := run(t, c, h)
	if err == nil || !strings.HasPrefix(res[0].Detail, "connection closed at once") {
		t.Errorf("err = %v, results = %+v", err, res)
	}
}

func TestInitialDelay(t *testing.T) {
	var first atomic.Int64
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		first.CompareAndSwap(0, time.Now().UnixNano())
	})
	h := pathCheck("/")
	h.InitialDelay = ip(5)
	start := time.Now()
	res, err, out := run(t, c, h)
	if err != nil || !res[0].Passed {
		t.Fatalf("err = %v, results = %+v", err, res)
	}
	if d := time.Duration(first.Load() - start.UnixNano()); d < 5*unit {
		t.Errorf("first request after %v, want >= %v", d, 5*unit)
	}
	if !strings.Contains(out, "checking /, after 100ms") {
		t.Errorf("output:\n%s", out)
	}
}

// A delay the app did not choose (CHECKS without WAIT) ends as soon as the
// check would pass; one it set is waited out (TestInitialDelay).
func TestDefaultDelayEndsEarly(t *testing.T) {
	var requests atomic.Int64
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { requests.Add(1) })
	h := pathCheck("/")
	h.InitialDelay, h.DefaultDelay = ip(40), true
	start := time.Now()
	res, err, out := run(t, c, h)
	if err != nil || !res[0].Passed || res[0].Attempts != 1 {
		t.Fatalf("err = %v, results = %+v", err, res)
	}
	if el := time.Since(start); el >= 40*unit {
		t.Errorf("passed after %v, want well before the %v delay", el, 40*unit)
	}
	if requests.Load() < 2 {
		t.Errorf("%d requests, want the early try and the counted attempt", requests.Load())
	}
	if !strings.Contains(out, "checking /, within 800ms (as soon as it answers)") {
		t.Errorf("output:\n%s", out)
	}
}

// While the check fails, the default delay runs its full length and the
// counted attempts follow as before: failed early tries count for nothing.
func TestDefaultDelayFailingWaitsItOut(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	h := pathCheck("/")
	h.InitialDelay, h.DefaultDelay = ip(5), true
	h.Attempts, h.Wait = ip(2), ip(1)
	start := time.Now()
	res, err, _ := run(t, c, h)
	if err == nil || res[0].Passed || res[0].Attempts != 2 {
		t.Fatalf("err = %v, results = %+v", err, res)
	}
	if el := time.Since(start); el < 6*unit {
		t.Errorf("failed after %v, want the whole delay and wait (%v)", el, 6*unit)
	}
}

// A container that stops during the default delay fails the check at once.
func TestDefaultDelayStopped(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	h := pathCheck("/")
	h.InitialDelay, h.DefaultDelay = ip(100), true
	time.AfterFunc(2*unit, func() { c.set(func(f *fake) { f.running = false }) })
	start := time.Now()
	res, err, _ := run(t, c, h)
	if err == nil || res[0].Passed || !strings.Contains(res[0].Detail, "not running") {
		t.Fatalf("err = %v, results = %+v", err, res)
	}
	if el := time.Since(start); el > 50*unit {
		t.Errorf("failed after %v", el)
	}
}

func TestCancel(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	h := pathCheck("/")
	h.Attempts, h.Wait = ip(100), ip(100)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*unit, cancel)
	start := time.Now()
	res, err := RunWith(ctx, c, []appfile.Healthcheck{h}, opts(), io.Discard)
	if el := time.Since(start); el > 20*unit {
		t.Errorf("returned after %v", el)
	}
	if !errors.Is(err, context.Canceled) || len(res) != 0 {
		t.Errorf("err = %v, results = %+v", err, res)
	}
	if !strings.HasPrefix(err.Error(), "web.1: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %q", err)
	}
}

func TestCancelDuringUptime(t *testing.T) {
	c := newFake(0)
	ctx, cancel := context.WithTimeout(context.Background(), 3*unit)
	defer cancel()
	start := time.Now()
	_, err := RunWith(ctx, c, nil, RunOptions{DefaultUptime: time.Hour}, io.Discard)
	if time.Since(start) > 20*unit || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
}

func TestDefaultUptime(t *testing.T) {
	c := newFake(0)
	start := time.Now()
	c.startedAt = start
	res, err, out := runOpts(t, c, RunOptions{DefaultUptime: 60 * time.Millisecond})
	if err != nil || len(res) != 1 || !res[0].Passed {
		t.Fatalf("err = %v, results = %+v", err, res)
	}
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Errorf("passed after %v", el)
	}
	if h := res[0].Check; h.Kind() != appfile.UptimeCheck || h.Name != "default" || h.Uptime != 1 {
		t.Errorf("Check = %+v", h)
	}
	if !strings.Contains(out, `web.1: checking "default": waiting for 60ms of uptime`) {
		t.Errorf("output:\n%s", out)
	}
}

func TestDefaultUptimeZero(t *testing.T) {
	// RunWith takes DefaultUptime as given: zero requires no uptime, only a
	// running container without restarts.
	c := newFake(0)
	start := time.Now()
	res, err, _ := run(t, c)
	if err != nil || len(res) != 1 || !res[0].Passed || res[0].Check.Uptime != 0 || time.Since(start) > 5*unit {
		t.Errorf("err = %v, results = %+v after %v", err, res, time.Since(start))
	}
	c.restarts = 1
	if _, err, _ := run(t, c); err == nil || !strings.Contains(err.Error(), "restarted 1 time") {
		t.Errorf("err = %v", err)
	}
}

func TestRunDefaultUptime(t *testing.T) {
	// Run's default check wants appfile.DefaultUptime seconds.
	c := newFake(0)
	c.startedAt = time.Now().Add(-time.Minute)
	res, err := Run(context.Background(), c, nil, nil)
	if err != nil || len(res) != 1 || !res[0].Passed || res[0].Check.Uptime != appfile.DefaultUptime {
		t.Fatalf("err = %v, results = %+v", err, res)
	}
	c.startedAt = time.Now().Add(-(appfile.DefaultUptime*time.Second - 3*unit))
	start := time.Now()
	if _, err := Run(context.Background(), c, nil, nil); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 2*unit || el > time.Second {
		t.Errorf("passed after %v, want about %v", el, 3*unit)
	}
}

func TestOnlyStartupChecksRun(t *testing.T) {
	var hits atomic.Int32
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c.startedAt = time.Now().Add(-time.Hour)
	live := pathCheck("/live")
	live.Type = appfile.HealthcheckLiveness
	ready := pathCheck("/ready")
	ready.Type = appfile.HealthcheckReadiness
	res, err, _ := runOpts(t, c, RunOptions{Second: unit, DefaultUptime: time.Second}, live, ready)
	if err != nil || len(res) != 1 || res[0].Check.Kind() != appfile.UptimeCheck || res[0].Check.Uptime != 50 || hits.Load() != 0 {
		t.Errorf("err = %v, hits = %d, results = %+v", err, hits.Load(), res)
	}

	startup := pathCheck("/start")
	startup.Type = appfile.HealthcheckStartup
	res, err, _ = run(t, c, live, startup, pathCheck("/plain"))
	if err != nil || len(res) != 2 || res[0].Check.Path != "/start" || res[1].Check.Path != "/plain" {
		t.Errorf("err = %v, results = %+v", err, res)
	}
}

func TestStoppedFailsEveryCheck(t *testing.T) {
	var hits atomic.Int32
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c.running = false
	warn := pathCheck("/a")
	warn.Warn = true
	cmd := appfile.Healthcheck{Command: []string{"true"}}
	res, err, out := run(t, c, warn, pathCheck("/b"), cmd)
	if err == nil || err.Error() != "web.1: check /a failed: container not running" {
		t.Errorf("err = %v", err)
	}
	if len(res) != 3 || hits.Load() != 0 || len(c.execCalls) != 0 {
		t.Fatalf("hits = %d, results = %+v", hits.Load(), res)
	}
	for _, r := range res {
		if r.Passed || r.Warned || r.Detail != "container not running" {
			t.Errorf("result = %+v", r)
		}
	}
	if strings.Count(out, "container not running") != 3 {
		t.Errorf("output:\n%s", out)
	}
}

func TestStopDuringWait(t *testing.T) {
	var hits atomic.Int32
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := pathCheck("/")
	h.Wait = ip(100) // 2 s: the stop must cut it short
	go func() {
		time.Sleep(3 * unit)
		c.set(func(f *fake) { f.running = false; f.restarts = 1 })
	}()
	start := time.Now()
	res, err, _ := run(t, c, h)
	if el := time.Since(start); el > 30*unit {
		t.Errorf("returned after %v", el)
	}
	if err == nil || res[0].Detail != "container not running (restarted 1 time)" || res[0].Attempts != 1 || hits.Load() != 1 {
		t.Errorf("err = %v, hits = %d, results = %+v", err, hits.Load(), res)
	}
}

func TestUnreachablePort(t *testing.T) {
	var hits atomic.Int32
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	h := pathCheck("/")
	h.Port = 8080
	res, err, _ := runOpts(t, c, RunOptions{Second: unit, WebPort: 5000}, h)
	want := "web.1: check / failed: port 8080 cannot be checked: only the web port 5000 is published"
	if err == nil || err.Error() != want || hits.Load() != 0 || res[0].Attempts != 0 {
		t.Errorf("err = %v, want %q; results = %+v", err, want, res)
	}

	h.Port = 5000
	if _, err, _ := runOpts(t, c, RunOptions{Second: unit, WebPort: 5000}, h); err != nil {
		t.Errorf("web port: %v", err)
	}

	worker := newFake(0)
	worker.name = "worker.1"
	l := appfile.Healthcheck{Listening: true}
	_, err, _ = run(t, worker, l)
	if err == nil || !strings.Contains(err.Error(), "worker.1: check listening failed: no published port") {
		t.Errorf("err = %v", err)
	}
}

func TestRunDefaults(t *testing.T) {
	_, c := server(t, func(w http.ResponseWriter, r *http.Request) {})
	res, err := Run(context.Background(), c, []appfile.Healthcheck{{Path: "/"}}, nil)
	if err != nil || len(res) != 1 || !res[0].Passed {
		t.Fatalf("err = %v, results = %+v", err, res)
	}
	if h := res[0].Check; *h.Attempts != 3 || *h.Timeout != 5 || *h.Wait != 5 || *h.InitialDelay != 0 {
		t.Errorf("Check = %+v", h)
	}
}

func TestLiveness(t *testing.T) {
	if Liveness(nil) != nil {
		t.Error("Liveness(nil) != nil")
	}
	checks := []appfile.Healthcheck{
		{Path: "/start"},
		{Type: appfile.HealthcheckLiveness, Command: []string{"true"}},
		{Type: appfile.HealthcheckLiveness, Path: "/live"},
		{Type: appfile.HealthcheckLiveness, Path: "/live2"},
	}
	l := Liveness(checks)
	if l == nil || l.Path != "/live" || l.Attempts == nil || *l.Attempts != 3 || l.Scheme != "http" {
		t.Fatalf("Liveness = %+v", l)
	}
	*l.Attempts = 9
	if checks[2].Attempts != nil {
		t.Error("Liveness shares memory with its input")
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		" a \r\n\tb  c ":    "a b c",
		"x\u2028y":          "x y",
		"abcdefghijklmnopq": "abcdefg...",
	} {
		if got := oneLine(in, 10); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
	if got := tail("a\n\nb\r\nc\n", 100); got != "a | b | c" {
		t.Errorf("tail = %q", got)
	}
	long := strings.Repeat("x", 50) + "\n" + strings.Repeat("y", 30)
	if got := tail(long, 40); len(got) != 40 || !strings.HasPrefix(got, "...") || !strings.HasSuffix(got, "y") {
		t.Errorf("tail = %q", got)
	}
}
