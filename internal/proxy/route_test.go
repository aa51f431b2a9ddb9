package proxy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestRequestHost(t *testing.T) {
	for in, want := range map[string]string{
		"shop.example.com":      "shop.example.com",
		"Shop.Example.COM":      "shop.example.com",
		"shop.example.com:8080": "shop.example.com",
		"shop.example.com.":     "shop.example.com",
		"shop.example.com.:443": "shop.example.com",
		"[::1]:80":              "[::1]",
		"[::1]":                 "[::1]",
		"":                      "",
		"127.0.0.1:80":          "127.0.0.1",
	} {
		if got := requestHost(in); got != want {
			t.Errorf("requestHost(%q) = %q, want %q", in, got, want)
		}
	}
	var h string
	if n := testing.AllocsPerRun(100, func() { h = requestHost("shop.example.com:80") }); n != 0 || h != "shop.example.com" {
		t.Errorf("requestHost allocates %v times", n)
	}
}

func TestValidHostPattern(t *testing.T) {
	for h, want := range map[string]bool{
		"shop.example.com":    true,
		"*.example.com":       true,
		"localhost":           true,
		"10.0.0.5":            true,
		"under_score.example": true,
		"*":                   false,
		"*.":                  false,
		"a.*.example.com":     false,
		"**.example.com":      false,
		"-a.example.com":      false,
		"a-.example.com":      false,
		"a..example.com":      false,
		"a b.example.com":     false,
		"Shop.example.com":    false, // normalizeRoute lower-cases first
		"":                    false,
	} {
		if got := validHostPattern(h); got != want {
			t.Errorf("validHostPattern(%q) = %v", h, got)
		}
	}
}

func TestNormalizeRoute(t *testing.T) {
	r, err := normalizeRoute(Route{App: "shop", Hosts: []string{"Shop.Example.com.", "shop.example.com", "*.EXAMPLE.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"shop.example.com", "*.example.com"}; !reflect.DeepEqual(r.Hosts, want) {
		t.Errorf("hosts %q, want %q", r.Hosts, want)
	}
	if r.Targets == nil {
		t.Error("nil targets: JSON would say null")
	}
}

func TestTableLookup(t *testing.T) {
	s := newServer(t.Context(), Config{}.withDefaults())
	tab, _ := s.build(map[string]Route{
		"a": {App: "a", Hosts: []string{"a.example.com"}},
		"w": {App: "w", Hosts: []string{"*.example.com"}},
		"x": {App: "x", Hosts: []string{"example.com", "*.b.example.com"}},
	}, nil)
	for host, want := range map[string]string{
		"a.example.com":   "a",
		"z.example.com":   "w",
		"example.com":     "x",
		"c.b.example.com": "x",
		"b.example.com":   "w",
		"d.c.example.com": "",
		"com":             "",
		"":                "",
	} {
		got := ""
		if v := tab.lookup(host); v != nil {
			got = v.rt.app
		}
		if got != want {
			t.Errorf("lookup(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestTableLookupRedirects(t *testing.T) {
	s := newServer(t.Context(), Config{}.withDefaults())
	tab, _ := s.build(map[string]Route{
		"a": {App: "a", Hosts: []string{"a.example.com"}, Redirects: []Redirect{{From: "www.a.example.com", To: "a.example.com"}, {From: "*.old.example", To: "a.example.com", Code: 308}}},
		"w": {App: "w", Hosts: []string{"*.a.example.com"}},
	}, nil)
	for host, want := range map[string]vhost{
		"a.example.com":     {rt: tab.apps["a"]},
		"www.a.example.com": {rt: tab.apps["a"], to: "a.example.com", code: 301}, // exact beats the wildcard
		"x.a.example.com":   {rt: tab.apps["w"]},
		"x.old.example":     {rt: tab.apps["a"], to: "a.example.com", code: 308},
	} {
		v := tab.lookup(host)
		if v == nil || v.rt != want.rt || v.to != want.to || v.code != want.code {
			t.Errorf("lookup(%q) = %+v, want %+v", host, v, want)
		}
	}
	if rt := tab.find("www.a.example.com", ""); rt != nil {
		t.Errorf("find of a redirected host: %v", rt.app)
	}
	if rt := tab.find("", "a"); rt != tab.apps["a"] {
		t.Errorf("find by app: %v", rt)
	}
}

func TestMatchHost(t *testing.T) {
	for _, c := range []struct {
		pattern, host string
		want          bool
	}{
		{"a.example.com", "a.example.com", true},
		{"a.example.com", "b.example.com", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", ".example.com", false},
	} {
		if got := matchHost(c.pattern, c.host); got != c.want {
			t.Errorf("matchHost(%q, %q) = %v", c.pattern, c.host, got)
		}
	}
}

func TestPickPrefersHealthyThenLeastLoaded(t *testing.T) {
	mk := func(load int64, healthy bool) *backend {
		b := &backend{addr: "x"}
		b.inflight.Store(load)
		if !healthy {
			p := &prober{}
			b.probe.Store(p) // healthy false
		}
		return b
	}
	rt := &route{targets: []*backend{mk(0, false), mk(5, true), mk(3, true)}}
	for range 10 {
		if i := rt.pick(""); i != 2 {
			t.Fatalf("pick = %d, want 2 (healthy, least loaded)", i)
		}
	}
	rt = &route{targets: []*backend{mk(2, false), mk(1, false)}}
	if i := rt.pick(""); i != 1 {
		t.Errorf("all unhealthy: pick = %d, want 1", i)
	}
	rt = &route{targets: []*backend{{addr: "a"}, {addr: "b"}}}
	if i := rt.pick("a"); i != 1 {
		t.Errorf("skipping a: pick = %d", i)
	}
	rt = &route{targets: []*backend{{addr: "a"}}}
	if i := rt.pick("a"); i != -1 {
		t.Errorf("skipping the only target: pick = %d", i)
	}
	if i := (&route{}).pick(""); i != -1 {
		t.Errorf("no targets: pick = %d", i)
	}
}

func TestRequestID(t *testing.T) {
	for _, id := range []string{"abc", "3f2b8c1e-6a8d-4a57-9d2b-3a0c1e2f4b5d", "Zm9vYmFy+/=", "a.b:c_d"} {
		if got := requestID(id); got != id {
			t.Errorf("requestID(%q) = %q, want it kept", id, got)
		}
	}
	a, b := requestID(""), requestID("")
	if len(a) != 32 || a == b {
		t.Errorf("generated ids %q %q", a, b)
	}
}

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.json")
	if routes, err := loadState(path); err != nil || routes != nil {
		t.Fatalf("missing file: %v %v", routes, err)
	}
	want := []Route{{App: "a", Hosts: []string{"a.example.com"}, Targets: []Target{{Addr: "127.0.0.1:5000", Container: "a.web.1"}}, Liveness: &Liveness{Path: "/up", Interval: time.Second}}}
	if err := saveState(path, &stateSyncer{}, want); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(path)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("loaded %+v %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	os.WriteFile(path, []byte(`{"version": 2, "routes": []}`), 0o600)
	if _, err := loadState(path); err == nil {
		t.Error("a newer format was read")
	}
	os.WriteFile(path, []byte(`[`), 0o600)
	var corrupt *corruptStateError
	if _, err := loadState(path); !errors.As(err, &corrupt) {
		t.Errorf("corrupt file: %v", err)
	}
	if err := saveState(filepath.Join(t.TempDir(), "missing", "routes.json"), &stateSyncer{}, want); err == nil {
		t.Error("saved into a missing directory")
	}
}
