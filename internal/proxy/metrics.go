package proxy

import (
	"os"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

// Request metrics: each app's route counts, per release, the requests it
// answered by status class, the body bytes in and out and a histogram of
// latencies, with atomic counters in a meter the route points to. The
// route is found once per request (the table lookup every request does
// anyway), so counting costs a clock read at the start, one at the end
// and five atomic additions: no map, no lock, no allocation.
// Config.NoMetrics (BERTH_PROXY_METRICS=off) turns it off, to measure
// what it costs (bench/proxycmp, target berth-nometrics).
//
// Meters live in the server, keyed by app and release, and outlive the
// tables that point to them, so a route change does not reset them. The
// daemon reads them with Client.Metrics (GET /v1/metrics) and turns
// them into rates (package metrics); counters start at zero again when
// the proxy restarts or is replaced, which Snapshot.Epoch tells.

// LatencyBuckets are the upper bounds of the latency histogram's buckets
// (Prometheus' default buckets); a last bucket counts the slower
// requests.
var LatencyBuckets = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// numBuckets counts the histogram's buckets, the last one unbounded.
const numBuckets = len(LatencyBuckets) + 1

// keptReleases is how many releases of an app, besides the one its route
// serves, keep their meters (a rollback finds its counts again); older
// ones, and those of apps no longer routed, are dropped.
const keptReleases = 3

// meter counts the requests of one release of one app. Its fields are
// only added to; readers load them one by one (a snapshot may be a
// request apart between fields, never torn within one).
type meter struct {
	app     string
	release int

	status   [5]atomic.Uint64 // 1xx .. 5xx
	bytesIn  atomic.Uint64    // request bodies
	bytesOut atomic.Uint64    // response bodies
	latency  atomic.Uint64    // sum, nanoseconds
	buckets  [numBuckets]atomic.Uint64
	_        [64]byte // keeps the next meter off this one's last cache line
	lastUsed int      // the table generation that last listed it (server.mu)
}

// observe counts one request: its status (0: nothing was answered, the
// client left: counted as 499), body bytes and latency. upgraded
// requests (WebSockets) are counted but left out of the histogram: their
// time is the connection's.
func (m *meter) observe(status int, in, out int64, d time.Duration, upgraded bool) {
	c := status/100 - 1
	if status == 0 {
		c = 3
	} else if c < 0 || c > 4 {
		c = 4
	}
	m.status[c].Add(1)
	if in > 0 {
		m.bytesIn.Add(uint64(in))
	}
	if out > 0 {
		m.bytesOut.Add(uint64(out))
	}
	if upgraded {
		return
	}
	if d < 0 {
		d = 0
	}
	m.latency.Add(uint64(d))
	m.buckets[bucketOf(d)].Add(1)
}

// bucketOf returns the index of the histogram bucket d falls in.
func bucketOf(d time.Duration) int {
	for i, b := range LatencyBuckets {
		if d <= b {
			return i
		}
	}
	return len(LatencyBuckets)
}

// AppMetrics are the counters of one release of one app since the proxy
// started.
type AppMetrics struct {
	App     string `json:"app"`
	Release int    `json:"release"` // 0: routed without a release (not deployed)
	// Live: the release the app's route serves now.
	Live bool `json:"live,omitempty"`
	// Status counts the answered requests by class: [0] 1xx .. [4] 5xx.
	// A request whose client left before an answer counts as 4xx (499).
	Status   [5]uint64 `json:"status"`
	BytesIn  uint64    `json:"bytes_in"`  // request bodies
	BytesOut uint64    `json:"bytes_out"` // response bodies
	// Buckets counts requests by latency (time to the end of the
	// response), one per LatencyBuckets bound and one above: not
	// cumulative. Upgraded connections (WebSockets) are not in it.
	Buckets []uint64 `json:"buckets"`
	// LatencyNanos is the sum of the latencies counted in Buckets.
	LatencyNanos uint64 `json:"latency_nanos"`
}

// Requests is the number of requests counted.
func (a AppMetrics) Requests() uint64 {
	var n uint64
	for _, c := range a.Status {
		n += c
	}
	return n
}

// Snapshot is the proxy's request counters at one moment.
type Snapshot struct {
	// Epoch changes when the counters start again from zero (another
	// proxy process): counts of different epochs are not comparable.
	Epoch string `json:"epoch"`
	// Enabled is false when the proxy does not count
	// (BERTH_PROXY_METRICS=off): Apps is then empty.
	Enabled bool `json:"enabled"`
	// Bounds are LatencyBuckets in seconds, for the reader.
	Bounds []float64    `json:"bounds"`
	Apps   []AppMetrics `json:"apps"` // by app, then release
}

// meters are the server's meters by app and release. It is read and
// changed with server.mu held, except the meters' counters.
type meters struct {
	on    bool
	epoch string
	gen   int
	byKey map[meterKey]*meter
}

type meterKey struct {
	app     string
	release int
}

func newMeters(on bool) meters {
	return meters{on: on, epoch: strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36), byKey: map[meterKey]*meter{}}
}

