package metrics

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/proxy"
)

type fakeProxy struct {
	mu   sync.Mutex
	snap proxy.Snapshot
	err  error
}

func (f *fakeProxy) Metrics(context.Context) (proxy.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	s.Apps = append([]proxy.AppMetrics(nil), s.Apps...)
	for i := range s.Apps {
		s.Apps[i].Buckets = append([]uint64(nil), s.Apps[i].Buckets...)
	}
	return s, f.err
}

// count adds n requests of status class cls (1..5) taking d to app's
// release.
func (f *fakeProxy) count(app string, release, cls, n int, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.snap.Apps {
		m := &f.snap.Apps[i]
		if m.App == app && m.Release == release {
			m.Status[cls-1] += uint64(n)
			m.BytesOut += uint64(10 * n)
			m.Buckets[bucket(d)] += uint64(n)
			m.LatencyNanos += uint64(n) * uint64(d)
			return
		}
	}
	f.snap.Apps = append(f.snap.Apps, proxy.AppMetrics{App: app, Release: release, Live: true, Buckets: make([]uint64, numBuckets)})
	f.mu.Unlock()
	f.count(app, release, cls, n, d)
	f.mu.Lock()
}

func bucket(d time.Duration) int {
	for i, b := range proxy.LatencyBuckets {
		if d <= b {
			return i
		}
	}
	return len(proxy.LatencyBuckets)
}

type fakeEngine struct {
	cs    []Container
	stats map[string]docker.ContainerStats
}

