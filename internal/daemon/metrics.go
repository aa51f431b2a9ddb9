package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/metrics"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// newMetrics makes the daemon's metrics collector (package metrics): the
// proxy's counters over its control socket (none when the proxy is off)
// and, in a swarm, the other nodes' proxies' over TCP as routing reaches
// them,
// the apps' containers from the engine every BERTH_STATS_INTERVAL.
func newMetrics(st *store.Store, s settings.Settings, log *slog.Logger, engine func(context.Context) (deploy.Engine, error), withProxy bool) *metrics.Collector {
	cfg := metrics.Config{Apps: metricsApps{st}, Log: log}
	cfg.Interval, _ = time.ParseDuration(s.MetricsInterval)
	if withProxy {
		cfg.Proxy = proxy.NewClient(s.ProxySocket)
		// In a swarm, the other nodes' proxies answer the apps' requests too.
		cfg.Nodes = &metricsNodes{peers: &clusterPeers{engine: engine, dataDir: s.DataDir}}
	}
	if s.StatsInterval != "off" {
		cfg.StatsInterval, _ = time.ParseDuration(s.StatsInterval)
		cfg.Engine = metricsEngine{engine: engine, names: naming.Names{Prefix: s.NamePrefix}}
	}
	return metrics.New(cfg)
}

// MetricsHandler is the Prometheus text of the daemon's metrics, for the
// HTTP API to serve at /metrics behind its token check; nil until Run has
// made the collector.
func (svc *Service) MetricsHandler() http.Handler {
	if svc.metrics == nil {
		return nil
	}
	return svc.metrics.Handler()
}

// metricsApps answers metrics.app's question: does the app exist.
type metricsApps struct{ st *store.Store }

func (a metricsApps) Check(ctx context.Context, app string) error {
	return a.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := apierr.App(tx, app)
		return err
	})
}

// metricsEngine lists the running process containers of this instance's
// apps (web, workers; not one-off runs) and samples one.
type metricsEngine struct {
	engine func(context.Context) (deploy.Engine, error)
	names  naming.Names
}

// statsEngine is the part of the Docker client that samples containers.
type statsEngine interface {
	Stats(ctx context.Context, id string) (docker.ContainerStats, error)
}

func (m metricsEngine) AppContainers(ctx context.Context) ([]metrics.Container, error) {
	eng, err := m.engine(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := eng.ListContainers(ctx, map[string]string{naming.LabelInstance: m.names.Instance(), naming.LabelKind: naming.KindProcess}, false)
	if err != nil {
		return nil, err
	}
	out := make([]metrics.Container, 0, len(cs))
	for _, c := range cs {
		if app := c.Labels[naming.LabelApp]; app != "" {
			out = append(out, metrics.Container{App: app, ID: c.ID, Name: c.Name})
		}
	}
	return out, nil
}

func (m metricsEngine) Stats(ctx context.Context, id string) (docker.ContainerStats, error) {
	eng, err := m.engine(ctx)
	if err != nil {
		return docker.ContainerStats{}, err
	}
	se, ok := eng.(statsEngine)
	if !ok {
		return docker.ContainerStats{}, errors.New("the engine cannot sample containers")
	}
	return se.Stats(ctx, id)
}
