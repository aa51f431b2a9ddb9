package loadgen

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCountsStatusesAndHost: every request carries the Host and path asked
// for; 2xx, non-2xx and connection errors are counted apart, and the
// counts add up to what was sent.
func TestCountsStatusesAndHost(t *testing.T) {
	var n atomic.Int64
	var mu sync.Mutex
	hosts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts[r.Host+r.URL.Path]++
		mu.Unlock()
		if n.Add(1)%3 == 0 {
			http.Error(w, "no", http.StatusBadGateway)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	run := Start(Config{Addr: srv.Listener.Addr().String(), Host: "shop.test", Path: "/p", KeepAlive: 2, Fresh: 1, Interval: time.Millisecond})
	for deadline := time.Now().Add(10 * time.Second); n.Load() < 30; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the load sent fewer than 30 requests in 10s")
		}
	}
	s := run.Stop()
	if s.Sent == 0 || s.OK+s.Non2xx+s.ConnErrors != s.Sent {
		t.Fatalf("counts do not add up: %+v", s)
	}
	if s.Non2xx == 0 || s.OK == 0 || s.ConnErrors != 0 {
		t.Errorf("want both 2xx and 502s and no connection errors: %v", s)
	}
	if s.Failed() != s.Non2xx {
		t.Errorf("Failed() = %d, want %d", s.Failed(), s.Non2xx)
	}
	if len(s.Errors) == 0 || len(s.Errors) > 10 || s.Errors[0] != "status 502" {
		t.Errorf("error examples: %q", s.Errors)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hosts) != 1 || hosts["shop.test/p"] == 0 {
		t.Errorf("requests went to %v, want only shop.test/p", hosts)
	}
	// Stop resets: a second snapshot is empty.
	if again := run.Snapshot(); again.Sent != 0 {
		t.Errorf("snapshot after stop: %+v", again)
	}
}

// TestConnectionErrors: a closed port counts as connection errors, not
// as failures of another kind.
func TestConnectionErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	run := Start(Config{Addr: addr, Fresh: 1, Interval: time.Millisecond, Timeout: time.Second})
	var s Stats
	for deadline := time.Now().Add(10 * time.Second); s.Sent == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no request sent in 10s")
		}
		s = run.Snapshot()
	}
	run.Stop()
	if s.ConnErrors == 0 || s.OK != 0 || s.Non2xx != 0 {
		t.Fatalf("stats against a closed port: %+v", s)
	}
	if !strings.Contains(s.Errors[0], "refused") {
		t.Errorf("error example %q, want a refused connection", s.Errors[0])
	}
}

// TestPercentile picks the latency below which p percent finished.
func TestPercentile(t *testing.T) {
	var s Stats
	if s.Percentile(50) != 0 {
		t.Error("no latencies: want 0")
	}
	for i := 10; i >= 1; i-- {
		s.latencies = append(s.latencies, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0, time.Millisecond}, {50, 5 * time.Millisecond}, {99, 9 * time.Millisecond}, {100, 10 * time.Millisecond}} {
		if got := s.Percentile(tc.p); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if s.latencies[0] != 10*time.Millisecond {
		t.Error("Percentile sorted the stats' own latencies")
	}
}