func (f *fakeEngine) AppContainers(context.Context) ([]Container, error) { return f.cs, nil }
func (f *fakeEngine) Stats(_ context.Context, id string) (docker.ContainerStats, error) {
	s, ok := f.stats[id]
	if !ok {
		return s, docker.ErrNotFound
	}
	return s, nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRingBounded(t *testing.T) {
	t.Parallel()
	r := ring{max: 100}
	for i := range 10_000 {
		r.push(point{t: uint32(i)})
		if len(r.buf) > 100 || cap(r.buf) > 100 {
			t.Fatalf("after %d points: len %d cap %d", i+1, len(r.buf), cap(r.buf))
		}
	}
	got := r.since(0)
	if len(got) != 100 || got[0].t != 9900 || got[99].t != 9999 {
		t.Fatalf("kept %d points, %d..%d", len(got), got[0].t, got[len(got)-1].t)
	}
	if got := r.since(9990); len(got) != 10 || got[0].t != 9990 {
		t.Fatalf("since: %d points", len(got))
	}
	if p, _ := r.last(); p.t != 9999 {
		t.Fatalf("last %d", p.t)
	}
}

// TestMemoryBound: 20 apps sampled for 24 h at 10 s hold what the
// package doc says, at most.
func TestMemoryBound(t *testing.T) {
	t.Parallel()
	c := New(Config{})
	if c.capacity != 8640 {
		t.Fatalf("capacity %d", c.capacity)
	}
	const pointSize = 28
	if s := int(sizeofPoint()); s != pointSize {
		t.Fatalf("a point is %d bytes, the doc says %d", s, pointSize)
	}
	if bound := 20 * c.capacity * pointSize; bound > 5<<20 {
		t.Fatalf("20 apps: %d bytes", bound)
	}
	// A 1 s interval keeps fewer hours, not more points.
	if c := New(Config{Interval: time.Second}); c.capacity != 8640 {
		t.Fatalf("1 s interval: capacity %d", c.capacity)
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	var b [numBuckets]uint64
	if quantile(0.5, &b) != 0 {
		t.Fatal("empty")
	}
	b[0] = 100 // all within 5 ms
	if q := quantile(0.5, &b); math.Abs(q-0.0025) > 1e-9 {
		t.Fatalf("p50 %v", q)
	}
	b = [numBuckets]uint64{}
	b[1], b[4] = 90, 10 // 90 in (5,10] ms, 10 in (50,100] ms
	if q := quantile(0.5, &b); q <= 0.005 || q > 0.010 {
		t.Fatalf("p50 %v", q)
	}
	if q := quantile(0.95, &b); q <= 0.050 || q > 0.100 {
		t.Fatalf("p95 %v", q)
	}
	b[numBuckets-1] = 1000 // slower than the last bound
	if q := quantile(0.95, &b); q != 10 {
		t.Fatalf("p95 above the last bound: %v", q)
	}
}

func TestSampleRatesAndResets(t *testing.T) {
	t.Parallel()
	p := &fakeProxy{snap: proxy.Snapshot{Epoch: "a", Enabled: true}}
	p.count("shop", 2, 2, 1000, time.Millisecond) // before the daemon looked
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	eng := &fakeEngine{cs: []Container{{App: "shop", ID: "c1", Name: "shop.web.1"}}, stats: map[string]docker.ContainerStats{
		"c1": {Read: clk.t, CPUNanos: 1e9, MemoryBytes: 50 << 20},
	}}
	c := New(Config{Proxy: p, Engine: eng, Interval: 10 * time.Second, Now: clk.now})
	c.Sample(context.Background())
	if got := c.App("shop", 60); len(got.Points) != 0 || got.Releases[0].Requests != 1000 {
		t.Fatalf("first sample: %+v", got)
	}
	// 10 s later: 100 requests, 20 of them 5xx; 5 s of CPU in 10 s.
	clk.t = clk.t.Add(10 * time.Second)
	p.count("shop", 2, 2, 80, 8*time.Millisecond)
	p.count("shop", 2, 5, 20, 80*time.Millisecond)
	eng.stats["c1"] = docker.ContainerStats{Read: clk.t, CPUNanos: 6e9, MemoryBytes: 60 << 20}
	c.Sample(context.Background())
	got := c.App("shop", 60)
	if len(got.Points) != 1 {
		t.Fatalf("points: %+v", got.Points)
	}
	pt := got.Points[0]
	if pt.RequestRate != 10 || pt.ErrorRate != 2 || pt.CPU != 0.5 || pt.Memory != 60<<20 {
		t.Fatalf("point %+v", pt)
	}
	if pt.P50 <= 0.005 || pt.P50 > 0.010 || pt.P95 <= 0.050 || pt.P95 > 0.100 {
		t.Fatalf("quantiles %v %v", pt.P50, pt.P95)
	}
	if got.Release != 2 || got.Releases[0].Requests != 1100 || got.Releases[0].Status[4] != 20 {
		t.Fatalf("releases %+v", got)
	}
	if len(got.Containers) != 1 || got.Containers[0].Name != "shop.web.1" || got.Containers[0].Memory != 60<<20 {
		t.Fatalf("containers %+v", got.Containers)
	}

	// The proxy restarts: its counters start from zero under a new
	// epoch; what it counted since is new, and the totals never go down.
	clk.t = clk.t.Add(10 * time.Second)
	p.mu.Lock()
	p.snap = proxy.Snapshot{Epoch: "b", Enabled: true}
	p.mu.Unlock()
	p.count("shop", 2, 2, 50, time.Millisecond)
	c.Sample(context.Background())
	got = c.App("shop", 60)
	if got.Releases[0].Requests != 1150 || got.Points[1].RequestRate != 5 {
		t.Fatalf("after a proxy restart: %+v", got)
	}
	// The proxy is down: a point without requests, and proxy_up 0.
	clk.t = clk.t.Add(10 * time.Second)
	p.mu.Lock()
	p.err = errors.New("down")
	p.mu.Unlock()
	c.Sample(context.Background())
	got = c.App("shop", 60)
	if len(got.Points) != 3 || got.Points[2].RequestRate != 0 || got.Points[2].Memory == 0 {
		t.Fatalf("proxy down: %+v", got.Points)
	}
	if text := promText(c); !strings.Contains(text, "berth_proxy_up 0\n") {
		t.Fatalf("proxy_up:\n%s", text)
	}
	// The window: only the last minute.
	if got := c.App("shop", 1); len(got.Points) != 3 {
		t.Fatalf("1 minute: %d points", len(got.Points))
	}
	clk.t = clk.t.Add(2 * time.Minute)
	if got := c.App("shop", 1); len(got.Points) != 0 {
		t.Fatalf("1 minute, 2 later: %d points", len(got.Points))
	}
}

// TestForgetsApps: an app seen nowhere for the retention goes.
func TestForgetsApps(t *testing.T) {
	t.Parallel()
	p := &fakeProxy{snap: proxy.Snapshot{Epoch: "a", Enabled: true}}
	p.count("old", 1, 2, 1, time.Millisecond)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := New(Config{Proxy: p, Interval: 10 * time.Second, Retention: time.Minute, Now: clk.now})
	c.Sample(context.Background())
	p.mu.Lock()
	p.snap.Apps = nil
	p.mu.Unlock()
	for range 7 {
		clk.t = clk.t.Add(10 * time.Second)
		c.Sample(context.Background())
	}
	if _, ok := c.apps["old"]; ok {
		t.Fatal("an app gone for longer than the retention is still kept")
	}
}

func promText(c *Collector) string {
	var sb strings.Builder
	w := bufio.NewWriter(&sb)
	c.WriteText(w)
	w.Flush()
	return sb.String()
}

// TestPrometheusText parses the handler's output with Prometheus' own
// parser and checks the values.
func TestPrometheusText(t *testing.T) {
	t.Parallel()
	p := &fakeProxy{snap: proxy.Snapshot{Epoch: "a", Enabled: true}}
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	eng := &fakeEngine{cs: []Container{{App: `we"ird\app`, ID: "c1", Name: "x.web.1"}}, stats: map[string]docker.ContainerStats{"c1": {Read: clk.t, MemoryBytes: 1234}}}
	c := New(Config{Proxy: p, Engine: eng, Now: clk.now})
	c.Sample(context.Background())
	p.count("shop", 3, 2, 7, 3*time.Millisecond)
	p.count("shop", 3, 4, 2, 30*time.Millisecond)
	p.count("shop", 4, 5, 1, 20*time.Second)
	clk.t = clk.t.Add(10 * time.Second)
	c.Sample(context.Background())

	text := promText(c)
	// The legacy name rules: the strictest a scraper may apply.
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := families[name]
		if f == nil {
			t.Fatalf("no family %s", name)
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("no %s %v in\n%s", name, labels, text)
		return 0
	}
	if v := value("berth_http_requests_total", map[string]string{"app": "shop", "release": "3", "code": "2xx"}); v != 7 {
		t.Fatalf("2xx: %v", v)
	}
	if v := value("berth_http_requests_total", map[string]string{"app": "shop", "release": "3", "code": "4xx"}); v != 2 {
		t.Fatalf("4xx: %v", v)
	}
	if v := value("berth_http_requests_total", map[string]string{"app": "shop", "release": "4", "code": "5xx"}); v != 1 {
		t.Fatalf("5xx: %v", v)
	}
	if v := value("berth_http_request_duration_seconds", map[string]string{"app": "shop", "release": "3"}); v != 9 {
		t.Fatalf("histogram count: %v", v)
	}
	if v := value("berth_http_response_body_bytes_total", map[string]string{"app": "shop", "release": "3"}); v != 90 {
		t.Fatalf("bytes: %v", v)
	}
	if v := value("berth_app_memory_bytes", map[string]string{"app": `we"ird\app`}); v != 1234 {
		t.Fatalf("memory: %v", v)
	}
	if v := value("berth_proxy_up", nil); v != 1 {
		t.Fatalf("proxy_up: %v", v)
	}
	h := families["berth_http_request_duration_seconds"].Metric
	for _, m := range h {
		var rel string
		for _, l := range m.Label {
			if l.GetName() == "release" {
				rel = l.GetValue()
			}
		}
		bs := m.Histogram.Bucket
		if len(bs) != numBuckets { // +Inf included
			t.Fatalf("buckets: %d", len(bs))
		}
		if rel == "3" && (bs[0].GetCumulativeCount() != 7 || bs[len(bs)-1].GetCumulativeCount() != 9) {
			t.Fatalf("release 3 buckets %v", bs)
		}
		if rel == "4" && (bs[len(bs)-2].GetCumulativeCount() != 0 || bs[len(bs)-1].GetCumulativeCount() != 1) { // 20 s: above 10 s, only in +Inf
			t.Fatalf("release 4 buckets %v", bs)
		}
	}
}

func sizeofPoint() uintptr { return unsafe.Sizeof(point{}) }

func TestHandler(t *testing.T) {
	t.Parallel()
	c := New(Config{})
	rec := httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") || !strings.Contains(rec.Body.String(), "berth_proxy_up 0\n") {
		t.Fatalf("%d %v\n%s", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}
