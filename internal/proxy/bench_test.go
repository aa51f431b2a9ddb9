package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkProxy measures a small GET through the proxy over kept-alive
// connections, against the same GET sent to the backend directly; proxy
// takes the fast path, proxy-reverseproxy is the same with it off.
func BenchmarkProxy(b *testing.B) {
	body := []byte("hello, world\n")
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
	defer backend.Close()
	p := startProxy(b, "", func(c *Config) { c.Log = slog.New(slog.DiscardHandler) })
	p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}})

	run := func(b *testing.B, url, host string) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
		defer client.CloseIdleConnections()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("GET", url, nil)
				req.Host = host
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	b.Run("direct", func(b *testing.B) { run(b, backend.URL+"/", "shop.example.com") })
	b.Run("proxy", func(b *testing.B) { run(b, "http://"+p.addr+"/", "shop.example.com") })
	b.Run("proxy-reverseproxy", func(b *testing.B) { // the fast path off
		p := startProxy(b, "", func(c *Config) { c.Log = slog.New(slog.DiscardHandler); c.NoFastPath = true })
		p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}})
		run(b, "http://"+p.addr+"/", "shop.example.com")
	})
	b.Run("proxy-nometrics", func(b *testing.B) { // the request counters off: what counting costs
		p := startProxy(b, "", func(c *Config) { c.Log = slog.New(slog.DiscardHandler); c.NoMetrics = true })
		p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}})
		run(b, "http://"+p.addr+"/", "shop.example.com")
	})
	b.Run("proxy-nethttp", func(b *testing.B) { // the fast path on net/http's server, not the HTTP/1.1 loop
		p := startProxy(b, "", func(c *Config) { c.Log = slog.New(slog.DiscardHandler); c.NoH1Loop = true })
		p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}})
		run(b, "http://"+p.addr+"/", "shop.example.com")
	})
	b.Run("proxy-accesslog", func(b *testing.B) {
		p := startProxy(b, "", func(c *Config) { c.Log = slog.New(slog.NewJSONHandler(io.Discard, nil)); c.AccessLog = true })
		p.set(Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}})
		run(b, "http://"+p.addr+"/", "shop.example.com")
	})
}

// BenchmarkProxySequential sends GETs one after another over one kept-alive
// connection, directly, through the HTTP/1.1 loop, the fast path on
// net/http's server and the ReverseProxy, and reports the read and write system calls per request
// of the whole process (client, proxy and backend: /proc/self/io), and
// its CPU time (user and system).
func BenchmarkProxySequential(b *testing.B) {
	body := []byte("hello, world\n")
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
	defer backend.Close()
	route := Route{App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}}
	run := func(b *testing.B, url string) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = "shop.example.com"
		b.ReportAllocs()
		r0, w0 := syscallCounts(b)
		c0 := cpuTime()
		for b.Loop() {
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		c1 := cpuTime()
		r1, w1 := syscallCounts(b)
		b.ReportMetric(float64((c1-c0).Microseconds())/float64(b.N), "cpu-µs/op")
		b.ReportMetric(float64(r1-r0)/float64(b.N), "reads/op")
		b.ReportMetric(float64(w1-w0)/float64(b.N), "writes/op")
	}
	b.Run("direct", func(b *testing.B) { run(b, backend.URL+"/") })
	for _, mode := range []string{"h1loop", "fastpath", "reverseproxy"} {
		b.Run(mode, func(b *testing.B) {
			p := startProxy(b, "", func(c *Config) {
				c.Log = slog.New(slog.DiscardHandler)
				c.NoFastPath, c.NoH1Loop = mode == "reverseproxy", mode != "h1loop"
			})
			p.set(route)
			run(b, "http://"+p.addr+"/")
		})
	}
}

// syscallCounts returns the read and write system calls of this process
// so far.
func syscallCounts(b *testing.B) (reads, writes int64) {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Skip("no /proc/self/io:", err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// BenchmarkServeHTTP measures the proxy's own work per request, without
// the client side: the handler is called directly.
func BenchmarkServeHTTP(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello, world\n"))
	}))
	defer backend.Close()
	s := newServer(b.Context(), Config{}.withDefaults())
	s.mu.Lock()
	if err := s.commit(map[string]Route{"shop": {App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}}}); err != nil {
		b.Fatal(err)
	}
	s.mu.Unlock()
	h := &entry{s: s, port: "80"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "http://shop.example.com/", nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}

// BenchmarkAcquire measures routing alone: host lookup, least-requests
// pick over 3 targets, counting in and out.
func BenchmarkAcquire(b *testing.B) {
	s := newServer(b.Context(), Config{}.withDefaults())
	s.mu.Lock()
	err := s.commit(map[string]Route{
		"shop": {App: "shop", Hosts: []string{"shop.example.com"}, Targets: []Target{{Addr: "127.0.0.1:1001"}, {Addr: "127.0.0.1:1002"}, {Addr: "127.0.0.1:1003"}}},
		"wild": {App: "wild", Hosts: []string{"*.example.org"}, Targets: []Target{{Addr: "127.0.0.1:1004"}}},
	})
	s.mu.Unlock()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rt, i := s.acquire(requestHost("shop.example.com:80"), "", "")
			rt.targets[i].inflight.Add(-1)
		}
	})
}

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
