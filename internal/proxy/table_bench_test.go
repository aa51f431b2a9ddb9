package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
)

// BenchmarkSetRouteLargeTable is one route change (a host added to one
// app) with 200 apps of 5 hosts each in the table, the table persisted to
// its state file as in production.
func BenchmarkSetRouteLargeTable(b *testing.B) {
	for _, persist := range []bool{true, false} {
		b.Run(fmt.Sprintf("persist=%v", persist), func(b *testing.B) {
			cfg := Config{Log: slog.New(slog.DiscardHandler)}
			if persist {
				cfg.StateFile = filepath.Join(b.TempDir(), "routes.json")
			}
			s := newServer(context.Background(), cfg)
			var routes []Route
			for i := range 200 {
				r := Route{App: fmt.Sprintf("app%03d", i), Targets: []Target{{Addr: fmt.Sprintf("127.0.0.1:%d", 20000+i), Container: "web.1"}}}
				for k := range 5 {
					r.Hosts = append(r.Hosts, fmt.Sprintf("app%03d-%d.example.com", i, k))
				}
				routes = append(routes, r)
			}
			if err := s.replace(routes); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r := routes[i%200]
				r.Hosts = append(append([]string{}, r.Hosts...), fmt.Sprintf("new%d.example.com", i))
				if err := s.setRoute(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
