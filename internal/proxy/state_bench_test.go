package proxy

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkSaveState is the proxy's state file written with 200 routes of
// 5 hosts and a target each (bench/scale's table).
func BenchmarkSaveState(b *testing.B) {
	var routes []Route
	for i := range 200 {
		r := Route{App: fmt.Sprintf("s%03d", i), Targets: []Target{{Addr: fmt.Sprintf("127.0.0.1:%d", 30000+i), Container: fmt.Sprintf("s%03d.web.1", i)}}}
		for k := range 5 {
			r.Hosts = append(r.Hosts, fmt.Sprintf("s%03d-%d.scale.test", i, k))
		}
		routes = append(routes, r)
	}
	path := filepath.Join(b.TempDir(), "routes.json")
	var sy stateSyncer
	for b.Loop() {
		if err := saveState(path, &sy, routes); err != nil {
			b.Fatal(err)
		}
	}
}
