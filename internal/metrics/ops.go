package metrics

import (
	"context"
	"sort"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// Register adds the metrics operations to mux: metrics.app.
func (c *Collector) Register(mux *api.Mux) {
	api.Handle(mux, api.MetricsApp, func(ctx context.Context, req api.MetricsRequest, _ api.Output) (api.AppMetrics, error) {
		if req.App == "" {
			return api.AppMetrics{}, api.Errorf(api.CodeInvalid, "Please specify an app to run the command on")
		}
		if req.Minutes < 0 || req.Minutes > 24*60 {
			return api.AppMetrics{}, api.Errorf(api.CodeInvalid, "minutes must be from 1 to 1440 (24 h), not %d", req.Minutes)
		}
		if c.cfg.Apps != nil {
			if err := c.cfg.Apps.Check(ctx, req.App); err != nil {
				return api.AppMetrics{}, err
			}
		}
		return c.App(req.App, req.Minutes), nil
	})
}

// App returns an app's metrics over the last minutes (0: 60). An app
// with nothing sampled yet has no points.
func (c *Collector) App(app string, minutes int) api.AppMetrics {
	if minutes <= 0 {
		minutes = 60
	}
	out := api.AppMetrics{App: app, Interval: c.cfg.Interval, Releases: []api.ReleaseCounts{}, Points: []api.MetricsPoint{}, Containers: []api.ContainerUsage{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apps[app]
	if a == nil {
		return out
	}
	out.Release = a.live
	for rel, t := range a.releases {
		if t.requests() == 0 { // routed, never asked (the route before the first deploy)
			continue
		}
		out.Releases = append(out.Releases, api.ReleaseCounts{Release: rel, Requests: t.requests(), Status: t.status, BytesIn: t.bytesIn, BytesOut: t.bytesOut})
	}
	sort.Slice(out.Releases, func(i, j int) bool { return out.Releases[i].Release < out.Releases[j].Release })
	from := c.cfg.Now().Add(-time.Duration(minutes) * time.Minute)
	for _, p := range a.ring.since(unix(from)) {
		out.Points = append(out.Points, api.MetricsPoint{
			Time: time.Unix(int64(p.t), 0).UTC(), RequestRate: float64(p.req), ErrorRate: float64(p.err),
			P50: float64(p.p50), P95: float64(p.p95), CPU: float64(p.cpu), Memory: uint64(p.mem),
		})
	}
	for _, cs := range a.containers {
		out.Containers = append(out.Containers, api.ContainerUsage{Name: cs.name, CPU: cs.cpu, Memory: cs.mem})
	}
	sort.Slice(out.Containers, func(i, j int) bool { return out.Containers[i].Name < out.Containers[j].Name })
	return out
}
