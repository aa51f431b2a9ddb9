package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// TestMetrics deploys the test app, sends requests through the proxy
// (200s, 400s from /ws without an upgrade, 502s from /db without a
// database), and reads them back with `berth metrics`: the counts of the
// app's release by status class, rates, and its container's memory, which
// the daemon samples from the engine.
func TestMetrics(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng, "BERTH_METRICS_INTERVAL=1s", "BERTH_STATS_INTERVAL=1s")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:set", "shop", "shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	send := func(path string, n, want int) {
		t.Helper()
		for range n {
			req, _ := http.NewRequest(http.MethodGet, "http://"+d.proxyAddr+path, nil)
			req.Host = "shop.test"
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
			}
		}
	}
	send("/", 20, 200)
	send("/ws", 3, 400)          // not an upgrade
	send("/db", 2, 502)          // no DATABASE_URL
	send("/slow?ms=120", 3, 200) // last: whatever interval they fall in, they are over 5 % of it

	// The daemon samples every second; wait until it has seen them all
	// and the container's memory.
	var m api.AppMetrics
	var rel api.ReleaseCounts
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := d.mustBerth(t, "metrics", "shop", "--format", "json")
		m = api.AppMetrics{}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("metrics --format json: %v\n%s", err, out)
		}
		rel = api.ReleaseCounts{}
		for _, r := range m.Releases {
			if r.Release == m.Release {
				rel = r
			}
		}
		mem := uint64(0)
		for _, c := range m.Containers {
			mem += c.Memory
		}
		if m.Release > 0 && rel.Status[3] == 3 && rel.Status[4] == 2 && rel.Status[1] >= 23 && mem > 0 && len(m.Points) > 0 && m.Points[len(m.Points)-1].Memory > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not show the requests and the memory in 30 s: %+v", m)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if m.App != "shop" || m.Interval != time.Second {
		t.Fatalf("metrics: %+v", m)
	}
	// Only the proxied requests were counted (nothing else goes through
	// the proxy in this test).
	if rel.Status != [5]uint64{0, 23, 0, 3, 2} || rel.Requests != 28 || rel.BytesOut == 0 {
		t.Fatalf("release %d counts: %+v", m.Release, rel)
	}
	var reqs, errs float64
	var slow bool
	for _, p := range m.Points {
		reqs += p.RequestRate * m.Interval.Seconds()
		errs += p.ErrorRate * m.Interval.Seconds()
		slow = slow || p.P95 >= 0.1
	}
	// The first sample's counts are its baseline, not a rate: the points
	// hold at most all of them.
	if reqs > 28.5 || errs > 2.5 {
		t.Fatalf("points add up to %.1f requests, %.1f errors: %+v", reqs, errs, m.Points)
	}
	if reqs >= 27.5 && !slow {
		t.Fatalf("the 120 ms requests are in no point's p95: %+v", m.Points)
	}
	if len(m.Containers) != 1 || !strings.HasSuffix(m.Containers[0].Name, "shop.web.1") {
		t.Fatalf("containers: %+v", m.Containers)
	}

	// The summary a person reads.
	out := d.mustBerth(t, "metrics", "shop")
	for _, want := range []string{
		"shop metrics",
		fmt.Sprintf("Release:              %d\n", m.Release),
		fmt.Sprintf("Release %d requests:   28 (1xx 0, 2xx 23, 3xx 0, 4xx 3, 5xx 2;", m.Release),
		"Memory:               ",
		"shop.web.1:",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("berth metrics shop: no %q in\n%s", want, out)
		}
	}
	// Prometheus text at /metrics on the HTTP API: a token of every
	// app's reads it; one limited to some apps, or none, is refused.
	listen := strings.TrimSpace(d.mustBerth(t, "dashboard:report", "--dashboard-listen"))
	admin := tokenSecret(t, d, "prometheus")
	scoped := tokenSecret(t, d, "shop-only", "--apps", "shop")
	for _, c := range []struct {
		token string
		code  int
		want  string
	}{
		{admin, 200, fmt.Sprintf(`berth_http_requests_total{app="shop",release="%d",code="2xx"} 23`, m.Release)},
		{scoped, 403, "metrics.app"},
		{"", 401, "unauthorized"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+listen+"/metrics", nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.want) {
			t.Fatalf("GET /metrics (token %.12s): %d, want %d with %q:\n%s", c.token, resp.StatusCode, c.code, c.want, b)
		}
	}

	// A new release counts apart; the old one's counts stay.
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v2"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy v2: %d\n%s", code, out)
	}
	first := m.Release
	deadline = time.Now().Add(30 * time.Second)
	for {
		m = api.AppMetrics{}
		if err := json.Unmarshal([]byte(d.mustBerth(t, "metrics", "shop", "--format", "json")), &m); err != nil {
			t.Fatal(err)
		}
		if m.Release > first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy's live release did not move past %d: %+v", first, m)
		}
		time.Sleep(500 * time.Millisecond)
	}
	send("/", 5, 200)
	deadline = time.Now().Add(30 * time.Second)
	for {
		m = api.AppMetrics{}
		if err := json.Unmarshal([]byte(d.mustBerth(t, "metrics", "shop", "--format", "json")), &m); err != nil {
			t.Fatal(err)
		}
		counts := map[int]uint64{}
		for _, r := range m.Releases {
			counts[r.Release] = r.Requests
		}
		if counts[m.Release] == 5 && counts[first] == 28 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("release %d should have 5 requests and release %d 28: %+v", m.Release, first, m.Releases)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Bad input: one line, non-zero exit.
	if out, code := d.berth("metrics", "nope"); code == 0 || !strings.Contains(out, "nope") {
		t.Fatalf("metrics of a missing app: %d\n%s", code, out)
	}
	if out, code := d.berth("metrics", "shop", "--minutes", "x"); code == 0 || !strings.Contains(out, "--minutes") {
		t.Fatalf("metrics --minutes x: %d\n%s", code, out)
	}
}
