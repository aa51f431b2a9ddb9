package daemon

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/notify"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/routing"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

var _ deploy.Router = (*routing.Manager)(nil)

// newRouting builds domains, ports, certificates and the proxy's routes
// (package routing) on the daemon's store, engine and deployer. Unless
// BERTH_HTTP_ADDR is off it makes sure the proxy process runs (bin is
// `berth proxy`) and returns its status too. Failed renewals are told to
// notes (nil: to no one).
func newRouting(ctx context.Context, st *store.Store, s settings.Settings, log *slog.Logger, bin string, engine func(context.Context) (deploy.Engine, error), d *deploy.Deployer, notes *notify.Manager) (*routing.Manager, *proxy.Status, error) {
	c := routing.Config{Store: st, Backends: routingBackends{engine: engine, d: d}, Log: log, RenewalFailed: renewalFailed(notes),
		HTTPAddr: s.HTTPAddr, HTTPSAddr: s.HTTPSAddr, DataDir: s.DataDir,
		ImagePorts: func(ctx context.Context, image string) ([]int, []int, error) {
			eng, err := engine(ctx)
			if err != nil {
				return nil, nil, err
			}
			info, err := eng.InspectImage(ctx, image)
			return info.ExposedPorts, info.ExposedUDP, err
		}}
	if s.ACMECARoots != "" {
		b, err := os.ReadFile(s.ACMECARoots)
		if err != nil {
			return nil, nil, fmt.Errorf("BERTH_ACME_CA_ROOTS: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, nil, fmt.Errorf("BERTH_ACME_CA_ROOTS: no certificate in %s", s.ACMECARoots)
		}
		c.ACMERoots = pool
	}
	var status *proxy.Status
	if s.HTTPAddr != "" && s.HTTPAddr != "off" {
		env := append(os.Environ(), "BERTH_DATA_DIR="+s.DataDir, "BERTH_CONFIG="+s.ConfigFile, "BERTH_HTTP_ADDR="+s.HTTPAddr, "BERTH_HTTPS_ADDR="+s.HTTPSAddr,
			"BERTH_PROXY_SOCKET="+s.ProxySocket, "BERTH_LOG_LEVEL="+s.LogLevel, "BERTH_LOG_FORMAT="+s.LogFormat, "BERTH_ACCESS_LOG="+s.AccessLog)
		pc, st, err := routing.EnsureProxy(ctx, routing.ProxyProcess{Bin: bin, DataDir: s.DataDir, Socket: s.ProxySocket, Env: env, Log: log})
		if err != nil {
			return nil, nil, err
		}
		c.Proxy, status = pc, &st
		// In a swarm, the other nodes' proxies get the same routes.
		c.Peers = &clusterPeers{engine: engine, dataDir: s.DataDir}
		c.PeerTimeout, _ = time.ParseDuration(s.PeerTimeout)
		c.PeerResync, _ = time.ParseDuration(s.PeerResync)
	}
	return routing.New(c), status, nil
}

// routingBackends gives routing an app's running web containers (found on
// the engine by the deployer's labels) and its liveness check.
type routingBackends struct {
	engine func(context.Context) (deploy.Engine, error)
	d      *deploy.Deployer
}

func (b routingBackends) WebContainers(ctx context.Context, app string, release int) ([]routing.WebContainer, error) {
	eng, err := b.engine(ctx)
	if err != nil {
		return nil, err
	}
	labels := b.d.Names().KindLabels(app, naming.KindProcess)
	labels[naming.LabelProcess] = "web"
	labels[naming.LabelRelease] = strconv.Itoa(release)
	cs, err := eng.ListContainers(ctx, labels, false)
	if err != nil {
		return nil, err
	}
	out := make([]routing.WebContainer, 0, len(cs))
	for _, c := range cs {
		n, _ := strconv.Atoi(c.Labels[naming.LabelIndex])
		out = append(out, routing.WebContainer{Name: c.Name, Index: n, Generation: c.Labels[naming.LabelGeneration], HostPort: c.HostPort})
	}
	tasks, err := b.d.WebTasks(ctx, app, release)
	if err != nil {
		if len(out) > 0 {
			// The release runs here: the swarm not being ready (the
			// manager's engine just restarted) does not concern it.
			return out, nil
		}
		return nil, err
	}
	for _, t := range tasks {
		out = append(out, routing.WebContainer{Name: t.Dyno, Index: t.Slot, Generation: t.Generation, HostPort: t.Port, Addr: fmt.Sprintf("%s:%d", t.Addr, t.Port)})
	}
	return out, nil
}

func (b routingBackends) LivenessCheck(ctx context.Context, app, typ string) *appfile.Healthcheck {
	return b.d.LivenessCheck(ctx, app, typ)
}
