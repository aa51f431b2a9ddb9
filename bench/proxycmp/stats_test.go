package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := `Running 6s test @ http://localhost:8080/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms  400.00us   9.00ms   90.00%
BENCH requests=120000 errors=3 duration_us=6000000 p50_us=900 p99_us=4000 p999_us=7500
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := result{requests: 120000, errors: 3, duration: 6 * time.Second, p50: 900 * time.Microsecond, p99: 4 * time.Millisecond, p999: 7500 * time.Microsecond}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	if r.rps() != 20000 {
		t.Fatalf("rps %v, want 20000", r.rps())
	}
	for _, bad := range []string{"no line here", "BENCH requests=1 errors=0", "BENCH requests=x errors=0 duration_us=1 p50_us=1 p99_us=1 p999_us=1"} {
		if _, err := parseWrk(bad); err == nil {
			t.Errorf("parseWrk(%q) did not fail", bad)
		}
	}
}

func TestParseVegetaCSV(t *testing.T) {
	// timestamp ns, code, latency ns, bytes out, bytes in, error, body, name, seq, method, url, headers
	csv := `1000000000,200,2000000,0,13,,,,0,GET,http://localhost:1/,
1100000000,200,1000000,0,13,,,,1,GET,http://localhost:1/,
1200000000,0,5000000,0,0,"dial tcp: connection refused",,,2,GET,http://localhost:1/,
1300000000,200,3000000,0,13,,,,3,GET,http://localhost:1/,
1900000000,200,100000000,0,13,,,,4,GET,http://localhost:1/,
`
	r, err := parseVegetaCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 4 || r.errors != 1 {
		t.Fatalf("requests %d errors %d, want 4 and 1", r.requests, r.errors)
	}
	if r.duration != time.Second { // 1.0 s sent, last answer at 1.9 s + 100 ms
		t.Fatalf("duration %v, want 1s", r.duration)
	}
	if r.p50 != 2*time.Millisecond || r.p99 != 100*time.Millisecond || r.p999 != 100*time.Millisecond {
		t.Fatalf("p50 %v p99 %v p99.9 %v", r.p50, r.p99, r.p999)
	}
	if _, err := parseVegetaCSV(strings.NewReader("1,500,1\n")); err == nil {
		t.Error("no successful request: want an error")
	}
	if _, err := parseVegetaCSV(strings.NewReader("x,200,1\n")); err == nil {
		t.Error("bad timestamp: want an error")
	}
}

func TestPercentile(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 1000; i++ {
		v = append(v, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 500, 99: 990, 99.9: 999, 100: 1000, 0: 1} {
		if got := percentile(v, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty: want 0")
	}
}

func TestSummarize(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
	s := summarize([]result{
		{requests: 100, duration: time.Second, p99: 3 * time.Millisecond},
		{requests: 300, duration: time.Second, p99: 1 * time.Millisecond, errors: 2},
		{requests: 200, duration: time.Second, p99: 2 * time.Millisecond},
	})
	if s.rps != 200 || s.rpsMin != 100 || s.rpsMax != 300 || s.p99 != 0.002 || s.errors != 2 || s.runs != 3 || s.requests != 600 {
		t.Fatalf("got %+v", s)
	}
	if got := ratio(11, 22); got != "0.50×" {
		t.Errorf("ratio = %q", got)
	}
	if got := ratio(1, 0); got != "–" {
		t.Errorf("ratio without reference = %q", got)
	}
}

func TestVersionOf(t *testing.T) {
	for _, c := range []struct{ tool, out, want string }{
		{"nginx", "nginx version: nginx/1.22.1\n", "1.22.1"},
		{"caddy", "2.6.2\n", "2.6.2"},
		{"caddy", "v2.7.6 h1:abc=\n", "2.7.6"},
		{"haproxy", "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/\nStatus: ...\n", "2.6.12-1+deb12u4"},
		{"wrk", "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer\n", "debian/4.1.0-3+b2"},
		{"vegeta", "/root/go/bin/vegeta: go1.26.8\n\tpath\tgithub.com/tsenart/vegeta/v12\n\tmod\tgithub.com/tsenart/vegeta/v12\tv12.13.0\th1:x\n", "v12.13.0"},
		{"wrk", "", "(unknown)"},
	} {
		if got := versionOf(c.tool, c.out); got != c.want {
			t.Errorf("versionOf(%s, %q) = %q, want %q", c.tool, c.out, got, c.want)
		}
	}
}
