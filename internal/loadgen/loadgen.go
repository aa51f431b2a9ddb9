// Package loadgen sends a steady stream of HTTP requests and counts what
// went wrong, for the zero-downtime tests and benchmarks: it is how Berth
// shows that a deploy, a rollback or a restart drops no request.
package loadgen

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Config describes the load.
type Config struct {
	// Addr is the proxy's address (host:port); Host is the Host header.
	Addr, Host, Path string
	// KeepAlive workers reuse connections; Fresh workers open a new
	// connection per request.
	KeepAlive, Fresh int
	// Interval between a worker's requests (0: back to back).
	Interval time.Duration
	Timeout  time.Duration
	// TLS, if set, sends HTTPS (Addr is then the HTTPS listener); HTTP2
	// offers HTTP/2 there.
	TLS   *tls.Config
	HTTP2 bool
}

// Stats are the results of a run.
type Stats struct {
	Sent, OK, Non2xx, ConnErrors int
	// Errors holds a few examples of what failed.
	Errors    []string
	latencies []time.Duration
}

// Failed is the number of requests that did not get a 2xx.
func (s Stats) Failed() int { return s.Non2xx + s.ConnErrors }

// Percentile returns the latency under which p (0-100) of requests finished.
func (s Stats) Percentile(p float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), s.latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(float64(len(l)-1) * p / 100)
	return l[i]
}

func (s Stats) String() string {
	return fmt.Sprintf("sent %d, 2xx %d, non-2xx %d, connection errors %d, p50 %v, p99 %v",
		s.Sent, s.OK, s.Non2xx, s.ConnErrors, s.Percentile(50).Round(time.Microsecond), s.Percentile(99).Round(time.Microsecond))
}

// Run is a running load.
type Run struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	stats  Stats
}

// Start begins sending requests until Stop.
func Start(cfg Config) *Run {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{cancel: cancel}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", cfg.Addr)
	}
	keep := &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: cfg.KeepAlive + 1, TLSClientConfig: cfg.TLS, ForceAttemptHTTP2: cfg.HTTP2}}
	fresh := &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true, TLSClientConfig: cfg.TLS}}
	worker := func(c *http.Client) {
		defer r.wg.Done()
		for ctx.Err() == nil {
			r.one(ctx, c, cfg)
			if cfg.Interval > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(cfg.Interval):
				}
			}
		}
	}
	for range cfg.KeepAlive {
		r.wg.Add(1)
		go worker(keep)
	}
	for range cfg.Fresh {
		r.wg.Add(1)
		go worker(fresh)
	}
	return r
}

func (r *Run) one(ctx context.Context, c *http.Client, cfg Config) {
	scheme := "http://"
	if cfg.TLS != nil {
		scheme = "https://"
	}
	req, _ := http.NewRequest(http.MethodGet, scheme+cfg.Addr+cfg.Path, nil)
	req.Host = cfg.Host
	start := time.Now()
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return // stopped mid-request: not counted
	}
	var status int
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	d := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Sent++
	switch {
	case err != nil:
		r.stats.ConnErrors++
		if len(r.stats.Errors) < 10 {
			r.stats.Errors = append(r.stats.Errors, err.Error())
		}
	case status < 200 || status > 299:
		r.stats.Non2xx++
		if len(r.stats.Errors) < 10 {
			r.stats.Errors = append(r.stats.Errors, fmt.Sprintf("status %d", status))
		}
	default:
		r.stats.OK++
		r.stats.latencies = append(r.stats.latencies, d)
	}
}

// Snapshot returns the counts so far and resets them.
func (r *Run) Snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	r.stats = Stats{}
	return s
}

// Stop ends the load and returns the counts since the last Snapshot.
func (r *Run) Stop() Stats {
	r.cancel()
	r.wg.Wait()
	return r.Snapshot()
}
