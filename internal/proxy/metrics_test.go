package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBucketOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {time.Millisecond, 0}, {5 * time.Millisecond, 0}, {5*time.Millisecond + 1, 1},
		{10 * time.Millisecond, 1}, {99 * time.Millisecond, 4}, {time.Second, 7},
		{10 * time.Second, 10}, {10*time.Second + 1, 11}, {time.Hour, 11},
	}
	for _, c := range cases {
		if got := bucketOf(c.d); got != c.want {
			t.Errorf("bucketOf(%v) = %d, want %d", c.d, got, c.want)
		}
	}
	if numBuckets != len(LatencyBuckets)+1 {
		t.Fatal("numBuckets")
	}
	for i := 1; i < len(LatencyBuckets); i++ {
		if LatencyBuckets[i] <= LatencyBuckets[i-1] {
			t.Fatalf("bucket bounds not increasing at %d", i)
		}
	}
}

// TestMeterConcurrent counts from many goroutines at once (run with
// -race): no count is lost.
func TestMeterConcurrent(t *testing.T) {
	t.Parallel()
	ms := newMeters(true)
	m := ms.get("shop", 4)
	const workers, each = 8, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				status := []int{101, 200, 302, 404, 503, 0, 999}[(w+i)%7]
				m.observe(status, 10, 100, time.Duration(i%20)*time.Millisecond, status == 101)
			}
		})
	}
	// Read while counting, as the daemon does.
	for range 10 {
		ms.snapshot(emptyTable())
	}
	wg.Wait()
	snap := ms.snapshot(emptyTable())
	if len(snap.Apps) != 1 {
		t.Fatalf("apps: %+v", snap.Apps)
	}
	a := snap.Apps[0]
	total := uint64(workers * each)
	if a.Requests() != total || a.BytesIn != 10*total || a.BytesOut != 100*total {
		t.Fatalf("requests %d bytes %d/%d, want %d", a.Requests(), a.BytesIn, a.BytesOut, total)
	}
	// 101 is left out of the histogram; 0 counts as 4xx, 999 as 5xx.
	var inHist uint64
	for _, b := range a.Buckets {
		inHist += b
	}
	if inHist != a.Requests()-a.Status[0] {
		t.Fatalf("histogram holds %d, want %d", inHist, a.Requests()-a.Status[0])
	}
	var want [5]uint64
	for w := range workers {
		for i := range each {
			want[[]int{0, 1, 2, 3, 4, 3, 4}[(w+i)%7]]++
		}
	}
	if a.Status != want {
		t.Fatalf("status classes %v, want %v", a.Status, want)
	}
	if a.App != "shop" || a.Release != 4 || snap.Epoch == "" || !snap.Enabled || len(snap.Bounds) != len(LatencyBuckets) {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestMetersPrune(t *testing.T) {
	t.Parallel()
	ms := newMeters(true)
	tbl := &table{config: map[string]Route{"shop": {App: "shop"}}}
	for rel := 1; rel <= 10; rel++ {
		ms.begin()
		ms.get("shop", rel)
		ms.get("gone", rel)
		ms.prune(tbl)
	}
	var got []string
	for _, a := range ms.snapshot(emptyTable()).Apps {
		got = append(got, a.App+"/"+strconv.Itoa(a.Release))
	}
	// The live release and keptReleases before it; no app without a route.
	if want := "shop/7 shop/8 shop/9 shop/10"; strings.Join(got, " ") != want {
		t.Fatalf("kept %v, want %s", got, want)
	}
	off := newMeters(false)
	if off.get("shop", 1) != nil || len(off.snapshot(emptyTable()).Apps) != 0 {
		t.Fatal("metrics off still count")
	}
}

// TestProxyCountsRequests sends requests through a running proxy and
// reads them back over the control API, by app and release: a route
// change to a new release counts apart, and keeps the old counts.
func TestProxyCountsRequests(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.Error(w, "no", http.StatusNotFound)
		case "/fail":
			http.Error(w, "fail", http.StatusInternalServerError)
		case "/slow":
			time.Sleep(30 * time.Millisecond)
			w.Write([]byte("slow"))
		default:
			w.Write([]byte("hello"))
		}
	}))
	defer backend.Close()
	p := startProxy(t, "")
	p.set(Route{App: "shop", Release: 3, Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}})
	for range 5 {
		p.get("shop.example.com", "/")
	}
	p.get("shop.example.com", "/missing")
	p.get("shop.example.com", "/fail")
	p.get("shop.example.com", "/slow")
	p.do(p.request(http.MethodPost, "shop.example.com", "/", strings.NewReader("0123456789")))
	p.get("nobody.example.com", "/") // no app: not counted
	p.set(Route{App: "shop", Release: 4, Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}})
	p.get("shop.example.com", "/")

	snap, err := p.c.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Apps) != 2 {
		t.Fatalf("apps: %+v", snap.Apps)
	}
	r3, r4 := snap.Apps[0], snap.Apps[1]
	if r3.App != "shop" || r3.Release != 3 || r4.Release != 4 {
		t.Fatalf("apps: %+v", snap.Apps)
	}
	if r3.Status != [5]uint64{0, 7, 0, 1, 1} || r3.Requests() != 9 {
		t.Fatalf("release 3 status %v", r3.Status)
	}
	if r3.BytesIn != 10 || r3.BytesOut < 5*5+4 {
		t.Fatalf("release 3 bytes in %d out %d", r3.BytesIn, r3.BytesOut)
	}
	var slow uint64
	for i, n := range r3.Buckets {
		if LatencyBuckets[min(i, len(LatencyBuckets)-1)] >= 50*time.Millisecond || i == len(LatencyBuckets) {
			slow += n
		}
	}
	if slow < 1 || r3.LatencyNanos < uint64(30*time.Millisecond) {
		t.Fatalf("the slow request is not in the histogram: %v, sum %d", r3.Buckets, r3.LatencyNanos)
	}
	if r3.Live || !r4.Live {
		t.Fatalf("live release: 3 %v, 4 %v", r3.Live, r4.Live)
	}
	if r4.Status != [5]uint64{0, 1, 0, 0, 0} {
		t.Fatalf("release 4 status %v", r4.Status)
	}
	// The route gone, its counters go.
	if err := p.c.DeleteRoute(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	if snap, _ := p.c.Metrics(context.Background()); len(snap.Apps) != 0 {
		t.Fatalf("after delete: %+v", snap.Apps)
	}
}

// TestProxyMetricsOff: with NoMetrics nothing is counted.
func TestProxyMetricsOff(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hi")) }))
	defer backend.Close()
	p := startProxy(t, "", func(c *Config) { c.NoMetrics = true })
	p.set(Route{App: "shop", Release: 1, Hosts: []string{"shop.example.com"}, Targets: []Target{target(backend, "shop.web.1")}})
	if code, _, _ := p.get("shop.example.com", "/"); code != 200 {
		t.Fatalf("status %d", code)
	}
	snap, err := p.c.Metrics(context.Background())
	if err != nil || snap.Enabled || len(snap.Apps) != 0 {
		t.Fatalf("metrics off: %+v %v", snap, err)
	}
}

// BenchmarkCount is what counting adds to a request: the clock read at
// its start, and count at its end (the clock again, five atomic
// additions), on one meter from every CPU at once, as one busy app's
// requests do. bench/proxycmp measures it whole (target
// berth-nometrics): docs/metrics.md has both.
func BenchmarkCount(b *testing.B) {
	ms := newMeters(true)
	rt := &route{meter: ms.get("shop", 1)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ex := &exchange{rt: rt, status: 200, bytes: 13}
		for pb.Next() {
			start := time.Now()
			ex.count(start)
		}
	})
}
