package metrics

import (
	"bufio"
	"bytes"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/proxy"
)

// Handler serves the metrics as Prometheus text (exposition format
// 0.0.4), for GET /metrics. It does no authentication: whoever mounts it
// does (the daemon's HTTP API, with a token).
func (c *Collector) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if r.Method == http.MethodHead {
			return
		}
		// Rendered whole first: a slow client must not hold the lock
		// the sampler takes.
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		c.WriteText(bw)
		bw.Flush()
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		buf.WriteTo(w)
	})
}

// WriteText writes the metrics as Prometheus text: the proxy's counters
// by app, release and status class since the daemon started (counters:
// they never go down, across proxy restarts), and the apps' CPU and
// memory at the last sample (gauges).
func (c *Collector) WriteText(w *bufio.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.apps))
	for n := range c.apps {
		names = append(names, n)
	}
	sort.Strings(names)
	type rel struct {
		app, release string
		t            *totals
	}
	var rels []rel
	for _, n := range names {
		a := c.apps[n]
		nums := make([]int, 0, len(a.releases))
		for r := range a.releases {
			nums = append(nums, r)
		}
		sort.Ints(nums)
		for _, r := range nums {
			rels = append(rels, rel{n, strconv.Itoa(r), a.releases[r]})
		}
	}
	labels := func(r rel) string {
		return `app="` + escape(r.app) + `",release="` + r.release + `"`
	}

	header(w, "berth_proxy_up", "gauge", "1 if the daemon's last read of the proxy's counters worked.")
	up := "0"
	if c.proxyUp {
		up = "1"
	}
	w.WriteString("berth_proxy_up " + up + "\n")

	header(w, "berth_http_requests_total", "counter", "Requests the proxy answered, by app, release and status class (4xx includes clients that left: 499).")
	for _, r := range rels {
		for i, n := range r.t.status {
			w.WriteString("berth_http_requests_total{" + labels(r) + `,code="` + strconv.Itoa(i+1) + `xx"} ` + strconv.FormatUint(n, 10) + "\n")
		}
	}
	header(w, "berth_http_request_body_bytes_total", "counter", "Request body bytes the proxy received, by app and release.")
	for _, r := range rels {
		w.WriteString("berth_http_request_body_bytes_total{" + labels(r) + "} " + strconv.FormatUint(r.t.bytesIn, 10) + "\n")
	}
	header(w, "berth_http_response_body_bytes_total", "counter", "Response body bytes the proxy sent, by app and release.")
	for _, r := range rels {
		w.WriteString("berth_http_response_body_bytes_total{" + labels(r) + "} " + strconv.FormatUint(r.t.bytesOut, 10) + "\n")
	}
	header(w, "berth_http_request_duration_seconds", "histogram", "Time from a request's arrival at the proxy to the end of its response, by app and release (upgraded connections left out).")
	for _, r := range rels {
		var cum uint64
		for i, n := range r.t.buckets {
			cum += n
			le := "+Inf"
			if i < len(proxy.LatencyBuckets) {
				le = strconv.FormatFloat(proxy.LatencyBuckets[i].Seconds(), 'g', -1, 64)
			}
			w.WriteString("berth_http_request_duration_seconds_bucket{" + labels(r) + `,le="` + le + `"} ` + strconv.FormatUint(cum, 10) + "\n")
		}
		w.WriteString("berth_http_request_duration_seconds_sum{" + labels(r) + "} " + strconv.FormatFloat(float64(r.t.latencyNanos)/1e9, 'g', -1, 64) + "\n")
		w.WriteString("berth_http_request_duration_seconds_count{" + labels(r) + "} " + strconv.FormatUint(cum, 10) + "\n")
	}
	header(w, "berth_app_cpu_cores", "gauge", "CPU time per second of an app's running containers at the last sample (1 is one core).")
	for _, n := range names {
		var cpu float64
		for _, cs := range c.apps[n].containers {
			cpu += cs.cpu
		}
		w.WriteString(`berth_app_cpu_cores{app="` + escape(n) + `"} ` + strconv.FormatFloat(cpu, 'g', 6, 64) + "\n")
	}
	header(w, "berth_app_memory_bytes", "gauge", "Memory in use by an app's running containers at the last sample (without inactive page cache, as docker stats).")
	for _, n := range names {
		var mem uint64
		for _, cs := range c.apps[n].containers {
			mem += cs.mem
		}
		w.WriteString(`berth_app_memory_bytes{app="` + escape(n) + `"} ` + strconv.FormatUint(mem, 10) + "\n")
	}
	header(w, "berth_app_containers", "gauge", "Running containers of an app at the last sample.")
	for _, n := range names {
		w.WriteString(`berth_app_containers{app="` + escape(n) + `"} ` + strconv.Itoa(len(c.apps[n].containers)) + "\n")
	}
}

func header(w *bufio.Writer, name, kind, help string) {
	w.WriteString("# HELP " + name + " " + strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help) + "\n")
	w.WriteString("# TYPE " + name + " " + kind + "\n")
}

// escape makes s a label value of the text format.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
