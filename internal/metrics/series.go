package metrics

import (
	"time"

	"github.com/berthpaas/berth/internal/proxy"
)

// numBuckets is the proxy's latency histogram's size: a bucket per
// bound, and one above.
const numBuckets = len(proxy.LatencyBuckets) + 1

// point is one sample of an app, kept small: 28 bytes (see ring).
type point struct {
	t        uint32  // Unix seconds (until 2106)
	req, err float32 // requests and 5xx per second
	p50, p95 float32 // seconds
	cpu      float32 // cores
	mem      float32 // bytes (24 bits of precision: enough for a graph)
}

// ring holds an app's last points: at most max, the oldest overwritten.
// Its memory grows with the points it holds, up to max × 28 bytes
// (8,640 points, 24 h at 10 s: 242 KB), never more.
type ring struct {
	buf  []point
	next int // where the next point goes once buf is full
	max  int
}

func (r *ring) push(p point) {
	if len(r.buf) < r.max {
		if len(r.buf) == cap(r.buf) { // grow by hand: append could pass max
			nb := make([]point, len(r.buf), min(r.max, max(64, 2*len(r.buf))))
			copy(nb, r.buf)
			r.buf = nb
		}
		r.buf = append(r.buf, p)
		return
	}
	r.buf[r.next] = p
	r.next = (r.next + 1) % r.max
}

// since returns the points from Unix second t on, oldest first.
func (r *ring) since(t uint32) []point {
	var out []point
	n := len(r.buf)
	for i := range n {
		p := r.buf[(r.next+i)%n]
		if p.t >= t {
			out = append(out, p)
		}
	}
	return out
}

// last returns the newest point.
func (r *ring) last() (point, bool) {
	n := len(r.buf)
	if n == 0 {
		return point{}, false
	}
	return r.buf[(r.next+n-1)%n], true
}

// quantile estimates the q-quantile (0 < q < 1) of the latencies counted
// in buckets (not cumulative, one per bound and one above), as
// Prometheus' histogram_quantile does: linearly within the bucket the
// rank falls in; in the last, unbounded bucket, its lower bound. 0 when
// buckets count nothing.
func quantile(q float64, buckets *[numBuckets]uint64) float64 {
	var total uint64
	for _, n := range buckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum uint64
	for i, n := range buckets {
		if n == 0 || float64(cum+n) < rank {
			cum += n
			continue
		}
		if i == len(proxy.LatencyBuckets) {
			return proxy.LatencyBuckets[i-1].Seconds()
		}
		lower := 0.0
		if i > 0 {
			lower = proxy.LatencyBuckets[i-1].Seconds()
		}
		upper := proxy.LatencyBuckets[i].Seconds()
		return lower + (upper-lower)*(rank-float64(cum))/float64(n)
	}
	return proxy.LatencyBuckets[len(proxy.LatencyBuckets)-1].Seconds()
}

// totals are one release's counts since the daemon started (or since the
// proxy started, for counts it had when the daemon first read them):
// Prometheus' counters, which never go down.
type totals struct {
	status       [5]uint64
	bytesIn      uint64
	bytesOut     uint64
	latencyNanos uint64
	buckets      [numBuckets]uint64
}

func (t *totals) requests() uint64 {
	var n uint64
	for _, c := range t.status {
		n += c
	}
	return n
}

// delta returns what cur counted since prev (the same meter's earlier
// reading). A counter lower than before means the meter started again:
// all of cur is new.
func delta(prev, cur proxy.AppMetrics) totals {
	var d totals
	reset := cur.BytesIn < prev.BytesIn || cur.BytesOut < prev.BytesOut || cur.LatencyNanos < prev.LatencyNanos || len(prev.Buckets) != len(cur.Buckets)
	for i := range cur.Status {
		reset = reset || cur.Status[i] < prev.Status[i]
	}
	for i := range min(len(cur.Buckets), len(prev.Buckets)) {
		reset = reset || cur.Buckets[i] < prev.Buckets[i]
	}
	if reset {
		prev = proxy.AppMetrics{Buckets: make([]uint64, len(cur.Buckets))}
	}
	for i := range cur.Status {
		d.status[i] = cur.Status[i] - prev.Status[i]
	}
	d.bytesIn, d.bytesOut, d.latencyNanos = cur.BytesIn-prev.BytesIn, cur.BytesOut-prev.BytesOut, cur.LatencyNanos-prev.LatencyNanos
	for i := range min(len(cur.Buckets), numBuckets) {
		d.buckets[i] = cur.Buckets[i] - prev.Buckets[i]
	}
	return d
}

func (t *totals) add(d totals) {
	for i := range d.status {
		t.status[i] += d.status[i]
	}
	t.bytesIn += d.bytesIn
	t.bytesOut += d.bytesOut
	t.latencyNanos += d.latencyNanos
	for i := range d.buckets {
		t.buckets[i] += d.buckets[i]
	}
}

// unix is t in Unix seconds, as points keep it.
func unix(t time.Time) uint32 { return uint32(max(0, t.Unix())) }