// get returns the meter of app's release, made if need be, and marks it
// listed by the table being built (generation gen). Called with server.mu
// held; nil when metrics are off.
func (ms *meters) get(app string, release int) *meter {
	if !ms.on {
		return nil
	}
	k := meterKey{app, release}
	m := ms.byKey[k]
	if m == nil {
		m = &meter{app: app, release: release}
		ms.byKey[k] = m
	}
	m.lastUsed = ms.gen
	return m
}

// begin starts building a table: meters it lists get this generation.
func (ms *meters) begin() { ms.gen++ }

// prune drops the meters of apps the table no longer routes, and keeps
// keptReleases older releases of each routed app. Called with server.mu
// held, once a table is installed.
func (ms *meters) prune(t *table) {
	if !ms.on {
		return
	}
	old := map[string][]*meter{}
	for k, m := range ms.byKey {
		if _, routed := t.config[k.app]; !routed {
			delete(ms.byKey, k)
			continue
		}
		if m.lastUsed != ms.gen {
			old[k.app] = append(old[k.app], m)
		}
	}
	for _, list := range old {
		if len(list) <= keptReleases {
			continue
		}
		sort.Slice(list, func(i, j int) bool { return list[i].release > list[j].release })
		for _, m := range list[keptReleases:] {
			delete(ms.byKey, meterKey{m.app, m.release})
		}
	}
}

// snapshot reads every meter; those t's routes use are live. Called
// with server.mu held.
func (ms *meters) snapshot(t *table) Snapshot {
	out := Snapshot{Epoch: ms.epoch, Enabled: ms.on, Bounds: make([]float64, len(LatencyBuckets)), Apps: []AppMetrics{}}
	for i, b := range LatencyBuckets {
		out.Bounds[i] = b.Seconds()
	}
	for _, m := range ms.byKey {
		a := AppMetrics{App: m.app, Release: m.release, Buckets: make([]uint64, numBuckets)}
		if rt := t.apps[m.app]; rt != nil && rt.meter == m {
			a.Live = true
		}
		for i := range m.status {
			a.Status[i] = m.status[i].Load()
		}
		a.BytesIn, a.BytesOut, a.LatencyNanos = m.bytesIn.Load(), m.bytesOut.Load(), m.latency.Load()
		for i := range m.buckets {
			a.Buckets[i] = m.buckets[i].Load()
		}
		out.Apps = append(out.Apps, a)
	}
	sort.Slice(out.Apps, func(i, j int) bool {
		if out.Apps[i].App != out.Apps[j].App {
			return out.Apps[i].App < out.Apps[j].App
		}
		return out.Apps[i].Release < out.Apps[j].Release
	})
	return out
}

// metrics returns the server's snapshot.
func (s *server) metrics() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meters.snapshot(s.table.Load())
}

// count counts ex's request, begun at start, in its route's meter, if it
// reached an app's route.
func (ex *exchange) count(start time.Time) {
	if ex.rt == nil || ex.rt.meter == nil {
		return
	}
	ex.rt.meter.observe(ex.status, ex.body.n, ex.bytes, time.Since(start), ex.upgraded)
}
